/**
 * Metrics ingest throughput: points per second through the API (GraphQL over HTTP, batches of
 * 10,000) against writing the same points straight into node_metrics, on the embedded database
 * and on PostgreSQL (TEST_DATABASE_URL, skipped when it does not answer).
 *
 *   npm run bench:ingest                  # 100,000 points per method
 *   BENCH_POINTS=200000 npm run bench:ingest
 *
 * Baselines into the same table: the service's multi-row INSERT ... SELECT FROM unnest(...) in
 * batches of 10,000 over one owner connection of node-postgres, without HTTP, GraphQL, validation or
 * row-level security; and a plain COPY of all points in text format. On PostgreSQL the COPY is
 * COPY ... FROM STDIN through pg's own protocol messages. PGlite's socket server cannot carry
 * COPY FROM STDIN, so on the embedded database the COPY runs in process (PGlite's COPY FROM
 * '/dev/blob') on a fresh PGlite with the same migrations.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { print } from 'graphql';
import pg from 'pg';
import { IngestNodeMetricsDocument } from '../test/generated/graphql.js';
import { aRegisteredNode, rawId } from '../test/helpers/builders.js';
import { runPostgresTests } from '../test/helpers/backing-services.js';
import { readMigrations } from '../test/helpers/timescale-pglite.js';
import { startTestServer, type DatabaseKind } from '../test/helpers/server.js';

const TOTAL = Number(process.env.BENCH_POINTS ?? 100_000);
const BATCH = 10_000;
const QUERY = print(IngestNodeMetricsDocument);

interface Point {
  time: string;
  metricType: string;
  value: number;
}

/** Points of one node spread over the last day, a few metric types, deterministic values. */
function makePoints(count: number, offset: number): Point[] {
  const start = Date.now() - 86_400_000;
  return Array.from({ length: count }, (_, i) => ({
    time: new Date(start + ((offset + i) % 86_000_000)).toISOString(),
    metricType: ['gpu_util', 'gpu_mem', 'cpu_usage', 'net_rx'][i % 4]!,
    value: ((offset + i) * 7919) % 10_000 / 100,
  }));
}

/** A minimal COPY FROM STDIN for node-postgres: pg speaks the protocol, pg-copy-streams is not needed for one buffer. */
class CopyFromStdin {
  private rows = 0;
  private failed = false;
  readonly done: Promise<number>;
  private settle!: { resolve: (rows: number) => void; reject: (error: unknown) => void };

  constructor(
    private readonly sql: string,
    private readonly chunks: Buffer[],
  ) {
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
  }
  submit(connection: { query(text: string): void }) {
    connection.query(this.sql);
  }
  handleCopyInResponse(connection: { sendCopyFromChunk(chunk: Buffer): void; endCopyFrom(): void }) {
    for (const chunk of this.chunks) connection.sendCopyFromChunk(chunk);
    connection.endCopyFrom();
  }
  handleCommandComplete(message: { text: string }) {
    this.rows = Number(message.text.split(' ').pop());
  }
  handleReadyForQuery() {
    if (!this.failed) this.settle.resolve(this.rows);
  }
  handleError(error: unknown) {
    this.failed = true;
    this.settle.reject(error);
  }
  handleEmptyQuery() {}
  handleRowDescription() {}
  handleDataRow() {}
  handlePortalSuspended() {}
}

const COPY_COLUMNS = 'node_metrics (time, tenant_id, node_id, metric_type, value, unit, labels)';
const copyLines = (tenantId: string, nodeId: string, points: Point[]) =>
  points.map((p) => `${p.time}\t${tenantId}\t${nodeId}\t${p.metricType}\t${p.value}\t%\t{}\n`).join('');

async function copyOverProtocol(client: pg.Client, text: string): Promise<number> {
  const buffer = Buffer.from(text);
  const chunks = Array.from({ length: Math.ceil(buffer.length / 65_536) }, (_, i) => buffer.subarray(i * 65_536, (i + 1) * 65_536));
  return measure(async () => {
    const copy = new CopyFromStdin(`COPY ${COPY_COLUMNS} FROM STDIN`, chunks);
    void client.query(copy as never);
    const rows = await copy.done;
    if (rows !== TOTAL) throw new Error(`COPY wrote ${rows} rows`);
  });
}

