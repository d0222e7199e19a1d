/**
 * Data lifecycle figures, on the embedded database and on PostgreSQL (TEST_DATABASE_URL):
 *  - writing 1,000,000 node metric points into the month-partitioned node_metrics against a plain
 *    table of the same shape (the baseline), in one INSERT ... SELECT each;
 *  - retention of that month: dropping its partition against batched deletes of 5,000 rows (the
 *    method used where the table is plain);
 *  - db:backup and db:restore of the demo database plus those 1,000,000 points: time and size.
 *
 *   npm run bench:lifecycle
 *   BENCH_POINTS=200000 npm run bench:lifecycle
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createDatabase } from '../src/infra/db.js';
import { startEmbeddedPostgres } from '../src/infra/embedded-postgres.js';
import { applyMigrations } from '../src/infra/migrator.js';
import { MonthlyPartitions } from '../src/modules/telemetry/partitions.js';
import { backupDatabase, restoreDatabase } from '../src/ops/backup.js';
import type { DatabaseTarget } from '../src/ops/database-target.js';
import { seedDemoData } from '../src/seed.js';
import { createScratchDatabase, runPostgresTests } from '../test/helpers/backing-services.js';

const POINTS = Number(process.env.BENCH_POINTS ?? 1_000_000);
const DELETE_BATCH = 5_000;
const ms = (since: number) => performance.now() - since;
const fmt = (value: number) => `${value.toFixed(0)} ms`;

/** The first day of the month four months back: old enough for any retention setting to reach. */
function oldMonth(): Date {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 4, 1));
}

async function measure(kind: string, url: string, embedded: boolean): Promise<void> {
  const db = createDatabase(url, 4, { embedded });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await seedDemoData(db.system, { password: 'bench-password-0123' });
    const [{ tenant_id: tenantId, node_id: nodeId }] = (await client.query<{ tenant_id: string; node_id: string }>('SELECT tenant_id, node_id FROM nodes LIMIT 1')).rows as [
      { tenant_id: string; node_id: string },
    ];
    const month = oldMonth();
    await client.query('SELECT ensure_month_partition($1::regclass, $2::timestamptz)', ['public.node_metrics', month]);
    await client.query('CREATE TABLE bench_plain_node_metrics (LIKE node_metrics INCLUDING ALL)');
    // Spread over the month's first 23 days (2 s apart at 1,000,000 points): one partition holds them all.
    const spacing = (23 * 86_400) / POINTS;
    const fill = (table: string) =>
      client.query(
        `INSERT INTO ${table} (time, tenant_id, node_id, metric_type, value)
         SELECT $1::timestamptz + g * make_interval(secs => $4::float8), $2::uuid, $3::uuid, 'cpu', g % 100 FROM generate_series(1, $5::int) AS g`,
        [month, tenantId, nodeId, spacing, POINTS],
      );
    let started = performance.now();
    await fill('node_metrics');
    const partitionedWrite = ms(started);
    // The backup holds the demo data and the partitioned points only (the plain copy is filled after).
    if (!embedded) await backupAndRestore(kind, { kind: 'postgresql', url });
    started = performance.now();
    await fill('bench_plain_node_metrics');
    const plainWrite = ms(started);
    console.log(`${kind}: write ${POINTS} points: partitioned ${fmt(partitionedWrite)}, plain ${fmt(plainWrite)} (ratio ${(partitionedWrite / plainWrite).toFixed(2)})`);

    started = performance.now();
    const cutoff = new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + 1, 1));
    const dropped = await new MonthlyPartitions(db.system).dropBefore('node_metrics', cutoff);
    const partitionRetention = ms(started);
    started = performance.now();
    let batches = 0;
    for (;;) {
      const { rowCount } = await client.query(
        `DELETE FROM bench_plain_node_metrics WHERE (id, time) IN (
           SELECT id, time FROM bench_plain_node_metrics WHERE tenant_id = $1::uuid AND time < $2::timestamptz LIMIT ${DELETE_BATCH})`,
        [tenantId, cutoff],
      );
      batches += 1;
      if ((rowCount ?? 0) < DELETE_BATCH) break;
    }
    const batchedRetention = ms(started);
    console.log(
      `${kind}: retention of one month (${POINTS} rows): drop partition ${fmt(partitionRetention)} (${dropped.partitions} dropped), batched deletes ${fmt(batchedRetention)} (${batches} batches of ${DELETE_BATCH}); ${(batchedRetention / partitionRetention).toFixed(0)}x`,
    );
    await client.query('DROP TABLE bench_plain_node_metrics');
  } finally {
    await client.end();
    await db.close();
  }
}

async function backupAndRestore(kind: string, target: DatabaseTarget): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'omega-bench-'));
  try {
    const file = path.join(work, 'backup');
    const backup = await backupDatabase(target, file);
    console.log(`${kind}: db:backup of the demo database + ${POINTS} points: ${fmt(backup.ms)}, ${(backup.bytes / 1_048_576).toFixed(1)} MB`);
    let scratch: { url: string; drop(): Promise<void> } | undefined;
    const into: DatabaseTarget = target.kind === 'postgresql' ? { kind: 'postgresql' as const, url: (scratch = await createScratchDatabase('omega_bench')).url } : { kind: 'embedded' as const, dataDir: path.join(work, 'restored') };
    const restored = await restoreDatabase(into, file);
    console.log(`${kind}: db:restore into a new database: ${fmt(restored.ms)}`);
    await scratch?.drop();
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

console.log(`load average ${loadavg().map((n) => n.toFixed(2)).join(' ')}; ${POINTS} points`);

// Embedded: the backup needs the data folder closed, so it runs after the database is filled and closed.
const work = await mkdtemp(path.join(tmpdir(), 'omega-bench-embedded-'));
try {
  const dataDir = path.join(work, 'data');
  const embedded = await startEmbeddedPostgres({ dataDir });
  try {
    await applyMigrations(embedded.url);
    await measure('embedded', embedded.url, true);
    const refill = new pg.Client({ connectionString: embedded.url });
    await refill.connect();
    const month = oldMonth();
    await refill.query('SELECT ensure_month_partition($1::regclass, $2::timestamptz)', ['public.node_metrics', month]);
    await refill.query(
      `INSERT INTO node_metrics (time, tenant_id, node_id, metric_type, value)
       SELECT $1::timestamptz + g * make_interval(secs => $2::float8), n.tenant_id, n.node_id, 'cpu', g % 100
       FROM generate_series(1, $3::int) AS g, (SELECT tenant_id, node_id FROM nodes LIMIT 1) AS n`,
      [month, (23 * 86_400) / POINTS, POINTS],
    );
    await refill.end();
  } finally {
    await embedded.close();
  }
  await backupAndRestore('embedded', { kind: 'embedded', dataDir });
} finally {
  await rm(work, { recursive: true, force: true });
}

if (runPostgresTests) {
  const scratch = await createScratchDatabase('omega_bench');
  try {
    await applyMigrations(scratch.url);
    await measure('postgresql', scratch.url, false);
  } finally {
    await scratch.drop();
  }
}
console.log(`load average ${loadavg().map((n) => n.toFixed(2)).join(' ')}`);
