/**
 * Dashboard reads: requests per second of the API's list queries against PostGraphile 5 on the same
 * database under the same row-level security, and against the same result as one raw SQL statement.
 *
 *   npm run bench:query
 *   BENCH_SECONDS=5 BENCH_ROUNDS=3 BENCH_CONNECTIONS=50 npm run bench:query
 *   BENCH_QUERIES=nodes BENCH_TARGETS=api,raw npm run bench:query      # a subset while iterating
 *   BENCH_PROFILE=./profiles npm run bench:query                       # the API process under --cpu-prof
 *
 * One scratch database on TEST_DATABASE_URL's server (1,000 nodes x 5 resources in the dashboard
 * tenant, 500 running sessions x 3 allocations, 2,000 system events, a day of metrics, and a second
 * tenant). The API and PostGraphile run as their own processes with pools of DB_POOL_MAX (10); the
 * raw baseline is node-postgres with 10 connections as the owner, the tenant named in the WHERE
 * clause. Every target is checked to return the same rows before it is measured. Targets and
 * queries are interleaved in rounds (BENCH_ROUNDS x BENCH_SECONDS each); the median round is shown.
 * The server CPU per request of the API and PostGraphile processes and the database CPU per request
 * (PostgreSQL's processes of the bench database, for each target) are printed after the rates.
 * No response cache is on for these figures. A second API process with the response cache on
 * (RESPONSE_CACHE_TTL_MS = BENCH_CACHE_TTL_MS, default 2000) answers the nodes query in the same
 * rounds; its rate is printed on a line of its own. PostGraphile and the load generator (autocannon)
 * come from bench/peers, installed there on first use, never in the product's dependencies.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { applyMigrations } from '../src/infra/migrator.js';
import { TokenService } from '../src/modules/identity/tokens.js';
import { createScratchDatabase } from '../test/helpers/backing-services.js';
import { BENCH_METRIC, seedBenchDatabase } from './query-seed.js';
import { SERVER_FLAGS } from './server-flags.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const POOL = 10;
const PROFILE_DIR = process.env.BENCH_PROFILE;
const CACHE_TTL_MS = Number(process.env.BENCH_CACHE_TTL_MS ?? 2_000);
const JWT_SECRET = 'bench-secret-for-signing-access-tokens-0123456789';
/** 32 bytes in base64: a server on PostgreSQL needs an ENCRYPTION_KEY; the bench seals nothing with it. */
const ENCRYPTION_KEY = Buffer.alloc(32, 11).toString('base64');

const root = fileURLToPath(new URL('..', import.meta.url));
const peers = fileURLToPath(new URL('./peers/', import.meta.url));

type Target = 'api' | 'postgraphile' | 'raw';
const TARGETS = (process.env.BENCH_TARGETS?.split(',') ?? ['api', 'postgraphile', 'raw']) as Target[];

/** A row of a result reduced to what every target returns alike (enums lower case, numerics as numbers, times as ISO). */
type Plain = Record<string, unknown>;
const lower = (value: unknown) => String(value).toLowerCase();
const iso = (value: unknown) => new Date(String(value)).toISOString();

interface BenchQuery {
  name: string;
  api: { query: string; rows(data: any): Plain[] };
  postgraphile: { query: string; rows(data: any): Plain[] };
  raw: { sql: string; params: unknown[]; rows(json: any[]): Plain[] };
}

const nodeRow = (n: any, resources: any[]): Plain => ({
  hostname: n.hostname,
  status: lower(n.status),
  resources: resources.map((r) => ({ resourceType: lower(r.resourceType), totalCapacity: Number(r.totalCapacity), allocatedCapacity: Number(r.allocatedCapacity) })),
});
const sessionRow = (s: any, allocations: any[]): Plain => ({
  sessionName: s.sessionName,
  status: lower(s.status),
  cpuRequest: Number(s.cpuRequest),
  allocations: allocations.map((a) => ({ resourceType: lower(a.resourceType), allocatedAmount: Number(a.allocatedAmount), status: lower(a.status) })),
});
const eventRow = (e: any): Plain => ({ eventType: e.eventType, severity: lower(e.severity), message: e.message, timestamp: iso(e.timestamp) });
const bucketRow = (b: any): Plain => ({ bucket: iso(b.bucket), avg: Number(b.avg).toFixed(6), min: Number(b.min), max: Number(b.max), count: Number(b.count) });

