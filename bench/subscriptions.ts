/**
 * Subscription fan-out to the machine's limit: one API instance (PostgreSQL by default, or the
 * embedded database with BENCH_DATABASE=pglite; Redis at TEST_REDIS_URL) and N graphql-ws
 * subscribers of one tenant's nodeHeartbeat, one socket each, spread over several client processes
 * that each connect from their own loopback address (127.0.0.10, .11, ...), so the source ports of
 * one address never run out. For each step of N (BENCH_SUBSCRIBERS, e.g. 5000,10000,19900; more
 * subscribers connect between steps) one heartbeat a second is recorded through the recordHeartbeat
 * mutation, and the bench prints:
 *
 *   - p50, p99 and max delivery latency, from just before the mutation is sent to each socket's
 *     receipt (clock shared by the processes of this machine), and the deliveries missed (none
 *     within 10 s of the last round);
 *   - the mutation's own latency (p50, max): its response must not wait for the fan-out;
 *   - server heap and RSS per subscriber (after a full garbage collection, against the instance
 *     before any subscriber), and server CPU during the rounds (percent of one core), the client
 *     processes' CPU the same way, and the server's own fan-out time per event from its
 *     omega_subscription_fanout_seconds histogram (what of the latency is the server's);
 *   - the load average: clients and server share this machine's cores with whatever else runs.
 *
 *   npm run bench:subscriptions
 *   BENCH_SUBSCRIBERS=5000,10000,19900 BENCH_ROUNDS=30 npm run bench:subscriptions
 *   BENCH_PROFILE=./profiles npm run bench:subscriptions   # CPU profiles of each step's rounds: the API process's and each client process's
 *   BENCH_CLIENT=ws npm run bench:subscriptions            # subscribers on the ws library's client instead of bare frames
 *
 * The server runs with the Node flags of `npm start`. The subscribers read frames themselves
 * (bench/bare-websocket.ts): the load generator shares the cores with the server it measures, and
 * the ws library's client cost it more per delivery than the server spends.
 *
 * Bounded: at most 19,900 subscribers (the open-file limit of one process here is 20,000), 300
 * rounds, 10 s of grace after a step's last round, 20 minutes in all; loopback only.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { request } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { print } from 'graphql';
import WebSocket from 'ws';
import { BareWebSocket } from './bare-websocket.js';
import { SERVER_FLAGS } from './server-flags.js';
import { OnNodeHeartbeatDocument, RecordHeartbeatDocument } from '../test/generated/graphql.js';
import { aRegisteredNode } from '../test/helpers/builders.js';
import { runPostgresTests, TEST_REDIS_URL } from '../test/helpers/backing-services.js';
import { startTestServer, type DatabaseKind } from '../test/helpers/server.js';

const DATABASE: DatabaseKind = process.env.BENCH_DATABASE === 'pglite' || !runPostgresTests ? 'pglite' : 'postgres';
const MAX_SUBSCRIBERS = 19_900;
const STEPS = (process.env.BENCH_SUBSCRIBERS ?? '1000')
  .split(',')
  .map((step) => Math.min(Math.max(1, Math.floor(Number(step))), MAX_SUBSCRIBERS))
  .filter((step) => Number.isFinite(step))
  .sort((a, b) => a - b);
const ROUNDS = Math.min(Number(process.env.BENCH_ROUNDS ?? 30), 300);
const INTERVAL_MS = Math.max(Number(process.env.BENCH_INTERVAL_MS ?? 1_000), 50);
const CLIENT_PROCESSES = Math.min(Math.max(Number(process.env.BENCH_CLIENT_PROCESSES ?? 4), 1), 16);
/** The subscribers' WebSocket client: bare frames (bench/bare-websocket.ts, the default) or the ws library's. */
const CLIENT = process.env.BENCH_CLIENT === 'ws' ? 'ws' : 'bare';
const GRACE_MS = 10_000;
/** A folder for CPU profiles of the API and client processes during each step's rounds (summarise with bench/profile-summary.ts). */
const PROFILE_DIR = process.env.BENCH_PROFILE;
const RUN_TIMEOUT_MS = 20 * 60_000;
/** Sockets one client process opens at once while connecting. */
const CONNECT_WAVE = DATABASE === 'pglite' ? 20 : 100;
const COMMAND = 'npm run bench:subscriptions';
// The bench's channels and keys are its own, whoever else uses this Redis.
process.env.PUBSUB_NAMESPACE ??= `bench-${randomBytes(4).toString('hex')}`;
/** The API instance's /metrics token, shared with the forked server process through its environment. */
const METRICS_TOKEN = (process.env.BENCH_METRICS_TOKEN ??= randomBytes(16).toString('hex'));