/** A fresh in-process PGlite with the API's migrations, its tenant and node, then one COPY of every point. */
async function copyInProcessPglite(tenantId: string, nodeId: string, text: string): Promise<number> {
  const db = await PGlite.create({ extensions: { vector } });
  try {
    for (const migration of readMigrations()) await db.exec(migration.sql);
    await db.query('INSERT INTO tenants (tenant_id, name, slug) VALUES ($1, $2, $3)', [tenantId, 'Bench', 'bench']);
    await db.query(
      `INSERT INTO nodes (node_id, tenant_id, hostname, ip_address, node_type, total_cpu_cores, total_memory_gb, total_storage_gb)
       VALUES ($1, $2, 'bench', '10.0.0.1', 'gpu', 8, 64, 100)`,
      [nodeId, tenantId],
    );
    return await measure(async () => {
      const result = await db.query(`COPY ${COPY_COLUMNS} FROM '/dev/blob'`, [], { blob: new Blob([text]) });
      if (result.affectedRows !== TOTAL) throw new Error(`COPY wrote ${result.affectedRows} rows`);
    });
  } finally {
    await db.close();
  }
}

async function measure(run: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

interface Row {
  database: DatabaseKind;
  method: string;
  points: number;
  seconds: number;
}

async function benchDatabase(kind: DatabaseKind): Promise<Row[]> {
  const server = await startTestServer(kind, { logLevel: 'error', jobsEnabled: false });
  try {
    const agent = await server.signIn({ role: 'operator' });
    const nodeGlobalId = (await aRegisteredNode(agent)).id;
    const nodeId = rawId(nodeGlobalId);
    const body = (points: Point[]) =>
      JSON.stringify({ query: QUERY, variables: { input: { points: points.map((p) => ({ ...p, nodeId: nodeGlobalId, unit: '%' })) } } });
    const post = async (payload: string) => {
      const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: agent.headers.authorization! }, body: payload });
      const result = (await response.json()) as { data?: { ingestNodeMetrics?: { accepted?: number } }; errors?: unknown };
      if (result.data?.ingestNodeMetrics?.accepted !== BATCH) throw new Error(`ingest failed: ${JSON.stringify(result).slice(0, 500)}`);
    };
    await post(body(makePoints(BATCH, -BATCH)));

    const apiBodies = Array.from({ length: TOTAL / BATCH }, (_, b) => body(makePoints(BATCH, b * BATCH)));
    const apiSeconds = await measure(async () => {
      for (const payload of apiBodies) await post(payload);
    });

    const client = new pg.Client({ connectionString: server.rawDatabaseUrl });
    await client.connect();
    try {
      const copyText = copyLines(agent.tenantId, nodeId, makePoints(TOTAL, TOTAL));
      const copySeconds = kind === 'postgres' ? await copyOverProtocol(client, copyText) : await copyInProcessPglite(agent.tenantId, nodeId, copyText);

      const batches = Array.from({ length: TOTAL / BATCH }, (_, b) => makePoints(BATCH, 2 * TOTAL + b * BATCH));
      const insertSeconds = await measure(async () => {
        for (const points of batches) {
          await client.query(
            `INSERT INTO node_metrics (time, tenant_id, node_id, metric_type, value, unit, labels)
             SELECT u.time, $1::uuid, $2::uuid, u.metric_type, u.value, '%', '{}'::jsonb
             FROM unnest($3::timestamptz[], $4::varchar[], $5::float8[]) AS u(time, metric_type, value)`,
            [agent.tenantId, nodeId, points.map((p) => p.time), points.map((p) => p.metricType), points.map((p) => p.value)],
          );
        }
      });
      return [
        { database: kind, method: 'API: GraphQL over HTTP, 10,000/batch', points: TOTAL, seconds: apiSeconds },
        { database: kind, method: kind === 'postgres' ? 'COPY FROM STDIN, one COPY' : 'COPY, in-process PGlite, one COPY', points: TOTAL, seconds: copySeconds },
        { database: kind, method: 'INSERT ... unnest via pg, 10,000/batch', points: TOTAL, seconds: insertSeconds },
      ];
    } finally {
      await client.end();
    }
  } finally {
    await server.close();
  }
}

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const rows: Row[] = [];
for (const kind of kinds) rows.push(...(await benchDatabase(kind)));

const pad = (text: string, width: number) => text.padEnd(width);
const num = (n: number, width: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 }).padStart(width);
console.log(`\nnode_metrics ingest, ${TOTAL.toLocaleString('en-US')} points per method\n`);
console.log(`${pad('database', 10)}${pad('method', 42)}${'seconds'.padStart(9)}${'points/s'.padStart(12)}${'API / this'.padStart(12)}`);
for (const row of rows) {
  const api = rows.find((r) => r.database === row.database && r.method.startsWith('API'))!;
  const rate = row.points / row.seconds;
  console.log(`${pad(row.database, 10)}${pad(row.method, 42)}${row.seconds.toFixed(2).padStart(9)}${num(rate, 12)}${(api.points / api.seconds / rate).toFixed(2).padStart(12)}`);
}
if (!kinds.includes('postgres')) console.log('\nPostgreSQL did not answer at TEST_DATABASE_URL: only the embedded database was measured.');
process.exit(0);
