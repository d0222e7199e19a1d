import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  insertRow,
  openPg,
  openTimescalePglite,
  readMigrations,
  type TestDb,
} from './helpers/timescale-pglite.js';
import { ADMIN_DATABASE_URL } from './helpers/backing-services.js';
import { createTestDatabase } from './helpers/run-databases.js';

interface ServerKind {
  timescale: boolean;
  pgvector: boolean;
}

const BOOT_TIMEOUT_MS = 60_000;
const TELEMETRY_TABLES = ['node_metrics', 'session_metrics', 'system_metrics', 'llm_metrics', 'system_events'];
const METRIC_TABLES = TELEMETRY_TABLES.filter((t) => t !== 'system_events');

const NODE_METRICS_HOURLY_COLUMNS = [
  { name: 'bucket', type: 'timestamp with time zone' },
  { name: 'tenant_id', type: 'uuid' },
  { name: 'node_id', type: 'uuid' },
  { name: 'metric_type', type: 'character varying(50)' },
  { name: 'avg_value', type: 'double precision' },
  { name: 'min_value', type: 'double precision' },
  { name: 'max_value', type: 'double precision' },
  { name: 'sample_count', type: 'bigint' },
];

const tenantA = randomUUID();
const tenantB = randomUUID();
const nodeA1 = randomUUID();
const nodeA2 = randomUUID();
const nodeA3 = randomUUID();
const nodeB1 = randomUUID();
// Recent hours: on a real TimescaleDB server older rows could meet the retention or compression jobs.
const HOUR_MS = 3_600_000;
const HOUR_10 = new Date(Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 3 * HOUR_MS).toISOString();
const HOUR_11 = new Date(Date.parse(HOUR_10) + HOUR_MS).toISOString();

function unitVector(weights: Record<number, number>): number[] {
  const v = new Array<number>(1536).fill(0);
  for (const [i, w] of Object.entries(weights)) v[Number(i)] = w;
  return v;
}
const chunkNear = { id: randomUUID(), embedding: unitVector({ 0: 1 }) };
const chunkMiddle = { id: randomUUID(), embedding: unitVector({ 0: 1, 1: 1 }) };
const chunkFar = { id: randomUUID(), embedding: unitVector({ 1: 1 }) };

// One instant for every fixture time, so a session's start and end are exactly the intended span apart.
const fixtureNow = Date.now();

function secondsAgo(seconds: number): string {
  return new Date(fixtureNow - seconds * 1000).toISOString();
}