/** Milliseconds on a clock every process of this machine shares. */
const now = () => performance.timeOrigin + performance.now();

type ToServer = { type: 'stats' } | { type: 'profile'; file: string | null } | { type: 'stop' };
type FromServer =
  | { type: 'ready'; url: string; token: string; nodeId: string }
  /** CPU time read before and after the full collections that measure the heap, which are not the rounds' work. */
  | { type: 'stats'; heapUsed: number; rss: number; cpuMicros: number; cpuMicrosAfterGc: number }
  | { type: 'profiled' }
  | { type: 'failed'; error: string };

type ToClient = { type: 'connect'; total: number } | { type: 'collect'; sent: [load: number, sentAt: number][] } | { type: 'stop' };
type FromClient =
  | { type: 'connected'; open: number; failures: Record<string, number> }
  | { type: 'complete'; load: number }
  | { type: 'collected'; latencies: number[]; missed: number; cpuMicros: number }
  | { type: 'closed'; code: number };

/** Starts this process's CPU profile (null), or stops it and writes it to `file`. */
let profiler: Session | undefined;
async function profileRounds(file: string | null): Promise<void> {
  if (!profiler) {
    profiler = new Session();
    profiler.connect();
  }
  const session = profiler;
  const post = (method: string) => new Promise<unknown>((resolve, reject) => session.post(method, (error, result) => (error ? reject(error) : resolve(result))));
  if (file === null) await post('Profiler.enable').then(() => post('Profiler.start'));
  else writeFileSync(file, JSON.stringify(((await post('Profiler.stop')) as { profile: unknown }).profile));
}

/** The server side: one API instance; it signs an operator in and registers the node whose heartbeats are sent. */
async function serve(): Promise<void> {
  const send = (message: FromServer) => process.send!(message);
  try {
    const server = await startTestServer(DATABASE, {
      redisUrl: TEST_REDIS_URL,
      // The bench measures delivery, not the per-user request limit its many subscriptions would hit.
      auth: { userRateLimitPerMinute: 100_000_000 } as never,
    }, { env: { METRICS_TOKEN } });
    const user = await server.signIn({ role: 'operator' });
    const nodeId = (await aRegisteredNode(user, { status: 'ACTIVE' })).id;
    process.on('message', async (message: ToServer) => {
      if (message.type === 'profile') {
        // Started with a null file, written to the file when stopped: one profile of a step's rounds.
        await profileRounds(message.file);
        send({ type: 'profiled' });
      } else if (message.type === 'stats') {
        const cpu = process.cpuUsage();
        for (let i = 0; i < 3; i += 1) global.gc?.();
        const { heapUsed, rss } = process.memoryUsage();
        const after = process.cpuUsage();
        send({ type: 'stats', heapUsed, rss, cpuMicros: cpu.user + cpu.system, cpuMicrosAfterGc: after.user + after.system });
      } else {
        await server.close();
        process.exit(0);
      }
    });
    process.once('disconnect', () => void server.close().finally(() => process.exit(0)));
    send({ type: 'ready', url: server.url, token: user.token, nodeId });
  } catch (error) {
    send({ type: 'failed', error: (error as Error).message });
    process.exit(1);
  }
}

