/**
 * Scheduler throughput and latency: scheduleSession calls over GraphQL/HTTP with many in flight,
 * and one scheduling pass over a queue of pending sessions, on the embedded database and on
 * PostgreSQL (TEST_DATABASE_URL, skipped when it does not answer).
 *
 *   npx tsx bench/scheduler.ts
 *   BENCH_SESSIONS=2000 BENCH_CONCURRENCY=64 BENCH_NODES=40 npx tsx bench/scheduler.ts
 *   BENCH_KINDS=postgres npx tsx bench/scheduler.ts      # one database kind only
 *
 * The cluster has room for half the sessions (BENCH_NODES nodes of equal size), so half the calls
 * place a session and half find no room and record why; both kinds of call are timed. After each
 * run the bench checks that no node_resources row is over-committed.
 *
 * The embedded database gets one call in flight: its socket server runs one statement at a time
 * anyway, and interleaves the protocol messages of statements sent outside a transaction (such as
 * the authenticator's) from several connections, so concurrency there measures nothing useful.
 */
import { print } from 'graphql';
import { loadConfig } from '../src/config.js';
import { SchedulePendingSessionsDocument, ScheduleSessionDocument } from '../test/generated/graphql.js';
import { aComputeNode, aRegisteredNode } from '../test/helpers/builders.js';
import { runPostgresTests } from '../test/helpers/backing-services.js';
import { startTestServer, TEST_JWT_SECRET, type DatabaseKind, type SignedInUser, type TestServer } from '../test/helpers/server.js';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 1_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const NODES = Number(process.env.BENCH_NODES ?? 20);
const QUERY = print(ScheduleSessionDocument);

/** A tenant with NODES nodes that fit SESSIONS / 2 sessions of 2 cores and 8 GB, and SESSIONS pending sessions. */
async function arrange(server: TestServer): Promise<{ operator: SignedInUser; sessionIds: string[] }> {
  const operator = await server.signIn({ role: 'operator' });
  const room = Math.ceil(SESSIONS / 2 / NODES);
  for (let i = 0; i < NODES; i += 1) {
    await aRegisteredNode(operator, aComputeNode({ hostname: `bench-${i}.test`, totalCpuCores: 2 * room, totalMemoryGb: 8 * room }));
  }
  const base = Date.now();
  // Written straight to the table: the bench times scheduling, not session creation.
  await server.db.system.session.createMany({
    data: Array.from({ length: SESSIONS }, (_, i) => ({
      tenantId: operator.tenantId,
      userId: operator.userId,
      sessionName: `bench-${i}`,
      sessionType: 'batch',
      cpuRequest: 2,
      memoryRequestGb: 8,
      maxRuntimeMinutes: 60,
      priority: 1 + (i % 10),
      createdAt: new Date(base + i),
    })),
  });
  const rows = await server.db.system.session.findMany({ where: { tenantId: operator.tenantId }, select: { id: true }, orderBy: { createdAt: 'asc' } });
  return { operator, sessionIds: rows.map((row) => Buffer.from(`Session:${row.id}`).toString('base64')) };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function overCommitted(server: TestServer): Promise<number> {
  const [row] = await server.db.system.$queryRaw<{ count: number }[]>`SELECT count(*)::int AS count FROM node_resources WHERE allocated_capacity > total_capacity`;
  return row!.count;
}

async function scheduleCalls(server: TestServer, concurrency: number): Promise<string> {
  const { operator, sessionIds } = await arrange(server);
  const latencies: number[] = [];
  const outcomes = new Map<string, number>();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < sessionIds.length) {
        const id = sessionIds[next++]!;
        const t0 = performance.now();
        const response = await fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...operator.headers },
          body: JSON.stringify({ query: QUERY, variables: { id } }),
        });
        const body = (await response.json()) as { data?: { scheduleSession: { __typename: string } }; errors?: unknown[] };
        latencies.push(performance.now() - t0);
        const outcome = body.errors ? 'GraphQL error' : body.data!.scheduleSession.__typename;
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return [
    `  scheduleSession: ${SESSIONS} calls, ${concurrency} in flight, ${NODES} nodes: ${(SESSIONS / seconds).toFixed(0)} calls/s`,
    `    latency ms p50 ${percentile(latencies, 50).toFixed(1)}  p95 ${percentile(latencies, 95).toFixed(1)}  p99 ${percentile(latencies, 99).toFixed(1)}  max ${latencies.at(-1)!.toFixed(1)}`,
    `    outcomes ${[...outcomes].map(([name, count]) => `${name}=${count}`).join(' ')}; over-committed rows: ${await overCommitted(server)}`,
  ].join('\n');
}

async function schedulingPass(server: TestServer): Promise<string> {
  const { operator } = await arrange(server);
  const started = performance.now();
  const result = await operator.request(SchedulePendingSessionsDocument, {});
  const seconds = (performance.now() - started) / 1000;
  const pass = result.data!.schedulePendingSessions;
  return `  scheduling pass: ${pass.considered} pending considered, ${pass.scheduled} placed in ${seconds.toFixed(2)} s (${(pass.considered / seconds).toFixed(0)} sessions/s); over-committed rows: ${await overCommitted(server)}`;
}

async function main(): Promise<void> {
  const kinds: DatabaseKind[] = (process.env.BENCH_KINDS?.split(',') as DatabaseKind[] | undefined) ?? (runPostgresTests ? ['pglite', 'postgres'] : ['pglite']);
  for (const kind of kinds) {
    const concurrency = kind === 'pglite' ? 1 : CONCURRENCY;
    // One user sends every call: the per-user rate limit would otherwise cut the run short.
    const auth = { ...loadConfig({}).auth, jwtSecret: TEST_JWT_SECRET, userRateLimitPerMinute: 1_000_000 };
    // No agent sends heartbeats here: nodes stay placeable for the whole run.
    const env = { HEARTBEAT_TIMEOUT_SECONDS: '86400' };
    const server = await startTestServer(kind, { jobsEnabled: false, dbPoolMax: Math.min(concurrency, 20), auth }, { env });
    try {
      console.log(`${kind}:`);
      console.log(await scheduleCalls(server, concurrency));
      console.log(await schedulingPass(server));
    } finally {
      await server.close();
    }
  }
}

await main();