function benchQueries(tenantId: string, nodeId: string, nodeGlobalId: string): BenchQuery[] {
  const to = new Date(Math.floor(Date.now() / 60_000) * 60_000);
  const from = new Date(to.getTime() - 3_600_000);
  const queries: BenchQuery[] = [
    {
      name: 'nodes(first: 50) + resources',
      api: {
        query: '{ nodes(first: 50) { edges { node { id hostname status resources { id resourceType totalCapacity allocatedCapacity } } } } }',
        rows: (d) => d.nodes.edges.map((e: any) => nodeRow(e.node, e.node.resources)),
      },
      postgraphile: {
        query: `{ allClusterNodes(first: 50, orderBy: [CREATED_AT_DESC, PRIMARY_KEY_DESC]) { edges { node { id hostname status
                  nodeResourcesByNodeId(orderBy: RESOURCE_TYPE_ASC) { nodes { id resourceType totalCapacity allocatedCapacity } } } } } }`,
        rows: (d) => d.allClusterNodes.edges.map((e: any) => nodeRow(e.node, e.node.nodeResourcesByNodeId.nodes)),
      },
      raw: {
        sql: `SELECT coalesce(json_agg(json_build_object('id', n.node_id, 'hostname', n.hostname, 'status', n.status, 'resources', r.resources)
                ORDER BY n.created_at DESC, n.node_id DESC), '[]') AS result
              FROM (SELECT node_id, hostname, status, created_at FROM nodes WHERE tenant_id = $1 ORDER BY created_at DESC, node_id DESC LIMIT 50) n
              CROSS JOIN LATERAL (
                SELECT coalesce(json_agg(json_build_object('id', r.resource_id, 'resourceType', r.resource_type,
                  'totalCapacity', r.total_capacity, 'allocatedCapacity', r.allocated_capacity) ORDER BY r.resource_type), '[]') AS resources
                FROM node_resources r WHERE r.node_id = n.node_id) r`,
        params: [tenantId],
        rows: (json) => json.map((n) => nodeRow(n, n.resources)),
      },
    },
    {
      name: 'sessions(first: 50) + allocations',
      api: {
        query: '{ sessions(first: 50) { edges { node { id sessionName status cpuRequest allocations { id resourceType allocatedAmount status } } } } }',
        rows: (d) => d.sessions.edges.map((e: any) => sessionRow(e.node, e.node.allocations)),
      },
      postgraphile: {
        query: `{ allSessions(first: 50, orderBy: [CREATED_AT_DESC, PRIMARY_KEY_DESC]) { edges { node { id sessionName status cpuRequest
                  sessionAllocationsBySessionId(orderBy: [ALLOCATION_TIME_ASC, RESOURCE_TYPE_ASC]) { nodes { id resourceType allocatedAmount status } } } } } }`,
        rows: (d) => d.allSessions.edges.map((e: any) => sessionRow(e.node, e.node.sessionAllocationsBySessionId.nodes)),
      },
      raw: {
        sql: `SELECT coalesce(json_agg(json_build_object('id', s.session_id, 'sessionName', s.session_name, 'status', s.status,
                'cpuRequest', s.cpu_request, 'allocations', a.allocations) ORDER BY s.created_at DESC, s.session_id DESC), '[]') AS result
              FROM (SELECT session_id, session_name, status, cpu_request, created_at FROM sessions WHERE tenant_id = $1
                    ORDER BY created_at DESC, session_id DESC LIMIT 50) s
              CROSS JOIN LATERAL (
                SELECT coalesce(json_agg(json_build_object('id', a.allocation_id, 'resourceType', a.resource_type,
                  'allocatedAmount', a.allocated_amount, 'status', a.status) ORDER BY a.allocation_time, a.resource_type), '[]') AS allocations
                FROM session_allocations a WHERE a.session_id = s.session_id) a`,
        params: [tenantId],
        rows: (json) => json.map((s) => sessionRow(s, s.allocations)),
      },
    },
    {
      name: 'systemEvents(first: 50)',
      api: {
        query: '{ systemEvents(first: 50) { edges { node { id eventType severity message timestamp } } } }',
        rows: (d) => d.systemEvents.edges.map((e: any) => eventRow(e.node)),
      },
      postgraphile: {
        query: '{ allSystemEvents(first: 50, orderBy: [TIMESTAMP_DESC, PRIMARY_KEY_DESC]) { edges { node { id eventType severity message timestamp } } } }',
        rows: (d) => d.allSystemEvents.edges.map((e: any) => eventRow(e.node)),
      },
      raw: {
        sql: `SELECT coalesce(json_agg(json_build_object('id', e.event_id, 'eventType', e.event_type, 'severity', e.severity,
                'message', e.message, 'timestamp', e.timestamp) ORDER BY e.timestamp DESC, e.event_id DESC), '[]') AS result
              FROM (SELECT event_id, event_type, severity, message, timestamp FROM system_events WHERE tenant_id = $1
                    ORDER BY timestamp DESC, event_id DESC LIMIT 50) e`,
        params: [tenantId],
        rows: (json) => json.map(eventRow),
      },
    },
    {
      name: 'metricSeries(1 h, 1 min buckets)',
      api: {
        query: `{ metricSeries(nodeId: "${nodeGlobalId}", metricType: "${BENCH_METRIC}", from: "${from.toISOString()}", to: "${to.toISOString()}",
                  bucket: ONE_MINUTE) { buckets { bucket avg min max count } } }`,
        rows: (d) => d.metricSeries.buckets.map(bucketRow),
      },
      postgraphile: {
        query: `{ benchMetricSeries(node: "${nodeId}", metric: "${BENCH_METRIC}", fromTime: "${from.toISOString()}", toTime: "${to.toISOString()}",
                  bucketSeconds: 60) { nodes { bucket avg min max count } } }`,
        rows: (d) => d.benchMetricSeries.nodes.map(bucketRow),
      },
      raw: {
        sql: `SELECT coalesce(json_agg(json_build_object('bucket', s.bucket, 'avg', s.avg, 'min', s.min, 'max', s.max, 'count', s.count) ORDER BY s.bucket), '[]') AS result
              FROM (SELECT date_bin(make_interval(secs => 60), m.time, '2000-01-03T00:00:00Z'::timestamptz) AS bucket,
                           avg(m.value)::float8 AS avg, min(m.value)::float8 AS min, max(m.value)::float8 AS max, count(*) AS count
                    FROM node_metrics m
                    WHERE m.tenant_id = $1 AND m.node_id = $2 AND m.metric_type = $3 AND m.time >= $4 AND m.time < $5
                    GROUP BY 1) s`,
        params: [tenantId, nodeId, BENCH_METRIC, from, to],
        rows: (json) => json.map(bucketRow),
      },
    },
  ];
  return queries.filter((q) => !process.env.BENCH_QUERIES || process.env.BENCH_QUERIES.split(',').some((name) => q.name.startsWith(name)));
}

