/**
 * Subscription fan-out: N graphql-ws subscribers (default 1,000, one socket each) of one tenant's
 * nodeHeartbeat on API instance A, on the embedded database (or PostgreSQL with
 * BENCH_DATABASE=postgres) with a real Redis (TEST_REDIS_URL, default redis://127.0.0.1:6379).
 * Each round sends one heartbeat and times, per subscriber, until it received the event:
 *
 *   - "mutation, same instance": the recordHeartbeat mutation goes to A, which delivers to its own
 *     subscribers at once (and publishes to Redis for other instances);
 *   - "Redis publish -> A": another process publishes the heartbeat event on Redis, as a second
 *     instance does after its mutation; A receives it from Redis and fans it out;
 *   - "mutation on B -> A" (PostgreSQL only): the mutation goes to a second instance B on the same
 *     database and Redis. PGlite serves one process, so B cannot share the embedded database.
 *
 * Server memory per subscriber is A's heap and RSS after subscribing minus before, over N, both
 * measured after a full garbage collection. A and B run in child processes; the subscribers all
 * run in this process, so the latency includes their own queueing on the same cores.
 *
 *   npm run bench:subscriptions
 *   BENCH_SUBSCRIBERS=2000 BENCH_ROUNDS=100 npm run bench:subscriptions
 *
 * Bounded: at most 5,000 subscribers and 1,000 rounds, a round waits at most 10 s, the whole run
 * at most 10 minutes; everything listens on 127.0.0.1 only.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { randomBytes } from 'node:crypto';
import { createRedisPubSub } from '../src/infra/pubsub.js';
import { Topic } from '../src/infra/topics.js';
import { OnNodeHeartbeatDocument, RecordHeartbeatDocument } from '../test/generated/graphql.js';
import { aRegisteredNode, rawId } from '../test/helpers/builders.js';
import { runPostgresTests, TEST_REDIS_URL } from '../test/helpers/backing-services.js';
import { startTestServer, type DatabaseKind } from '../test/helpers/server.js';

const DATABASE: DatabaseKind = process.env.BENCH_DATABASE === 'postgres' ? 'postgres' : 'pglite';
const SUBSCRIBERS = Math.min(Number(process.env.BENCH_SUBSCRIBERS ?? 1_000), 5_000);
const ROUNDS = Math.min(Number(process.env.BENCH_ROUNDS ?? 50), 1_000);
const ROUND_TIMEOUT_MS = 10_000;
/**
 * Subscribers connect in waves, as dashboards do over time. On the embedded database one at a
 * time: pglite-socket interleaves the protocol messages of concurrent connections outside a
 * transaction, so a burst of sign-ins fails some of them there, which is not what this measures.
 */
const CONNECT_WAVE = DATABASE === 'pglite' ? 1 : 50;
const RUN_TIMEOUT_MS = 10 * 60_000;
const COMMAND = 'npm run bench:subscriptions';
// The bench's channels are its own, whoever else uses this Redis.
process.env.PUBSUB_NAMESPACE ??= `bench-${randomBytes(4).toString('hex')}`;

type ToChild = { type: 'memory' } | { type: 'stop' };
type FromChild =
  | { type: 'ready'; url: string; rawDatabaseUrl: string; token?: string; nodeId?: string; tenantId?: string }
  | { type: 'memory'; heapUsed: number; rss: number }
  | { type: 'failed'; error: string };

/** The child side: one API instance; the first one also signs a user in and registers a node. */
async function serve(role: 'first' | 'second', databaseUrl: string | undefined): Promise<void> {
  const send = (message: FromChild) => process.send!(message);
  try {
    const server = await startTestServer(DATABASE, {
      redisUrl: TEST_REDIS_URL,
      ...(databaseUrl ? { databaseUrl } : {}),
      // The bench measures delivery, not the per-user request limit its thousand subscriptions would hit.
      auth: { userRateLimitPerMinute: 1_000_000 } as never,
    });
    let extra = {};
    if (role === 'first') {
      const user = await server.signIn({ role: 'operator' });
      extra = { token: user.token, tenantId: user.tenantId, nodeId: (await aRegisteredNode(user, { status: 'ACTIVE' })).id };
    }
    process.on('message', async (message: ToChild) => {
      if (message.type === 'memory') {
        for (let i = 0; i < 3; i += 1) global.gc?.();
        const { heapUsed, rss } = process.memoryUsage();
        send({ type: 'memory', heapUsed, rss });
      } else {
        await server.close();
        process.exit(0);
      }
    });
    // The bench's process went away (it failed, or was stopped): this instance goes too.
    process.once('disconnect', () => void server.close().finally(() => process.exit(0)));
    send({ type: 'ready', url: server.url, rawDatabaseUrl: server.rawDatabaseUrl, ...extra });
  } catch (error) {
    send({ type: 'failed', error: (error as Error).message });
    process.exit(1);
  }
}