/** A subscriber's socket, of either client. */
type ClientSocket = Pick<WebSocket, 'send' | 'terminate'>;

/** A client process: graphql-transport-ws sockets from one loopback address, noting when each heartbeat arrived. */
async function subscribeFrom(localAddress: string, url: string, token: string): Promise<void> {
  const send = (message: FromClient) => process.send!(message);
  const sockets: ClientSocket[] = [];
  const receipts = new Map<number, number[]>();
  const init = JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
  const subscribeMessage = JSON.stringify({ id: '1', type: 'subscribe', payload: { query: print(OnNodeHeartbeatDocument), variables: {} } });
  // Read from the bytes without decoding the whole frame: the clients share the cores with the server.
  const LOAD = Buffer.from('"load":');
  const numberEnd = (data: Buffer, from: number) => {
    let end = from;
    while (end < data.length && data[end] !== 0x2c && data[end] !== 0x7d) end += 1;
    return end;
  };
  const failures: Record<string, number> = {};
  const failed = (reason: string) => (failures[reason] = (failures[reason] ?? 0) + 1);
  /** This process's CPU time since the previous collect: the clients share the cores with the server. */
  let cpuSince = process.cpuUsage();

  const open = () =>
    new Promise<void>((resolve) => {
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        resolve();
      };
      const onText = (data: Buffer) => {
        // Received now: the time is taken before anything is read from the message.
        const at = now();
        const loadAt = data.indexOf(LOAD);
        if (loadAt < 0) {
          const text = data.toString();
          if (text.startsWith('{"type":"connection_ack"')) {
            socket.send(subscribeMessage);
            sockets.push(socket);
            settle();
          } else if (!text.includes('"type":"pong"') && !text.includes('"type":"ping"')) failed(text.slice(0, 200));
          return;
        }
        const from = loadAt + LOAD.length;
        const load = Number(data.toString('latin1', from, numberEnd(data, from)));
        let seen = receipts.get(load);
        if (!seen) receipts.set(load, (seen = []));
        seen.push(at);
        if (seen.length === sockets.length) send({ type: 'complete', load });
      };
      const onError = (error: Error) => {
        failed(error.message);
        settle();
      };
      const onClose = (code: number) => {
        if (settled) send({ type: 'closed', code });
        settle();
      };
      const wsUrl = url.replace(/^http/, 'ws');
      let socket: ClientSocket;
      if (CLIENT === 'bare') socket = new BareWebSocket(wsUrl, 'graphql-transport-ws', localAddress, { onOpen: () => socket.send(init), onText, onClose, onError });
      else {
        const ws = new WebSocket(wsUrl, 'graphql-transport-ws', { localAddress, perMessageDeflate: false });
        ws.on('open', () => ws.send(init));
        ws.on('error', onError);
        ws.on('close', onClose);
        ws.on('message', onText);
        socket = ws;
      }
    });

  process.on('message', async (message: ToClient) => {
    if (message.type === 'connect') {
      while (sockets.length < message.total) {
        const wave = Math.min(CONNECT_WAVE, message.total - sockets.length);
        const before = Object.values(failures).reduce((a, b) => a + b, 0);
        await Promise.all(Array.from({ length: wave }, open));
        if (Object.values(failures).reduce((a, b) => a + b, 0) > before + wave / 2) break;
      }
      send({ type: 'connected', open: sockets.length, failures });
    } else if (message.type === 'collect') {
      // With BENCH_PROFILE, each client process's rounds are profiled too: from the collect before them to the one after.
      if (PROFILE_DIR) await profileRounds(message.sent.length === 0 ? null : `${PROFILE_DIR}/subscriptions-${sockets.length}-client-${localAddress}.cpuprofile`);
      const latencies: number[] = [];
      let missed = 0;
      for (const [load, sentAt] of message.sent) {
        const seen = receipts.get(load) ?? [];
        for (const at of seen) latencies.push(at - sentAt);
        missed += Math.max(0, sockets.length - seen.length);
      }
      receipts.clear();
      const cpu = process.cpuUsage(cpuSince);
      cpuSince = process.cpuUsage();
      send({ type: 'collected', latencies, missed, cpuMicros: cpu.user + cpu.system });
    } else {
      for (const socket of sockets) socket.terminate();
      process.exit(0);
    }
  });
  process.once('disconnect', () => process.exit(0));
}