/** Tenants, nodes, sessions and document chunks; foreign keys to rows the test does not care about are not checked. */
async function seedParents(db: TestDb, kind: ServerKind): Promise<void> {
  await db.exec('SET session_replication_role = replica');
  try {
    for (const [id, slug] of [[tenantA, 'a'], [tenantB, 'b']] as const) {
      await insertRow(db, 'tenants', { tenant_id: id, name: `Tenant ${slug}`, slug: `t-${slug}-${id.slice(0, 8)}` });
    }
    const nodes = [
      { node_id: nodeA1, tenant_id: tenantA, status: 'active', total_cpu_cores: 16, total_memory_gb: 64, gpu_count: 2, last_heartbeat: secondsAgo(30) },
      { node_id: nodeA2, tenant_id: tenantA, status: 'active', total_cpu_cores: 8, total_memory_gb: 32, gpu_count: 0, last_heartbeat: secondsAgo(90) },
      { node_id: nodeA3, tenant_id: tenantA, status: 'inactive', total_cpu_cores: 4, total_memory_gb: 16, gpu_count: 1, last_heartbeat: null },
      { node_id: nodeB1, tenant_id: tenantB, status: 'active', total_cpu_cores: 32, total_memory_gb: 128, gpu_count: 4, last_heartbeat: secondsAgo(10) },
    ];
    for (const node of nodes) {
      await insertRow(db, 'nodes', { ...node, hostname: `host-${node.node_id.slice(0, 8)}`, node_type: 'compute', total_storage_gb: 500 });
    }
    const sessions = [
      { tenant_id: tenantA, session_type: 'interactive', status: 'running', cpu_request: 2, memory_request_gb: 4, start_time: secondsAgo(600), end_time: null, created_at: secondsAgo(700) },
      { tenant_id: tenantA, session_type: 'interactive', status: 'running', cpu_request: 1, memory_request_gb: 2, start_time: secondsAgo(300), end_time: null, created_at: secondsAgo(400) },
      { tenant_id: tenantA, session_type: 'batch', status: 'completed', cpu_request: 4, memory_request_gb: 8, start_time: secondsAgo(5400), end_time: secondsAgo(1800), created_at: secondsAgo(5500) },
      { tenant_id: tenantA, session_type: 'batch', status: 'completed', cpu_request: 64, memory_request_gb: 256, start_time: secondsAgo(200_000), end_time: secondsAgo(190_000), created_at: secondsAgo(200_000) },
      { tenant_id: tenantB, session_type: 'batch', status: 'completed', cpu_request: 8, memory_request_gb: 16, start_time: secondsAgo(1200), end_time: secondsAgo(600), created_at: secondsAgo(1300) },
    ];
    for (const session of sessions) {
      await insertRow(db, 'sessions', { ...session, session_id: randomUUID(), session_name: 'job', priority: 1 });
    }
    const documentId = randomUUID();
    await insertRow(db, 'documents', { id: documentId, tenant_id: tenantA, title: 'doc', content: 'doc' });
    for (const [index, chunk] of [chunkFar, chunkNear, chunkMiddle].entries()) {
      const literal = kind.pgvector ? `[${chunk.embedding.join(',')}]` : `{${chunk.embedding.join(',')}}`;
      await insertRow(db, 'document_chunks', {
        id: chunk.id, tenant_id: tenantA, document_id: documentId, chunk_index: index, content: `chunk ${index}`, embedding: literal, embedding_indexed: true,
      });
    }
  } finally {
    await db.exec('SET session_replication_role = DEFAULT');
  }
}

async function insertNodeMetric(db: TestDb, tenantId: string, nodeId: string, metricType: string, time: string, value: number) {
  await db.query(
    'INSERT INTO node_metrics (time, tenant_id, node_id, metric_type, value) VALUES ($1, $2, $3, $4, $5)',
    [time, tenantId, nodeId, metricType, value],
  );
}

async function refreshHourly(db: TestDb, kind: ServerKind): Promise<void> {
  const [row] = await db.query<{ refreshed: boolean }>('SELECT refresh_node_metrics_hourly() AS refreshed');
  expect(row?.refreshed).toBe(!kind.timescale);
  if (kind.timescale) await db.exec("CALL refresh_continuous_aggregate('node_metrics_hourly', NULL, NULL)");
}

/** Rows the continuous aggregate has materialized, as opposed to computing them in real time. */
async function materializedHourlyRows(db: TestDb): Promise<number> {
  const [cagg] = await db.query<{ schema: string; name: string }>(
    `SELECT materialization_hypertable_schema::text AS schema, materialization_hypertable_name::text AS name
     FROM timescaledb_information.continuous_aggregates WHERE view_name = 'node_metrics_hourly'`,
  );
  if (cagg === undefined) throw new Error('node_metrics_hourly is not a continuous aggregate');
  const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${cagg.schema}"."${cagg.name}"`);
  return row?.n ?? 0;
}

async function hourlyRows(db: TestDb) {
  const rows = await db.query<{
    bucket: Date; tenant_id: string; node_id: string; metric_type: string;
    avg_value: number; min_value: number; max_value: number; sample_count: number;
  }>(
    `SELECT bucket, tenant_id, node_id, metric_type, avg_value, min_value, max_value, sample_count::int AS sample_count
     FROM node_metrics_hourly WHERE tenant_id IN ($1, $2) ORDER BY tenant_id = $1 DESC, bucket, metric_type`,
    [tenantA, tenantB],
  );
  return rows.map((r) => ({ ...r, bucket: new Date(r.bucket).toISOString() }));
}