/** Starts a server process and resolves with the first URL or port it prints. */
function startProcess(name: string, command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; ready: RegExp }): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = options.ready.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]) });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${output}`));
    });
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function postGraphQL(url: string, token: string, query: string): Promise<any> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) });
  const body = (await response.json()) as { data?: unknown; errors?: unknown };
  if (!response.ok || body.errors) throw new Error(`${url}: ${response.status} ${JSON.stringify(body.errors ?? body).slice(0, 800)}`);
  return body.data;
}

/** Whether a query sent twice is answered from the response cache the second time. */
async function cacheHit(url: string, token: string, query: string): Promise<boolean> {
  const ask = async () => {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) });
    return ((await response.json()) as { extensions?: { responseCache?: { hit?: boolean } } }).extensions?.responseCache?.hit === true;
  };
  await ask();
  return ask();
}

type Autocannon = (options: Record<string, unknown>) => Promise<{ requests: { total: number }; duration: number; errors: number; timeouts: number; non2xx: number }>;

async function httpRate(autocannon: Autocannon, url: string, token: string, query: string, seconds: number): Promise<number> {
  const result = await autocannon({
    url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  if (result.errors || result.timeouts || result.non2xx) throw new Error(`${url}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`);
  return result.requests.total / result.duration;
}

async function rawRate(pool: pg.Pool, sql: string, params: unknown[], seconds: number): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  let done = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < deadline) {
        await pool.query(sql, params);
        done += 1;
      }
    }),
  );
  return done / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** CPU seconds (user + system) a process has used so far, from /proc; undefined where there is none. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) return undefined;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU seconds spent so far by each of the database's server processes for the bench database: the
 * sessions of every target's pool. Targets run one at a time, so what these processes spend over one
 * target's run is its statements' cost in PostgreSQL (the statement listing them adds a little).
 */
async function databaseCpu(owner: pg.Pool): Promise<Map<number, number>> {
  const { rows } = await owner.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()');
  return new Map(rows.map(({ pid }) => [pid, cpuSeconds(pid) ?? 0]));
}

/** CPU seconds between two readings; a session that started in between counts from zero, one that ended is lost. */
const databaseCpuSpent = (before: Map<number, number>, after: Map<number, number>) =>
  [...after].reduce((sum, [pid, seconds]) => sum + seconds - (before.get(pid) ?? 0), 0);

const sameRows = (a: Plain[], b: Plain[]) => JSON.stringify(a) === JSON.stringify(b);
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  if (TARGETS.some((t) => t !== 'raw') && !existsSync(`${peers}node_modules/autocannon`)) {
    console.log('installing bench/peers (PostGraphile, autocannon) ...');
    const installed = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: peers, stdio: 'inherit' });
    if (installed.status !== 0) throw new Error('npm ci in bench/peers failed');
  }
  const autocannon = createRequire(`${peers}package.json`)('autocannon') as Autocannon;

  const scratch = await createScratchDatabase('omega_bench');
  const children: ChildProcess[] = [];
  const owner = new pg.Pool({ connectionString: scratch.url, max: POOL });
  // The database is dropped with FORCE at the end; an idle client losing its server is expected then.
  owner.on('error', () => undefined);
  try {
    await applyMigrations(scratch.url);
    const tenantId = randomUUID();
    const userId = randomUUID();
    const seedClient = await owner.connect();
    try {
      await seedBenchDatabase(seedClient as unknown as pg.Client, tenantId, userId, randomUUID());
    } finally {
      seedClient.release();
    }
    const { rows: [newest] } = await owner.query<{ node_id: string }>('SELECT node_id FROM nodes WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT 1', [tenantId]);
    const nodeId = newest!.node_id;
    const nodeGlobalId = Buffer.from(`ClusterNode:${nodeId}`).toString('base64');

    const env = { JWT_SECRET, ENCRYPTION_KEY, NODE_ENV: 'production', LOG_LEVEL: 'error', DATABASE_URL: scratch.url, DB_POOL_MAX: String(POOL), PORT: '0' };
    const config = loadConfig(env);
    const tokens = await TokenService.create(config.auth);
    const { token } = await tokens.issueAccessToken({ userId, tenantId, role: 'admin', sessionFamilyId: null });

    const urls: Partial<Record<Target, string>> = {};
    const pids: Partial<Record<Target, number>> = {};
    const apiEnv = { ...process.env, ...env, HOST: '127.0.0.1', MIGRATE_ON_START: 'false', SEED_ON_START: 'false', JOBS_ENABLED: 'false', GRAPHIQL: 'false', USER_RATE_LIMIT_PER_MINUTE: '1000000' };
    const apiReady = /ready at http:\/\/127\.0\.0\.1:(\d+)\//;
    let cachedUrl: string | undefined;
    if (TARGETS.includes('api')) {
      const api = await startProcess('API', process.execPath, [...SERVER_FLAGS, '--import', 'tsx', ...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []), 'src/main.ts'], {
        cwd: root,
        env: apiEnv,
        ready: apiReady,
      });
      children.push(api.child);
      pids.api = api.child.pid;
      urls.api = `http://127.0.0.1:${api.port}/graphql`;
      const cached = await startProcess('API with the response cache', process.execPath, [...SERVER_FLAGS, '--import', 'tsx', 'src/main.ts'], {
        cwd: root,
        env: { ...apiEnv, RESPONSE_CACHE_TTL_MS: String(CACHE_TTL_MS) },
        ready: apiReady,
      });
      children.push(cached.child);
      cachedUrl = `http://127.0.0.1:${cached.port}/graphql`;
    }
    if (TARGETS.includes('postgraphile')) {
      const peer = await startProcess('PostGraphile', process.execPath, ['-r', './with-resolvers.cjs', 'postgraphile-server.mjs'], {
        cwd: peers,
        env: { ...process.env, ...env },
        ready: /listening (\d+)/,
      });
      children.push(peer.child);
      pids.postgraphile = peer.child.pid;
      urls.postgraphile = `http://127.0.0.1:${peer.port}/graphql`;
    }

    const queries = benchQueries(tenantId, nodeId, nodeGlobalId);
    // The nested nodes query, as a polling dashboard repeats it: the one measured with the cache on too.
    const cachedQuery = queries.find((q) => q.name.startsWith('nodes'));
    for (const q of queries) {
      const { rows } = await owner.query<{ result: any[] }>(q.raw.sql, q.raw.params);
      const expected = q.raw.rows(rows[0]!.result);
      if (expected.length === 0) throw new Error(`${q.name}: the raw statement returned no rows`);
      for (const target of ['api', 'postgraphile'] as const) {
        const url = urls[target];
        if (!url) continue;
        const got = q[target].rows(await postGraphQL(url, token, q[target].query));
        if (!sameRows(got, expected)) throw new Error(`${q.name}: ${target} differs from raw SQL\n${JSON.stringify(got[0])}\n${JSON.stringify(expected[0])}`);
      }
      if (cachedUrl && q === cachedQuery) {
        if (!sameRows(q.api.rows(await postGraphQL(cachedUrl, token, q.api.query)), expected)) throw new Error(`${q.name}: the cached API differs from raw SQL`);
        if (!(await cacheHit(cachedUrl, token, q.api.query))) throw new Error(`${q.name}: the cached API did not answer a repeated query from its cache`);
      }
    }

    const measureOnce = (q: BenchQuery, target: Target, seconds: number) =>
      target === 'raw' ? rawRate(owner, q.raw.sql, q.raw.params, seconds) : httpRate(autocannon, urls[target]!, token, q[target].query, seconds);

    const load = [loadavg()];
    for (const q of queries) for (const target of TARGETS) await measureOnce(q, target, 2); // warm-up
    if (cachedUrl && cachedQuery) await httpRate(autocannon, cachedUrl, token, cachedQuery.api.query, 2);
    const rates = new Map<string, number[]>();
    const cachedRates: number[] = [];
    // CPU milliseconds the server process spent per request: steadier than req/s on a loaded machine.
    const cpuPerRequest = new Map<string, number[]>();
    const databaseCpuPerRequest = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const q of queries) {
        for (const target of TARGETS) {
          const cpuBefore = cpuSeconds(pids[target]);
          const databaseBefore = await databaseCpu(owner);
          const rate = await measureOnce(q, target, SECONDS);
          const cpuAfter = cpuSeconds(pids[target]);
          const databaseAfter = await databaseCpu(owner);
          rates.set(`${q.name}|${target}`, [...(rates.get(`${q.name}|${target}`) ?? []), rate]);
          databaseCpuPerRequest.set(`${q.name}|${target}`, [...(databaseCpuPerRequest.get(`${q.name}|${target}`) ?? []), (databaseCpuSpent(databaseBefore, databaseAfter) * 1000) / (rate * SECONDS)]);
          if (cpuBefore !== undefined && cpuAfter !== undefined) {
            cpuPerRequest.set(`${q.name}|${target}`, [...(cpuPerRequest.get(`${q.name}|${target}`) ?? []), ((cpuAfter - cpuBefore) * 1000) / (rate * SECONDS)]);
          }
        }
        if (cachedUrl && q === cachedQuery) cachedRates.push(await httpRate(autocannon, cachedUrl, token, q.api.query, SECONDS));
      }
      load.push(loadavg());
    }

    const pad = (text: string, width: number) => text.padEnd(width);
    const num = (n: number | undefined, width: number) => (n === undefined ? '-' : n.toFixed(0)).padStart(width);
    const ratio = (a: number | undefined, b: number | undefined, width: number) => (a && b ? (a / b).toFixed(2) : '-').padStart(width);
    console.log(`\nDashboard reads, req/s (median of ${ROUNDS} interleaved rounds of ${SECONDS} s, ${CONNECTIONS} concurrent clients, pools of ${POOL})\n`);
    console.log(`${pad('query', 36)}${'API'.padStart(8)}${'PostGraphile'.padStart(14)}${'raw SQL'.padStart(10)}${'API/PG'.padStart(9)}${'API/raw'.padStart(9)}   API rounds`);
    for (const q of queries) {
      const m = (target: Target) => (rates.has(`${q.name}|${target}`) ? median(rates.get(`${q.name}|${target}`)!) : undefined);
      const api = m('api');
      const rounds = (rates.get(`${q.name}|api`) ?? []).map((r) => r.toFixed(0)).join(' ');
      console.log(`${pad(q.name, 36)}${num(api, 8)}${num(m('postgraphile'), 14)}${num(m('raw'), 10)}${ratio(api, m('postgraphile'), 9)}${ratio(api, m('raw'), 9)}   ${rounds}`);
    }
    if (cachedQuery && cachedRates.length > 0) {
      const backend = process.env.REDIS_URL ? 'in Redis' : 'in process';
      console.log(`\n${pad(`${cachedQuery.name}, cached`, 36)}${num(median(cachedRates), 8)}   ${cachedRates.map((r) => r.toFixed(0)).join(' ')}   (response cache on, ${backend}, TTL ${CACHE_TTL_MS} ms; a separate API process, not in the table)`);
    }
    console.log(`\nServer CPU per request, ms (median; the database's own CPU not included)\n`);
    console.log(`${pad('query', 36)}${'API'.padStart(8)}${'PostGraphile'.padStart(14)}${'PG/API'.padStart(9)}`);
    for (const q of queries) {
      const c = (target: Target) => (cpuPerRequest.has(`${q.name}|${target}`) ? median(cpuPerRequest.get(`${q.name}|${target}`)!) : undefined);
      const api = c('api');
      const peer = c('postgraphile');
      console.log(`${pad(q.name, 36)}${(api?.toFixed(2) ?? '-').padStart(8)}${(peer?.toFixed(2) ?? '-').padStart(14)}${ratio(peer, api, 9)}`);
    }
    console.log(`\nDatabase CPU per request, ms (median; PostgreSQL's processes serving each target)\n`);
    console.log(`${pad('query', 36)}${'API'.padStart(8)}${'PostGraphile'.padStart(14)}${'raw SQL'.padStart(10)}`);
    for (const q of queries) {
      const c = (target: Target) => (databaseCpuPerRequest.has(`${q.name}|${target}`) ? median(databaseCpuPerRequest.get(`${q.name}|${target}`)!).toFixed(2) : '-');
      console.log(`${pad(q.name, 36)}${c('api').padStart(8)}${c('postgraphile').padStart(14)}${c('raw').padStart(10)}`);
    }
    const fmt = (l: number[]) => l.map((v) => v.toFixed(2)).join(' ');
    console.log(`\nload average (1/5/15 min): before ${fmt(load[0]!)}, after ${fmt(load.at(-1)!)}; machine: ${(await import('node:os')).cpus().length} cores`);
  } finally {
    for (const child of children) await stopProcess(child);
    await owner.end();
    await scratch.drop();
  }
}

await main();
process.exit(0);