/** A forked process and the next message of a type from it. */
function child<In, Out extends { type: string }>(args: string[], execArgv: string[] = []) {
  const proc: ChildProcess = fork(process.argv[1]!, args, { execArgv: [...process.execArgv, ...execArgv], env: { ...process.env, LOG_LEVEL: 'error' } });
  const next = <T extends Out['type']>(type: T, timeoutMs = 600_000) =>
    new Promise<Extract<Out, { type: T }>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} from ${args.join(' ')} within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (message: Out) => {
        if (message.type === 'failed') reject(new Error((message as unknown as { error: string }).error));
        if (message.type !== type) return;
        clearTimeout(timer);
        proc.off('message', onMessage);
        resolve(message as Extract<Out, { type: T }>);
      };
      proc.on('message', onMessage);
    });
  return { proc, next, send: (message: In) => proc.send(message as never) };
}

/** The recordHeartbeat mutation on a fresh connection; resolves with its latency. */
function recordHeartbeat(url: string, token: string, nodeId: string, load: number): Promise<number> {
  const body = JSON.stringify({ query: print(RecordHeartbeatDocument), variables: { input: { nodeId, status: 'HEALTHY', load } } });
  const started = now();
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        if (!text.includes('RecordHeartbeatSuccess')) reject(new Error(`heartbeat refused: ${text.slice(0, 300)}`));
        else resolve(now() - started);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The server's fan-out histogram of the bench's operation: seconds summed, events counted, and events per bucket bound. */
async function fanOut(url: string): Promise<{ sum: number; count: number; buckets: Map<number, number> }> {
  const response = await fetch(new URL('/metrics', url), { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  const text = await response.text();
  const result = { sum: 0, count: 0, buckets: new Map<number, number>() };
  for (const match of text.matchAll(/^omega_subscription_fanout_seconds_(sum|count|bucket)\{([^}]*)\} (\S+)$/gm)) {
    if (!match[2]!.includes('operationName="OnNodeHeartbeat"')) continue;
    const value = Number(match[3]);
    if (match[1] === 'sum') result.sum = value;
    else if (match[1] === 'count') result.count = value;
    else result.buckets.set(Number(/le="([^"]+)"/.exec(match[2]!)![1]), value);
  }
  return result;
}

/** The server's mean fan-out time in a window, and the bucket bound its 99th percentile falls under. */
function fanOutBetween(before: Awaited<ReturnType<typeof fanOut>>, after: Awaited<ReturnType<typeof fanOut>>): string {
  const count = after.count - before.count;
  if (count === 0) return 'none';
  const bound = [...after.buckets].sort((a, b) => a[0] - b[0]).find(([le, n]) => n - (before.buckets.get(le) ?? 0) >= 0.99 * count)?.[0] ?? Infinity;
  return `${(((after.sum - before.sum) / count) * 1000).toFixed(0)} / ≤${bound * 1000} ms`;
}

const percentile = (sorted: ArrayLike<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`bench stopped: longer than ${RUN_TIMEOUT_MS / 60_000} minutes`);
    process.exit(2);
  }, RUN_TIMEOUT_MS);
  watchdog.unref();

  if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
  const server = child<ToServer, FromServer>(['--serve'], [...SERVER_FLAGS, '--expose-gc']);
  const { url, token, nodeId } = await server.next('ready');
  const stats = async () => {
    server.send({ type: 'stats' });
    return server.next('stats');
  };
  const baseline = await stats();

  const clients = Array.from({ length: CLIENT_PROCESSES }, (_, i) => child<ToClient, FromClient>(['--clients', `127.0.0.${10 + i}`, url, token]));
  const completions = new Map<number, number>();
  let onComplete: () => void = () => undefined;
  let closedSockets = 0;
  for (const client of clients) {
    client.proc.on('message', (message: FromClient) => {
      if (message.type === 'complete') {
        completions.set(message.load, (completions.get(message.load) ?? 0) + 1);
        onComplete();
      } else if (message.type === 'closed') closedSockets += 1;
    });
  }
  const allComplete = (load: number) => (completions.get(load) ?? 0) >= clients.length;
  const untilComplete = (loads: number[], timeoutMs: number) =>
    new Promise<boolean>((resolve) => {
      const done = () => loads.every(allComplete);
      if (done()) return resolve(true);
      const timer = setTimeout(() => resolve(false), timeoutMs);
      onComplete = () => {
        if (!done()) return;
        clearTimeout(timer);
        resolve(true);
      };
    });
  const collect = async (sent: [number, number][]) => {
    const answers = clients.map((client) => client.next('collected'));
    for (const client of clients) client.send({ type: 'collect', sent });
    const collected = await Promise.all(answers);
    const latencies = new Float64Array(collected.reduce((n, c) => n + c.latencies.length, 0));
    let offset = 0;
    for (const c of collected) {
      latencies.set(c.latencies, offset);
      offset += c.latencies.length;
    }
    return { latencies: latencies.sort(), missed: collected.reduce((n, c) => n + c.missed, 0), clientCpuMicros: collected.reduce((n, c) => n + c.cpuMicros, 0) };
  };

  let loadTag = 0;
  const nextLoad = () => (loadTag += 1) / 1_000_000;
  const rows: string[] = [];
  for (const subscribers of STEPS) {
    const connectStart = now();
    const share = (i: number) => Math.floor(subscribers / clients.length) + (i < subscribers % clients.length ? 1 : 0);
    const answers = clients.map((client) => client.next('connected', 600_000));
    clients.forEach((client, i) => client.send({ type: 'connect', total: share(i) }));
    const connected = await Promise.all(answers);
    const open = connected.reduce((n, c) => n + c.open, 0);
    const failures = Object.assign({}, ...connected.map((c) => c.failures)) as Record<string, number>;
    if (open < subscribers) {
      console.log(`step ${subscribers}: only ${open} sockets connected (${JSON.stringify(failures)}); stopping here`);
      break;
    }
    // Warm up until every subscription is live on the server: a heartbeat that every socket receives.
    for (let attempt = 0; ; attempt += 1) {
      const load = nextLoad();
      await recordHeartbeat(url, token, nodeId, load);
      if (await untilComplete([load], 2_000)) break;
      if (attempt > 60) throw new Error(`subscribers did not all go live (${closedSockets} sockets closed)`);
    }
    await collect([]);
    const liveIn = (now() - connectStart) / 1000;
    const memory = await stats();
    const fanOutBefore = await fanOut(url);

    const profile = async (file: string | null) => {
      if (!PROFILE_DIR) return;
      server.send({ type: 'profile', file });
      await server.next('profiled');
    };
    await profile(null);
    const sent: [number, number][] = [];
    const mutationLatencies: Promise<number>[] = [];
    const roundsStart = now();
    for (let round = 0; round < ROUNDS; round += 1) {
      await sleep(Math.max(0, roundsStart + round * INTERVAL_MS - now()));
      const load = nextLoad();
      sent.push([load, now()]);
      mutationLatencies.push(recordHeartbeat(url, token, nodeId, load));
    }
    // A refused mutation is a result too (the instance could not serve it while fanning out): counted, not fatal.
    const outcomes = await Promise.allSettled(mutationLatencies);
    const mutations = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : [])).sort((a, b) => a - b);
    const refused = outcomes.length - mutations.length;
    await untilComplete(
      sent.map(([load]) => load),
      GRACE_MS,
    );
    const cpu = await stats();
    const fanOutAfter = await fanOut(url);
    await profile(PROFILE_DIR ? `${PROFILE_DIR}/subscriptions-${subscribers}.cpuprofile` : null);
    const wallMicros = (now() - roundsStart) * 1000;
    const { latencies, missed, clientCpuMicros } = await collect(sent.filter((_, i) => outcomes[i]!.status === 'fulfilled'));
    const kb = (bytes: number) => (bytes / 1024).toFixed(1);
    const load = loadavg()
      .map((value) => value.toFixed(1))
      .join(' ');
    rows.push(
      [
        String(subscribers).padStart(6),
        `${percentile(latencies, 50).toFixed(0)} ms`.padStart(9),
        `${percentile(latencies, 99).toFixed(0)} ms`.padStart(9),
        `${(latencies.at(-1) ?? NaN).toFixed(0)} ms`.padStart(9),
        `${missed} of ${subscribers * (ROUNDS - refused)}`.padStart(16),
        `${percentile(mutations, 50).toFixed(0)} / ${(mutations.at(-1) ?? NaN).toFixed(0)} ms${refused ? ` (${refused} failed)` : ''}`.padStart(16),
        `${kb((memory.heapUsed - baseline.heapUsed) / subscribers)} KB`.padStart(9),
        `${kb((memory.rss - baseline.rss) / subscribers)} KB`.padStart(9),
        `${(((cpu.cpuMicros - memory.cpuMicrosAfterGc) / wallMicros) * 100).toFixed(0)}%`.padStart(5),
        `${((cpu.cpuMicros - memory.cpuMicrosAfterGc) / Math.max(1, latencies.length)).toFixed(1)} µs`.padStart(9),
        `${((clientCpuMicros / wallMicros) * 100).toFixed(0)}% ${(clientCpuMicros / Math.max(1, latencies.length)).toFixed(1)} µs`.padStart(18),
        fanOutBetween(fanOutBefore, fanOutAfter).padStart(17),
        `${liveIn.toFixed(0)} s`.padStart(6),
        `  ${load}`,
      ].join(' | '),
    );
    console.log(`step ${subscribers} done: ${rows.at(-1)}`);
  }

  for (const client of clients) client.send({ type: 'stop' });
  const stopped = new Promise((resolve) => server.proc.once('exit', resolve));
  server.send({ type: 'stop' });
  await stopped;

  console.log(`\n$ ${COMMAND}   (BENCH_SUBSCRIBERS=${STEPS.join(',')} BENCH_ROUNDS=${ROUNDS} BENCH_INTERVAL_MS=${INTERVAL_MS} BENCH_CLIENT_PROCESSES=${CLIENT_PROCESSES} BENCH_CLIENT=${CLIENT})`);
  console.log(
    `graphql-ws subscribers of nodeHeartbeat on one API instance (${DATABASE === 'pglite' ? 'embedded PGlite' : 'PostgreSQL'}, Redis), one heartbeat every ${INTERVAL_MS} ms, ${ROUNDS} rounds per step`,
  );
  console.log(`machine: ${availableParallelism()} cores shared by the server, ${CLIENT_PROCESSES} client processes and everything else running`);
  console.log(
    ' subs. |  p50 lat. |  p99 lat. |  max lat. |           missed | mutation p50/max | heap/sub. |  RSS/sub. |  CPU | CPU/del. | clients CPU, /del. | fan-out mean/p99 |  live | load average (1, 5, 15 min)',
  );
  for (const row of rows) console.log(row);
  console.log(
    "latency: from just before the mutation is sent to each socket receiving the event; CPU: server, percent of one core during the rounds, and server CPU time per delivery (the figure least moved by the load of the machine); clients CPU: all client processes together, the same way; fan-out: the server's own time from an event reaching the group to its last socket written (omega_subscription_fanout_seconds; p99 as the histogram bucket it falls under)",
  );
}

if (process.argv[2] === '--serve') await serve();
else if (process.argv[2] === '--clients') await subscribeFrom(process.argv[3]!, process.argv[4]!, process.argv[5]!);
else await main();