async function telemetryIndexes(db: TestDb): Promise<string[]> {
  const rows = await db.query<{ def: string }>(
    `SELECT indexdef AS def FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY($1) ORDER BY indexdef`,
    [TELEMETRY_TABLES],
  );
  // A partitioned table's index reads "ON ONLY": the same index, declared on the parent.
  return rows.map((r) => r.def.replace(' ON ONLY ', ' ON '));
}

/** Everything a re-run could plausibly alter: relations, columns, indexes, constraints, functions, Timescale jobs. */
async function catalogFingerprint(db: TestDb, kind: ServerKind): Promise<string[]> {
  const rows = await db.query<{ item: string }>(`
    SELECT 'rel ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text AS item
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
    UNION ALL
    SELECT 'col ' || a.attrelid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'idx ' || indexdef FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
    UNION ALL
    SELECT 'con ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL
    SELECT 'fn ' || p.oid::regprocedure || ' ' || md5(p.prosrc) FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
    UNION ALL
    SELECT 'ext ' || extname || ' ' || extversion FROM pg_extension
    ORDER BY 1`);
  const items = rows.map((r) => r.item);
  if (kind.timescale) {
    const jobs = await db.query<{ item: string }>(
      `SELECT 'job ' || proc_name || ' ' || coalesce(hypertable_name::text, '') || ' ' || schedule_interval || ' ' || coalesce(config::text, '') AS item
       FROM timescaledb_information.jobs ORDER BY 1`,
    );
    items.push(...jobs.map((r) => r.item));
  }
  return items;
}

