import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Prisma } from '../src/generated/prisma/client.js';
import { rawSeriesSql, rollupSeriesSql, type BucketRow } from '../src/modules/telemetry/metrics.sql.js';
import { TIMESERIES_PROBE } from '../src/modules/telemetry/timeseries.js';
import { insertRow, openTimescalePglite, readMigrations, type TestDb } from './helpers/timescale-pglite.js';

// The API's own databases (PGlite, PostgreSQL 15 here) have no TimescaleDB; this runs the series SQL
// the API would send to a TimescaleDB server on a PGlite build that has it.

const HOUR_MS = 3_600_000;
const tenantId = randomUUID();
const nodeId = randomUUID();
const start = new Date(Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 6 * HOUR_MS);

const run = async (db: TestDb, sql: Prisma.Sql) =>
  (await db.query<BucketRow>(sql.text, sql.values as unknown[])).map((row) => ({
    bucket: new Date(row.bucket).toISOString(),
    avg: row.avg,
    min: row.min,
    max: row.max,
    count: Number(row.count),
  }));

describe('series SQL on TimescaleDB', () => {
  let db: TestDb;

  beforeAll(async () => {
    db = await openTimescalePglite();
    for (const migration of readMigrations()) await db.exec(migration.sql);
    await db.exec('SET session_replication_role = replica');
    await insertRow(db, 'tenants', { tenant_id: tenantId, name: 'Tenant', slug: `t-${tenantId.slice(0, 8)}` });
    await insertRow(db, 'nodes', { node_id: nodeId, tenant_id: tenantId, hostname: 'gpu-1', node_type: 'gpu', total_cpu_cores: 8, total_memory_gb: 64, total_storage_gb: 100 });
    await db.exec('SET session_replication_role = DEFAULT');
    // 6 hours, one point every 5 minutes, value = minute of the range.
    for (let minute = 0; minute < 360; minute += 5) {
      await db.query('INSERT INTO node_metrics (time, tenant_id, node_id, metric_type, value) VALUES ($1, $2, $3, $4, $5)', [
        new Date(start.getTime() + minute * 60_000).toISOString(),
        tenantId,
        nodeId,
        'gpu_util',
        minute,
      ]);
    }
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  it('detects TimescaleDB', async () => {
    expect(await db.query(TIMESERIES_PROBE.text, TIMESERIES_PROBE.values as unknown[])).toEqual([{ timescale: true }]);
  });

  it('buckets with time_bucket exactly as date_bin does', async () => {
    const query = { nodeId, metricType: 'gpu_util', from: start, to: new Date(start.getTime() + 6 * HOUR_MS), bucketSeconds: 7_200 };
    const timeBucketSql = rawSeriesSql({ timescale: true }, tenantId, query);
    expect(timeBucketSql.text).toContain('time_bucket(');
    const withTimeBucket = await run(db, timeBucketSql);
    const withDateBin = await run(db, rawSeriesSql({ timescale: false }, tenantId, query));
    expect(withTimeBucket).toEqual(withDateBin);
    expect(withTimeBucket.reduce((sum, b) => sum + b.count, 0)).toBe(72);
    expect(Math.max(...withTimeBucket.map((b) => b.max))).toBe(355);
  });

  it('reads whole hours from the continuous aggregate and gets the raw totals', async () => {
    await db.exec("CALL refresh_continuous_aggregate('node_metrics_hourly', NULL, NULL)");
    const query = { nodeId, metricType: 'gpu_util', from: new Date(start.getTime() + 30 * 60_000), to: new Date(start.getTime() + 6 * HOUR_MS), bucketSeconds: 3_600 };
    const mixed = await run(db, rollupSeriesSql({ timescale: true }, tenantId, nodeId, query, new Date(start.getTime() + HOUR_MS), new Date(start.getTime() + 5 * HOUR_MS)));
    const raw = await run(db, rawSeriesSql({ timescale: true }, tenantId, query));
    expect(mixed.map((b) => ({ ...b, avg: Number(b.avg.toFixed(9)) }))).toEqual(raw.map((b) => ({ ...b, avg: Number(b.avg.toFixed(9)) })));
    expect(raw.reduce((sum, b) => sum + b.count, 0)).toBe(66);
  });
});