interface Instance {
  child: ChildProcess;
  ready: Extract<FromChild, { type: 'ready' }>;
  memory(): Promise<{ heapUsed: number; rss: number }>;
  stop(): Promise<void>;
}

async function startInstance(role: 'first' | 'second', databaseUrl?: string): Promise<Instance> {
  const child = fork(process.argv[1]!, ['--serve', role, databaseUrl ?? ''], {
    execArgv: [...process.execArgv, '--expose-gc'],
    env: { ...process.env, LOG_LEVEL: 'error' },
  });
  const next = <T extends FromChild['type']>(type: T) =>
    new Promise<Extract<FromChild, { type: T }>>((resolve, reject) => {
      const onMessage = (message: FromChild) => {
        if (message.type === 'failed') reject(new Error(message.error));
        if (message.type !== type) return;
        child.off('message', onMessage);
        resolve(message as Extract<FromChild, { type: T }>);
      };
      child.on('message', onMessage);
    });
  const ready = await next('ready');
  return {
    child,
    ready,
    memory: async () => {
      const answer = next('memory');
      child.send({ type: 'memory' } satisfies ToChild);
      return answer;
    },
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'stop' } satisfies ToChild);
      await exited;
    },
  };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`bench stopped: longer than ${RUN_TIMEOUT_MS / 60_000} minutes`);
    process.exit(2);
  }, RUN_TIMEOUT_MS);
  watchdog.unref();

  if (DATABASE === 'postgres' && !runPostgresTests) throw new Error('BENCH_DATABASE=postgres but PostgreSQL does not answer at TEST_DATABASE_URL');
  const a = await startInstance('first');
  const b = DATABASE === 'postgres' ? await startInstance('second', a.ready.rawDatabaseUrl) : undefined;
  const { token, nodeId, tenantId } = a.ready as { token: string; nodeId: string; tenantId: string };
  const otherInstance = createRedisPubSub(TEST_REDIS_URL);
  const before = await a.memory();

  // Each subscriber notes when each round's heartbeat (tagged by its load) reached it.
  const receivedAt: Map<number, number>[] = Array.from({ length: SUBSCRIBERS }, () => new Map());
  let onReceipt: () => void = () => undefined;
  const clients: Client[] = [];
  const failures = new Map<string, number>();
  const failed = (error: unknown) => {
    const code = (error as { code?: number }).code;
    const reason = code !== undefined ? `closed ${code} ${(error as { reason?: string }).reason ?? ''}` : String((error as Error)?.message ?? error);
    failures.set(reason, (failures.get(reason) ?? 0) + 1);
  };
  const query = print(OnNodeHeartbeatDocument);
  for (let wave = 0; wave < SUBSCRIBERS; wave += CONNECT_WAVE) {
    const connected: Promise<void>[] = [];
    for (let i = wave; i < Math.min(wave + CONNECT_WAVE, SUBSCRIBERS); i += 1) {
      const client = createClient({
        url: a.ready.url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        connectionParams: { authorization: `Bearer ${token}` },
      });
      clients.push(client);
      connected.push(new Promise((resolve) => client.on('connected', () => resolve())));
      // All the tenant's nodes (it has one): the subscription needs no lookup of the node.
      client.subscribe<{ nodeHeartbeat: { load: number } }>(
        { query, variables: {} },
        {
          next: (result) => {
            const load = result.data?.nodeHeartbeat.load;
            if (load === undefined) return failed(new Error(JSON.stringify(result.errors)));
            receivedAt[i]!.set(load, performance.now());
            onReceipt();
          },
          error: failed,
          complete: () => undefined,
        },
      );
    }
    await Promise.race([Promise.all(connected), new Promise((resolve) => setTimeout(resolve, 30_000))]);
    if (failures.size > 0) throw new Error(`subscribers failed: ${JSON.stringify(Object.fromEntries(failures))}`);
  }

  const mutation = print(RecordHeartbeatDocument);
  const record = async (url: string, load: number) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: mutation, variables: { input: { nodeId, status: 'HEALTHY', load } } }),
    });
    const body = (await response.json()) as { data?: { recordHeartbeat?: { __typename: string } } };
    if (body.data?.recordHeartbeat?.__typename !== 'RecordHeartbeatSuccess') throw new Error(`heartbeat refused: ${JSON.stringify(body)}`);
  };
  const allReceived = (load: number) => receivedAt.every((seen) => seen.has(load));
  const untilAllReceived = (load: number, timeoutMs: number) =>
    new Promise<boolean>((resolve) => {
      if (allReceived(load)) return resolve(true);
      const timer = setTimeout(() => resolve(false), timeoutMs);
      onReceipt = () => {
        if (!allReceived(load)) return;
        clearTimeout(timer);
        resolve(true);
      };
    });

  // Warm up until every subscription is live on the server: repeat a heartbeat until all have it.
  const warmStart = performance.now();
  for (let attempt = 1; ; attempt += 1) {
    const load = 0.9 + attempt / 1_000_000;
    await record(a.ready.url, load);
    if (await untilAllReceived(load, 500)) break;
    if (performance.now() - warmStart > 120_000) throw new Error('subscribers did not all connect within 2 minutes');
  }
  const subscribedIn = performance.now() - warmStart;
  const after = await a.memory();

  const publishOnRedis = async (load: number) =>
    otherInstance.publish(Topic.NodeHeartbeatsRecorded, { tenantId, heartbeats: [{ nodeId: rawId(nodeId), status: 'healthy', load, at: new Date().toISOString() }] });
  const measure = async (label: string, send: (load: number) => Promise<unknown>, base: number) => {
    const latencies: number[] = [];
    let missed = 0;
    for (let round = 1; round <= ROUNDS; round += 1) {
      const load = (base + round) / 10_000;
      const sentAt = performance.now();
      const receipt = untilAllReceived(load, ROUND_TIMEOUT_MS);
      await send(load);
      if (!(await receipt)) missed += receivedAt.filter((seen) => !seen.has(load)).length;
      for (const seen of receivedAt) {
        const at = seen.get(load);
        if (at !== undefined) latencies.push(at - sentAt);
      }
    }
    latencies.sort((x, y) => x - y);
    return { label, samples: latencies.length, missed, median: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1)! };
  };
  const results = [
    await measure('mutation, same instance', (load) => record(a.ready.url, load), 0),
    await measure('Redis publish -> A', publishOnRedis, 3_000),
    ...(b ? [await measure('mutation on B -> A', (load) => record(b.ready.url, load), 6_000)] : []),
  ];

  await Promise.all(clients.map((client) => client.dispose()));
  await otherInstance.close();
  await b?.stop();
  await a.stop();

  const mb = (bytes: number) => (bytes / 1_048_576).toFixed(1);
  // Latency here is CPU-bound on a shared machine: say how busy it was.
  const load = loadavg().map((value) => value.toFixed(1)).join(' ');
  const kb = (bytes: number) => (bytes / 1024).toFixed(1);
  console.log(`\n$ ${COMMAND}   (BENCH_SUBSCRIBERS=${SUBSCRIBERS} BENCH_ROUNDS=${ROUNDS})`);
  console.log(`${SUBSCRIBERS} graphql-ws subscribers of nodeHeartbeat on one API instance (${DATABASE === 'pglite' ? 'embedded PGlite' : 'PostgreSQL'}, Redis ${TEST_REDIS_URL}), all live after ${(subscribedIn / 1000).toFixed(1)} s`);
  console.log(`machine: ${availableParallelism()} cores, load average ${load} (1, 5, 15 min) at the end`);
  console.log(`${ROUNDS} heartbeats per path, each timed from sending it to each subscriber's receipt:`);
  for (const r of results) {
    console.log(
      `  ${r.label.padEnd(25)} median ${r.median.toFixed(1)} ms   p99 ${r.p99.toFixed(1)} ms   max ${r.max.toFixed(1)} ms   (${r.samples} receipts, ${r.missed} missed)`,
    );
  }
  console.log(
    `server memory: heap ${mb(before.heapUsed)} -> ${mb(after.heapUsed)} MB, RSS ${mb(before.rss)} -> ${mb(after.rss)} MB; ` +
      `per subscriber: heap ${kb((after.heapUsed - before.heapUsed) / SUBSCRIBERS)} KB, RSS ${kb((after.rss - before.rss) / SUBSCRIBERS)} KB`,
  );
}

if (process.argv[2] === '--serve') {
  await serve(process.argv[3] as 'first' | 'second', process.argv[4] || undefined);
} else {
  await main();
}