function defineMigrationSuite(open: () => Promise<TestDb>, kind: ServerKind): void {
  let db: TestDb;
  const notices: string[] = [];
  let indexesBeforeTimeseries: string[] = [];
  let indexesAfterTimeseries: string[] = [];

  beforeAll(async () => {
    db = await open();
    for (const migration of readMigrations()) {
      const timeseries = migration.name.endsWith('_timeseries');
      if (timeseries) indexesBeforeTimeseries = await telemetryIndexes(db);
      notices.push(...(await db.exec(migration.sql)));
      if (timeseries) indexesAfterTimeseries = await telemetryIndexes(db);
    }
    await seedParents(db, kind);
    for (const [tenantId, nodeId, type, minute, hour, value] of [
      [tenantA, nodeA1, 'cpu', 5, HOUR_10, 1],
      [tenantA, nodeA1, 'cpu', 20, HOUR_10, 2],
      [tenantA, nodeA1, 'cpu', 50, HOUR_10, 3],
      [tenantA, nodeA1, 'memory', 30, HOUR_10, 50],
      [tenantA, nodeA1, 'cpu', 10, HOUR_11, 10],
      [tenantA, nodeA1, 'cpu', 40, HOUR_11, 20],
      [tenantB, nodeB1, 'cpu', 15, HOUR_10, 7],
    ] as const) {
      await insertNodeMetric(db, tenantId, nodeId, type, new Date(Date.parse(hour) + minute * 60_000).toISOString(), value);
    }
  }, BOOT_TIMEOUT_MS);

  afterAll(async () => {
    await db?.close();
  });

  it('says which path it took', () => {
    expect(notices).toContainEqual(
      kind.timescale
        ? expect.stringMatching(/^timeseries: TimescaleDB \d.*continuous aggregate/)
        : expect.stringMatching(/^timeseries: TimescaleDB not available/),
    );
    expect(notices).toContainEqual(
      kind.pgvector
        ? expect.stringMatching(/^vector: pgvector \d.*HNSW cosine index$/)
        : expect.stringMatching(/^vector: pgvector not available/),
    );
  });

  if (kind.timescale) {
    it('turns the telemetry tables into hypertables with 1-day (metrics) and 7-day (events) chunks', async () => {
      const dims = await db.query<{ hypertable_name: string; column_name: string; time_interval: string }>(
        `SELECT hypertable_name::text, column_name::text, time_interval::text
         FROM timescaledb_information.dimensions WHERE hypertable_schema = 'public' ORDER BY hypertable_name`,
      );
      expect(dims).toEqual([
        { hypertable_name: 'llm_metrics', column_name: 'timestamp', time_interval: '1 day' },
        { hypertable_name: 'node_metrics', column_name: 'time', time_interval: '1 day' },
        { hypertable_name: 'session_metrics', column_name: 'time', time_interval: '1 day' },
        { hypertable_name: 'system_events', column_name: 'timestamp', time_interval: '7 days' },
        { hypertable_name: 'system_metrics', column_name: 'timestamp', time_interval: '1 day' },
      ]);
    });

    it('schedules 30-day retention and 7-day compression on the metrics tables, 1-year retention on the hourly rollup, none on events', async () => {
      const jobs = await db.query<{ proc_name: string; hypertable_name: string; setting: string }>(
        `SELECT proc_name::text, hypertable_name::text, coalesce(config->>'drop_after', config->>'compress_after') AS setting
         FROM timescaledb_information.jobs
         WHERE hypertable_schema = 'public' AND proc_name IN ('policy_retention', 'policy_compression')
         ORDER BY proc_name, hypertable_name`,
      );
      const sorted = [...METRIC_TABLES].sort();
      expect(jobs).toEqual([
        ...sorted.map((t) => ({ proc_name: 'policy_compression', hypertable_name: t, setting: '7 days' })),
        ...[...sorted.map((t) => ({ proc_name: 'policy_retention', hypertable_name: t, setting: '30 days' })),
          { proc_name: 'policy_retention', hypertable_name: 'node_metrics_hourly', setting: '1 year' },
        ].sort((a, b) => a.hypertable_name.localeCompare(b.hypertable_name)),
      ]);
      const compressed = await db.query<{ hypertable_name: string }>(
        `SELECT hypertable_name::text FROM timescaledb_information.hypertables
         WHERE hypertable_schema = 'public' AND compression_enabled ORDER BY 1`,
      );
      expect(compressed.map((r) => r.hypertable_name)).toEqual(sorted);
    });
  } else {
    it('partitions the telemetry tables by month, with a default partition', async () => {
      const rows = await db.query<{ relname: string; relkind: string }>(
        `SELECT relname::text, relkind::text FROM pg_class
         WHERE relnamespace = 'public'::regnamespace AND relname = ANY($1) ORDER BY relname`,
        [TELEMETRY_TABLES],
      );
      expect(rows).toEqual([...TELEMETRY_TABLES].sort().map((relname) => ({ relname, relkind: 'p' })));
      const defaults = await db.query<{ name: string }>(
        `SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE c.relnamespace = 'telemetry_partitions'::regnamespace AND c.relname LIKE '%\\_default' ORDER BY 1`,
      );
      expect(defaults.map((r) => r.name)).toEqual([...TELEMETRY_TABLES].sort().map((table) => `${table}_default`));
      const [ext] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'timescaledb'`);
      expect(ext?.n).toBe(0);
    });
  }

  it('adds no index to the telemetry tables (schema.prisma declares them all)', async () => {
    expect(indexesBeforeTimeseries.length).toBeGreaterThan(0);
    expect(indexesAfterTimeseries).toEqual(indexesBeforeTimeseries);
  });

  it('gives node_metrics_hourly the same columns on every path', async () => {
    const columns = await db.query<{ name: string; type: string }>(
      `SELECT attname::text AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
       WHERE attrelid = 'public.node_metrics_hourly'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    );
    expect(columns).toEqual(NODE_METRICS_HOURLY_COLUMNS);

    if (kind.timescale) {
      const caggs = await db.query<{ view_name: string; hypertable_name: string; materialized_only: boolean }>(
        `SELECT view_name::text, hypertable_name::text, materialized_only FROM timescaledb_information.continuous_aggregates`,
      );
      expect(caggs).toEqual([{ view_name: 'node_metrics_hourly', hypertable_name: 'node_metrics', materialized_only: false }]);
      const [policy] = await db.query<{ start_offset: string; end_offset: string; schedule: string }>(
        `SELECT config->>'start_offset' AS start_offset, config->>'end_offset' AS end_offset, schedule_interval::text AS schedule
         FROM timescaledb_information.jobs
         WHERE proc_name = 'policy_refresh_continuous_aggregate' AND hypertable_name = 'node_metrics_hourly'`,
      );
      expect(policy).toEqual({ start_offset: '1 day', end_offset: '01:00:00', schedule: '01:00:00' });
    } else {
      const [view] = await db.query<{ relkind: string }>(
        `SELECT relkind::text FROM pg_class WHERE oid = 'public.node_metrics_hourly'::regclass`,
      );
      expect(view?.relkind).toBe('m');
      const unique = await db.query<{ def: string }>(
        `SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index
         WHERE indrelid = 'public.node_metrics_hourly'::regclass AND indisunique`,
      );
      expect(unique).toHaveLength(1);
      expect(unique[0]?.def).toMatch(/\(tenant_id, node_id, metric_type, bucket\)$/);
    }
  });

  it('rolls node_metrics up per tenant, node, metric and hour', async () => {
    if (kind.timescale) expect(await materializedHourlyRows(db)).toBe(0);
    await refreshHourly(db, kind);
    if (kind.timescale) expect(await materializedHourlyRows(db)).toBe(4);
    const base = { tenant_id: tenantA, node_id: nodeA1 };
    expect(await hourlyRows(db)).toEqual([
      { ...base, bucket: HOUR_10, metric_type: 'cpu', avg_value: 2, min_value: 1, max_value: 3, sample_count: 3 },
      { ...base, bucket: HOUR_10, metric_type: 'memory', avg_value: 50, min_value: 50, max_value: 50, sample_count: 1 },
      { ...base, bucket: HOUR_11, metric_type: 'cpu', avg_value: 15, min_value: 10, max_value: 20, sample_count: 2 },
      { tenant_id: tenantB, node_id: nodeB1, bucket: HOUR_10, metric_type: 'cpu', avg_value: 7, min_value: 7, max_value: 7, sample_count: 1 },
    ]);

    await insertNodeMetric(db, tenantA, nodeA1, 'cpu', new Date(Date.parse(HOUR_11) + 59 * 60_000).toISOString(), 30);
    await refreshHourly(db, kind);
    const hour11 = (await hourlyRows(db)).find((r) => r.bucket === HOUR_11 && r.tenant_id === tenantA);
    expect(hour11).toMatchObject({ avg_value: 20, min_value: 10, max_value: 30, sample_count: 3 });
  });

  if (kind.pgvector) {
    it('stores embeddings as vector of any dimension, with a partial HNSW cosine index for 1536 over indexed rows that nearest-neighbour search uses', async () => {
      const [column] = await db.query<{ type: string }>(
        `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
         WHERE attrelid = 'public.document_chunks'::regclass AND attname = 'embedding'`,
      );
      expect(column?.type).toBe('vector');
      const [index] = await db.query<{ def: string }>(
        `SELECT indexdef AS def FROM pg_indexes WHERE indexname = 'idx_document_chunks_embedding'`,
      );
      expect(index?.def).toMatch(
        /USING hnsw \(\(\(embedding\)::(public\.)?vector\(1536\)\) (public\.)?vector_cosine_ops\) WHERE \(\((public\.)?vector_dims\(embedding\) = 1536\) AND embedding_indexed\)/,
      );

      const probe = `[${unitVector({ 0: 1, 1: 0.1 }).join(',')}]`;
      const search = `SELECT id FROM document_chunks WHERE tenant_id = $2 AND vector_dims(embedding) = 1536 AND embedding_indexed ORDER BY embedding::vector(1536) <=> $1::vector(1536) LIMIT 3`;
      const ordered = await db.query<{ id: string }>(search, [probe, tenantA]);
      expect(ordered.map((r) => r.id)).toEqual([chunkNear.id, chunkMiddle.id, chunkFar.id]);

      await db.exec('SET enable_seqscan = off');
      try {
        const plan = await db.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN SELECT id FROM document_chunks WHERE vector_dims(embedding) = 1536 AND embedding_indexed ORDER BY embedding::vector(1536) <=> '${probe}'::vector(1536) LIMIT 3`,
        );
        expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toContain('idx_document_chunks_embedding');
      } finally {
        await db.exec('RESET enable_seqscan');
      }
    });
  } else {
    it('stores embeddings as real[] whose CHECK admits 1 to 4000 non-null numbers', async () => {
      const [column] = await db.query<{ type: string }>(
        `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
         WHERE attrelid = 'public.document_chunks'::regclass AND attname = 'embedding'`,
      );
      expect(column?.type).toBe('real[]');
      const indexes = await db.query<{ def: string }>(
        `SELECT indexdef AS def FROM pg_indexes WHERE tablename = 'document_chunks' AND indexdef LIKE '%USING hnsw%'`,
      );
      expect(indexes).toEqual([]);

      const [stored] = await db.query<{ n: number }>(
        'SELECT cardinality(embedding) AS n FROM document_chunks WHERE id = $1',
        [chunkNear.id],
      );
      expect(stored?.n).toBe(1536);

      const setEmbedding = (literal: string | null) =>
        db.query('UPDATE document_chunks SET embedding = $1 WHERE id = $2', [literal, chunkFar.id]);
      await expect(setEmbedding('{}')).rejects.toMatchObject({ code: '23514' });
      await expect(setEmbedding(`{NULL${',0'.repeat(1535)}}`)).rejects.toMatchObject({ code: '23514' });
      await expect(setEmbedding(`{${new Array(4001).fill(0).join(',')}}`)).rejects.toMatchObject({ code: '23514' });
      await setEmbedding('{0.1,0.2,0.3}');
      await setEmbedding(null);
      await setEmbedding(`{${chunkFar.embedding.join(',')}}`);
    });
  }

  it('refreshes cluster_summary and session_stats per tenant', async () => {
    await db.query('SELECT refresh_cluster_views()');
    const summary = await db.query<{
      tenant_id: string; total_nodes: number; active_nodes: number; total_cpu_cores: number;
      total_memory_gb: number; total_gpus: number; avg_heartbeat_age_seconds: number; refreshed_at: Date;
    }>(
      `SELECT tenant_id, total_nodes::int, active_nodes::int, total_cpu_cores::int, total_memory_gb::float8 AS total_memory_gb,
              total_gpus::int, avg_heartbeat_age_seconds, refreshed_at
       FROM cluster_summary WHERE tenant_id IN ($1, $2) ORDER BY tenant_id = $1 DESC`,
      [tenantA, tenantB],
    );
    expect(summary).toMatchObject([
      { tenant_id: tenantA, total_nodes: 3, active_nodes: 2, total_cpu_cores: 28, total_memory_gb: 112, total_gpus: 3 },
      { tenant_id: tenantB, total_nodes: 1, active_nodes: 1, total_cpu_cores: 32, total_memory_gb: 128, total_gpus: 4 },
    ]);
    expect(summary[0]?.avg_heartbeat_age_seconds).toBeGreaterThanOrEqual(60);
    expect(summary[0]?.avg_heartbeat_age_seconds).toBeLessThan(120);
    expect(summary[0]?.refreshed_at).toBeInstanceOf(Date);

    const stats = await db.query<{
      tenant_id: string; session_type: string; status: string; session_count: number;
      avg_duration_minutes: number | null; total_cpu_request: number; total_memory_request: number;
    }>(
      `SELECT tenant_id, session_type, status, session_count::int, avg_duration_minutes,
              total_cpu_request::float8 AS total_cpu_request, total_memory_request::float8 AS total_memory_request
       FROM session_stats WHERE tenant_id IN ($1, $2) ORDER BY tenant_id = $1 DESC, session_type, status`,
      [tenantA, tenantB],
    );
    expect(stats).toHaveLength(3);
    expect(stats[0]).toMatchObject({ tenant_id: tenantA, session_type: 'batch', status: 'completed', session_count: 1, total_cpu_request: 4, total_memory_request: 8 });
    expect(stats[0]?.avg_duration_minutes).toBeCloseTo(60, 5);
    expect(stats[1]).toMatchObject({ tenant_id: tenantA, session_type: 'interactive', status: 'running', session_count: 2, avg_duration_minutes: null, total_cpu_request: 3, total_memory_request: 6 });
    expect(stats[2]).toMatchObject({ tenant_id: tenantB, session_type: 'batch', status: 'completed', session_count: 1, total_cpu_request: 8, total_memory_request: 16 });
    expect(stats[2]?.avg_duration_minutes).toBeCloseTo(10, 5);

    await db.exec('REFRESH MATERIALIZED VIEW CONCURRENTLY cluster_summary; REFRESH MATERIALIZED VIEW CONCURRENTLY session_stats');
  });

  it('changes nothing when the timeseries, vector and views migrations are applied again', async () => {
    const catalogBefore = await catalogFingerprint(db, kind);
    const hourlyBefore = await hourlyRows(db);
    const rerunNotices: string[] = [];
    for (const migration of readMigrations()) {
      if (/_(timeseries|vector|views)$/.test(migration.name)) rerunNotices.push(...(await db.exec(migration.sql)));
    }
    expect(await catalogFingerprint(db, kind)).toEqual(catalogBefore);
    expect(await hourlyRows(db)).toEqual(hourlyBefore);
    const pathNotices = (list: string[]) => list.filter((n) => /^(timeseries|vector): /.test(n));
    expect(pathNotices(rerunNotices)).toEqual(pathNotices(notices));
  });
}

describe('extension migrations on TimescaleDB + pgvector (PGlite timescaledb build)', () => {
  defineMigrationSuite(openTimescalePglite, { timescale: true, pgvector: true });
});

interface PgProbe {
  error: string | null;
  kind: ServerKind;
}

async function probePostgres(): Promise<PgProbe> {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL, connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<ServerKind>(
      `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
                AND current_setting('shared_preload_libraries') LIKE '%timescaledb%' AS timescale,
              EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') AS pgvector`,
    );
    return { error: null, kind: rows[0] ?? { timescale: false, pgvector: false } };
  } catch (error) {
    return { error: (error as Error).message, kind: { timescale: false, pgvector: false } };
  } finally {
    await client.end().catch(() => undefined);
  }
}

const pgProbe = await probePostgres();
const inCi = process.env.CI === 'true';
if (pgProbe.error !== null && !inCi) {
  console.warn(`Skipping the PostgreSQL suite: ${ADMIN_DATABASE_URL} is unreachable (${pgProbe.error}).`);
}

// The server decides the paths: Debian's PostgreSQL 15 here has neither extension, so this suite
// covers both fallbacks; a server that has them is held to the extension paths instead.
describe.skipIf(pgProbe.error !== null && !inCi)(
  `extension migrations on PostgreSQL (timescaledb: ${pgProbe.kind.timescale}, pgvector: ${pgProbe.kind.pgvector})`,
  () => {
    let database: { url: string; drop(): Promise<void> } | undefined;

    beforeAll(async () => {
      if (pgProbe.error !== null) throw new Error(`PostgreSQL at ${ADMIN_DATABASE_URL} is unreachable: ${pgProbe.error}`);
      database = await createTestDatabase('omega_ext');
    }, BOOT_TIMEOUT_MS);

    afterAll(async () => {
      await database?.drop();
    });

    defineMigrationSuite(() => openPg(database!.url), pgProbe.kind);
  },
);
