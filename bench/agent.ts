/**
 * The node agent's figures, against a real server on the embedded database (BENCH_DB=postgres: on
 * TEST_DATABASE_URL), over GraphQL with an API key, as agents send them:
 *
 *   npm run bench:agent
 *   BENCH_NODES=2000 BENCH_SECONDS=20 BENCH_OUTAGE_MINUTES=120 npm run bench:agent
 *
 * 1. Heartbeats per second one agent process sustains for BENCH_NODES simulated nodes (the demo
 *    fleet's code: batches of 1,000 through recordHeartbeats), against the raw baseline of one
 *    recordHeartbeat call per node (what an agent per node sends), measured in the same run.
 * 2. The local buffer at its limit (--buffer-limit, 100,000 samples): its size on disk and how many
 *    samples a second it takes nearly empty and once full (the oldest dropped each time). The
 *    buffer is filled up to its limit in one transaction, as rows an outage would have left.
 *    Then the store's own share of a replay (every batch of a full buffer taken and marked delivered,
 *    no API) against one pass reading the same rows.
 * 3. How long an outage of BENCH_OUTAGE_MINUTES takes to replay: a real NodeAgent whose store holds
 *    that outage's samples (one each 5 s), from start until the API has acknowledged all of them;
 *    and the same for a full buffer.
 * BENCH_SKIP_HEARTBEATS=true skips part 1.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeGlobalID } from '@pothos/plugin-relay';
import Database from 'better-sqlite3';
import { ApiClient } from '../src/agent/api-client.js';
import { SimulatedFleet } from '../src/agent/fleet.js';
import { HttpFleetApi } from '../src/agent/fleet-http.js';
import { LocalStore } from '../src/agent/local-store.js';
import { NodeAgent } from '../src/agent/node-agent.js';
import { SimulatedHost } from '../src/agent/simulated-host.js';
import { CreateApiKeyDocument } from '../test/generated/graphql.js';
import { runPostgresTests } from '../test/helpers/backing-services.js';
import { startTestServer, type DatabaseKind } from '../test/helpers/server.js';

const NODES = Number(process.env.BENCH_NODES ?? 1_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const OUTAGE_MINUTES = Number(process.env.BENCH_OUTAGE_MINUTES ?? 60);
const BUFFER_LIMIT = 100_000;
const SAMPLE_INTERVAL_MS = 5_000;
const kind: DatabaseKind = process.env.BENCH_DB === 'postgres' ? 'postgres' : 'pglite';
if (kind === 'postgres' && !runPostgresTests) throw new Error('BENCH_DB=postgres but TEST_DATABASE_URL does not answer');

/** Writes samples [from, to) into an agent's local_resources in one transaction, as an outage would have left them. */
function prefill(path: string, host: SimulatedHost, startMs: number, from: number, to: number): void {
  const db = new Database(path);
  const insert = db.prepare(
    `INSERT INTO local_resources (timestamp, cpu_usage, memory_usage, disk_usage, network_rx_bytes, network_tx_bytes, gpu_usage, temperature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  db.transaction(() => {
    for (let i = from; i < to; i += 1) {
      const s = host.sample(new Date(startMs + i * SAMPLE_INTERVAL_MS));
      insert.run(s.timestamp, s.cpuUsage, s.memoryUsage, s.diskUsage, s.networkRxBytes, s.networkTxBytes, s.gpuUsage, s.temperature);
    }
  })();
  db.close();
}

const load = () => loadavg().map((n) => n.toFixed(2)).join(' ');
const rate = (count: number, ms: number) => Math.round((count * 1000) / ms);

async function forSeconds(seconds: number, round: () => Promise<number>): Promise<{ count: number; ms: number }> {
  const start = performance.now();
  let count = 0;
  while (performance.now() - start < seconds * 1000) count += await round();
  return { count, ms: performance.now() - start };
}

console.log(`agent bench on ${kind}; ${NODES} simulated nodes, ${SECONDS} s per measurement; load average ${load()}`);
const server = await startTestServer(kind, { jobsEnabled: false });
const dataDirs: string[] = [];
try {
  const admin = await server.signIn({ role: 'admin' });
  const environment = await server.db.system.environment.create({ data: { tenantId: admin.tenantId, name: 'prod' } });
  const created = await admin.request(CreateApiKeyDocument, {
    input: {
      name: 'bench agent',
      environmentId: encodeGlobalID('Environment', environment.id),
      scopes: ['cluster:read', 'cluster:write', 'sessions:read', 'sessions:write', 'sessions:manage', 'metrics:write'],
      rateLimitPerMinute: 1_000_000,
    },
  });
  const payload = created.data!.createApiKey;
  if (payload.__typename !== 'CreateApiKeySuccess') throw new Error(JSON.stringify(payload));
  const apiKey = payload.created.secret;
  const client = new ApiClient(server.url, apiKey, 120_000);

  if (process.env.BENCH_SKIP_HEARTBEATS !== 'true') {
    await server.db.system.node.createMany({
      data: Array.from({ length: NODES }, (_, i) => ({
        tenantId: admin.tenantId,
        hostname: `sim-${i}.bench.omega.internal`,
        ipAddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        nodeType: 'gpu',
        status: 'active',
        totalCpuCores: 64,
        totalMemoryGb: 512,
        totalStorageGb: 2048,
        gpuCount: 8,
      })),
    });
    const nodes = await server.db.system.node.findMany({ where: { tenantId: admin.tenantId }, select: { id: true, gpuCount: true } });
    const nodeIds = nodes.map((node) => encodeGlobalID('ClusterNode', node.id));

    // 1. Heartbeats: batched (the fleet) against one call per node.
    const fleet = new SimulatedFleet(new HttpFleetApi(client), { sessionSeconds: 60, heartbeatBatch: 1_000, pointBatch: 10_000 });
    fleet.setMachines(nodeIds.map((nodeId, i) => ({ nodeId, gpuCount: nodes[i]!.gpuCount })));
    await fleet.sendHeartbeats();
    const batched = await forSeconds(SECONDS, () => fleet.sendHeartbeats());
    const single = `mutation ($input: HeartbeatInput!) { recordHeartbeat(input: $input) { __typename } }`;
    let next = 0;
    const oneByOne = await forSeconds(SECONDS, async () => {
      const nodeId = nodeIds[next++ % nodeIds.length]!;
      await client.request(single, { input: { nodeId, status: 'HEALTHY', load: 0.5 } });
      return 1;
    });
    const ticks = await forSeconds(SECONDS, async () => (await fleet.tick()).heartbeats);
    console.log(`\nheartbeats, one agent process, ${NODES} nodes (load average ${load()})`);
    console.log(`  recordHeartbeats, batches of 1,000     ${rate(batched.count, batched.ms).toLocaleString()} heartbeats/s`);
    console.log(`  recordHeartbeat, one call per node     ${rate(oneByOne.count, oneByOne.ms).toLocaleString()} heartbeats/s (baseline)`);
    console.log(`  ratio batched / one per call           ${(rate(batched.count, batched.ms) / Math.max(1, rate(oneByOne.count, oneByOne.ms))).toFixed(1)}x`);
    console.log(`  full tick (heartbeat + 7 metric points + sessions) ${rate(ticks.count, ticks.ms).toLocaleString()} nodes/s`);
    console.log(`  => at a 10 s heartbeat interval one process keeps about ${(rate(batched.count, batched.ms) * 10).toLocaleString()} nodes alive (heartbeats only), ${(rate(ticks.count, ticks.ms) * 10).toLocaleString()} with metrics`);
  }

  // 2. The buffer at its limit.
  const bufferDir = mkdtempSync(join(tmpdir(), 'omega-agent-bench-'));
  dataDirs.push(bufferDir);
  const storePath = join(bufferDir, 'agent.sqlite');
  let store = new LocalStore(storePath);
  const host = new SimulatedHost({ nodeId: 'buffer', gpuCount: 8 });
  const at = Date.now() - BUFFER_LIMIT * SAMPLE_INTERVAL_MS;
  const firstThousand = performance.now();
  for (let i = 0; i < 1_000; i += 1) store.addSample(host.sample(new Date(at + i * SAMPLE_INTERVAL_MS)), BUFFER_LIMIT);
  const emptyMs = performance.now() - firstThousand;
  prefill(storePath, host, at, 1_000, BUFFER_LIMIT);
  // The store counts its samples when it opens: open it again over the rows written beside it.
  store.close();
  store = new LocalStore(storePath);
  const full = await forSeconds(Math.min(SECONDS, 5), async () => {
    store.addSample(host.sample(), BUFFER_LIMIT);
    return 1;
  });
  store.close();
  // Counted from the file itself, not from the store's running count.
  const reader = new Database(storePath, { readonly: true });
  const held = (reader.prepare('SELECT count(*) AS n FROM local_resources WHERE delivered_at IS NULL').get() as { n: number }).n;
  reader.close();
  const bytes = ['agent.sqlite', 'agent.sqlite-wal'].reduce((sum, file) => sum + (statSync(join(bufferDir, file), { throwIfNoEntry: false })?.size ?? 0), 0);
  console.log(`\nlocal buffer (load average ${load()})`);
  console.log(`  limit ${BUFFER_LIMIT.toLocaleString()} samples = ${((BUFFER_LIMIT * SAMPLE_INTERVAL_MS) / 86_400_000).toFixed(1)} days of 5 s samples, ${(bytes / 1024 / 1024).toFixed(1)} MiB on disk; holds ${held.toLocaleString()} when full`);
  console.log(`  addSample: ${rate(1_000, emptyMs).toLocaleString()} samples/s while nearly empty, ${rate(full.count, full.ms).toLocaleString()} samples/s once full (oldest dropped each time)`);

  // 2b. The store's own share of a replay: a full buffer taken batch by batch and marked delivered,
  // no API; against one pass reading the same rows (the floor), on a second copy of the buffer.
  const storeReplayDir = mkdtempSync(join(tmpdir(), 'omega-agent-bench-'));
  dataDirs.push(storeReplayDir);
  const replayPaths = ['replayed.sqlite', 'read.sqlite'].map((file) => join(storeReplayDir, file));
  for (const path of replayPaths) {
    new LocalStore(path).close();
    prefill(path, host, at, 0, BUFFER_LIMIT);
  }
  const replayStore = new LocalStore(replayPaths[0]!);
  const storeStart = performance.now();
  let replayed = 0;
  for (let batch = replayStore.nextBatch(500, 'bench'); batch; batch = replayStore.nextBatch(500, 'bench')) {
    replayed += batch.samples.length;
    replayStore.markDelivered(batch.key);
  }
  const storeMs = performance.now() - storeStart;
  replayStore.close();
  const onePass = new Database(replayPaths[1]!, { readonly: true });
  const readStart = performance.now();
  const read = onePass.prepare('SELECT rowid, * FROM local_resources WHERE delivered_at IS NULL ORDER BY rowid').all().length;
  const readMs = performance.now() - readStart;
  onePass.close();
  console.log(`  store side of a replay, no API: ${replayed.toLocaleString()} samples in batches of 500 taken and marked in ${(storeMs / 1000).toFixed(2)} s (${rate(replayed, storeMs).toLocaleString()} samples/s);`);
  console.log(`    one pass reading the same ${read.toLocaleString()} rows: ${(readMs / 1000).toFixed(2)} s (baseline); ratio ${(storeMs / Math.max(1, readMs)).toFixed(1)}x (load average ${load()})`);

  // 3. Replaying an outage: a real agent starting with its store holding the outage's samples.
  const replay = async (samples: number, label: string) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'omega-agent-bench-'));
    dataDirs.push(dataDir);
    const agent = new NodeAgent({
      apiUrl: server.url,
      apiKey,
      dataDir,
      heartbeatIntervalMs: 3_600_000,
      sampleIntervalMs: 3_600_000,
      batchSamples: 500,
      bufferLimit: BUFFER_LIMIT,
      machineId: `bench-${label}`,
      hostname: `bench-${label}.omega.internal`,
      policy: { runCommands: false, allowedCommands: [] },
      log: () => undefined,
    });
    prefill(join(dataDir, 'agent.sqlite'), new SimulatedHost({ nodeId: label, gpuCount: 8 }), Date.now() - samples * SAMPLE_INTERVAL_MS, 0, samples);
    const start = performance.now();
    await agent.start();
    const ms = performance.now() - start;
    const left = agent.store.undeliveredSamples();
    await agent.stop();
    if (left > 0) throw new Error(`${left} samples not replayed`);
    return ms;
  };
  const outageSamples = (OUTAGE_MINUTES * 60_000) / SAMPLE_INTERVAL_MS;
  const outageMs = await replay(outageSamples, 'outage');
  const fullMs = await replay(BUFFER_LIMIT, 'full');
  console.log(`\nreplay after an outage, batches of 500 samples (3,500 points) (load average ${load()})`);
  console.log(`  ${OUTAGE_MINUTES} min outage (${outageSamples.toLocaleString()} samples): replayed in ${(outageMs / 1000).toFixed(2)} s`);
  console.log(`  full buffer (${BUFFER_LIMIT.toLocaleString()} samples, ${((BUFFER_LIMIT * SAMPLE_INTERVAL_MS) / 3_600_000).toFixed(0)} h): replayed in ${(fullMs / 1000).toFixed(1)} s, ${rate(BUFFER_LIMIT, fullMs).toLocaleString()} samples/s`);
  console.log(`\nload average ${load()}`);
} finally {
  await server.close();
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
}
