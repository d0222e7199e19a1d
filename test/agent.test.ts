import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeGlobalID } from '@pothos/plugin-relay';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalStore, type ResourceSample } from '../src/agent/local-store.js';
import { CreateApiKeyDocument, RegisterMachineDocument, ScheduleSessionDocument } from './generated/graphql.js';
import { aPendingSession, rawId } from './helpers/builders.js';
import { systemEvents } from './helpers/cluster.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { createTestDatabase } from './helpers/run-databases.js';
import { expectResult, startTestServer, type SignedInUser, type TestServer } from './helpers/server.js';

const MACHINE_ID = 'agent-test-machine-0001';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Waits for a condition with a generous deadline; slow machines only make it take longer. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, deadlineMs = 90_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("the agent's local buffer", () => {
  const sample = (n: number): ResourceSample => ({
    timestamp: new Date(1_700_000_000_000 + n * 5_000).toISOString(),
    cpuUsage: n,
    memoryUsage: 50,
    diskUsage: 40,
    networkRxBytes: n,
    networkTxBytes: n,
    gpuUsage: null,
    temperature: null,
  });

  it('holds at most its limit, dropping and counting the oldest, and keeps its count across a restart and a delivery', () => {
    const dir = mkdtempSync(join(tmpdir(), 'omega-agent-store-'));
    const path = join(dir, 'agent.sqlite');
    try {
      let store = new LocalStore(path);
      const dropped = Array.from({ length: 7 }, (_, n) => store.addSample(sample(n), 5));
      expect(dropped).toEqual([0, 0, 0, 0, 0, 1, 1]);
      expect(store.undeliveredSamples()).toBe(5);
      expect(store.config('dropped_samples')).toBe('2');
      store.close();

      store = new LocalStore(path);
      expect(store.undeliveredSamples()).toBe(5);
      const batch = store.nextBatch(3, 'test')!;
      expect(batch.samples.map((s) => s.cpuUsage)).toEqual([2, 3, 4]);
      store.markDelivered(batch.key);
      store.markDelivered(batch.key);
      expect(store.undeliveredSamples()).toBe(2);
      // A smaller limit after a restart drops down to it at the next sample.
      expect(store.addSample(sample(7), 2)).toBe(1);
      expect(store.nextBatch(10, 'test')!.samples.map((s) => s.cpuUsage)).toEqual([6, 7]);
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Several API instances on one database in turn: PostgreSQL, which outlives each of them.
describe.runIf(runPostgresTests)('the node agent, a real process against a real server', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let port: number;
  let server: TestServer;
  let admin: SignedInUser;
  let apiKey: string;
  let dataDir: string;
  // The Node running this test under a short path: a session's application (a command line) holds
  // at most 100 characters, wherever Node is installed.
  let nodeDir: string;
  let nodeProgram: string;
  let agent: ChildProcess | undefined;
  const agentLog: string[] = [];
  const serverLog: string[] = [];

  const startServer = async () => startTestServer('postgres', { databaseUrl: scratch.url, port, jobsEnabled: false }, { logLines: serverLog });
  const startAgent = () => {
    const child = spawn(
      process.execPath,
      [
        // tsx as a loader, not its CLI: one process, so a signal reaches the agent itself.
        '--import',
        'tsx',
        'src/agent/main.ts',
        '--api', `http://127.0.0.1:${port}/graphql`,
        '--api-key', apiKey,
        '--data-dir', dataDir,
        '--heartbeat-interval-ms', '500',
        '--sample-interval-ms', '200',
        '--batch-samples', '7',
        '--machine-id', MACHINE_ID,
        '--hostname', 'agent-host.test',
        '--run-commands',
        '--allow-command', nodeProgram,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.on('data', (chunk: Buffer) => agentLog.push(chunk.toString()));
    return child;
  };
  const stopAgent = async () => {
    if (!agent || agent.exitCode !== null) return;
    const exited = new Promise((resolve) => agent!.once('exit', resolve));
    agent.kill('SIGTERM');
    await exited;
  };
  const store = () => new Database(join(dataDir, 'agent.sqlite'), { readonly: true, fileMustExist: true });
  const undelivered = () => {
    const db = store();
    try {
      return (db.prepare('SELECT count(*) AS n FROM local_resources WHERE delivered_at IS NULL').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  const agentNode = () => server.db.system.node.findFirst({ where: { tenantId: admin.tenantId, machineId: MACHINE_ID } });

  beforeAll(async () => {
    scratch = await createTestDatabase('omega_test');
    port = await freePort();
    server = await startServer();
    admin = await server.signIn({ role: 'admin' });
    await server.db.system.user.update({ where: { id: admin.userId }, data: { quotaCpuHours: 10_000, quotaMemoryGbHours: 100_000 } });
    const environment = await server.db.system.environment.create({ data: { tenantId: admin.tenantId, name: 'prod' } });
    const scopes = ['cluster:read', 'cluster:write', 'sessions:read', 'sessions:write', 'sessions:manage', 'metrics:write'];
    const created = await admin.request(CreateApiKeyDocument, {
      input: { name: 'agent', environmentId: encodeGlobalID('Environment', environment.id), scopes, rateLimitPerMinute: 100_000 },
    });
    const payload = created.data!.createApiKey;
    if (payload.__typename !== 'CreateApiKeySuccess') throw new Error(JSON.stringify(payload));
    apiKey = payload.created.secret;
    dataDir = mkdtempSync(join(tmpdir(), 'omega-agent-'));
    nodeDir = mkdtempSync(join(tmpdir(), 'omega-node-'));
    nodeProgram = join(nodeDir, 'node');
    symlinkSync(process.execPath, nodeProgram);
  }, 120_000);
  afterAll(async () => {
    await stopAgent();
    await server?.close();
    await scratch?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (nodeDir) rmSync(nodeDir, { recursive: true, force: true });
  });

  it('registers its machine once however often it starts, and its heartbeats keep the node active', async () => {
    agent = startAgent();
    const first = await eventually('the agent to register', agentNode);
    await stopAgent();
    agent = startAgent();
    const before = first.lastHeartbeat?.getTime() ?? 0;
    const beating = await eventually('a heartbeat after the restart', async () => {
      const node = await agentNode();
      return node && node.lastHeartbeat && node.lastHeartbeat.getTime() > before ? node : null;
    });
    expect(beating.id).toBe(first.id);
    expect(beating.status).toBe('active');
    expect(await server.db.system.node.count({ where: { tenantId: admin.tenantId } })).toBe(1);

    const again = expectResult(
      await admin.request(RegisterMachineDocument, {
        input: { hostname: 'agent-host.test', machineId: MACHINE_ID, ipAddress: '127.0.0.1', nodeType: 'COMPUTE', totalCpuCores: 1, totalMemoryGb: 1, totalStorageGb: 1 },
      }),
      'RegisterNodeSuccess',
    ).node;
    expect(rawId(again.id)).toBe(first.id);
  }, 240_000);

  it('runs a scheduled session as a process and reports how it ended, refusing commands outside its allow-list', async () => {
    const node = (await agentNode())!;
    const run = async (sessionName: string, application: string, command?: string[], secretEnvironmentVariables?: Record<string, string>) => {
      const session = await aPendingSession(admin, {
        sessionName,
        cpuRequest: 0.1,
        memoryRequestGb: 0.1,
        application,
        command,
        environmentVariables: { EXIT_CODE: '3' },
        secretEnvironmentVariables,
      });
      expectResult(await admin.request(ScheduleSessionDocument, { id: session.id }), 'ScheduleSessionSuccess');
      return rawId(session.id);
    };
    const completes = await run('completes', `${nodeProgram} -e process.exit(0)`);
    const fails = await run('fails', `${nodeProgram} -e process.exit(Number(process.env.EXIT_CODE))`);
    const refused = await run('refused', 'rm -rf /tmp/nothing-here');
    // The command wins over the application, and its words reach the program as they are: no shell splits or expands them.
    // A secret reaches the process opened (it checks the value's hash, so the value is in no command) and nowhere else.
    const secret = `db-password-${randomUUID()}`;
    const digest = createHash('sha256').update(secret).digest('hex');
    const withSecret = await run('with a secret', 'unused', [
      nodeProgram,
      '-e',
      'process.exit(require("node:crypto").createHash("sha256").update(process.env.DB_PASSWORD ?? "").digest("hex") === process.argv[1] ? 0 : 6)',
      digest,
    ], { DB_PASSWORD: secret });
    const verbatim = await run('verbatim', 'rm -rf /tmp/nothing-here', [nodeProgram, '-e', 'process.exit(process.argv[1] === "a b; $HOME *" ? 0 : 9)', 'a b; $HOME *']);

    const final = async (id: string) =>
      eventually(`session ${id} to end`, async () => {
        const session = await server.db.system.session.findUnique({ where: { id } });
        return session && ['completed', 'failed', 'cancelled'].includes(session.status) ? session : null;
      });
    expect((await final(completes)).status).toBe('completed');
    expect((await final(fails)).status).toBe('failed');
    expect((await final(refused)).status).toBe('failed');
    expect((await final(verbatim)).status).toBe('completed');
    expect((await final(withSecret)).status).toBe('completed');
    expect(agentLog.join('')).not.toContain(secret);
    expect(serverLog.join('')).not.toContain(secret);
    expect(serverLog.length).toBeGreaterThan(0);
    for (const file of readdirSync(dataDir)) expect(readFileSync(join(dataDir, file)).includes(secret), file).toBe(false);
    expect((await server.db.system.session.findUnique({ where: { id: completes } }))!.scheduledNodeId).toBe(node.id);

    const transitions = (await systemEvents(server, admin.tenantId, 'session.state_changed')).map((event) => event.details as { sessionId: string; status: string; reason: string | null });
    expect(transitions.filter((t) => t.sessionId === completes).map((t) => t.status)).toEqual(['scheduled', 'running', 'completed']);
    expect(transitions.find((t) => t.sessionId === fails && t.status === 'failed')?.reason).toBe('exit code 3');
    expect(transitions.find((t) => t.sessionId === refused && t.status === 'failed')?.reason).toMatch(/not in the agent's allow-list/);
    expect(transitions.some((t) => t.sessionId === refused && t.status === 'running')).toBe(false);
  }, 240_000);

  it('buffers metrics while the API is down and replays every one exactly once when it returns', async () => {
    const node = (await agentNode())!;
    await server.close();
    await eventually('samples to pile up while the API is away', () => undelivered() >= 20);
    server = await startServer();
    await eventually('the buffer to drain', () => undelivered() === 0);
    await stopAgent();

    const db = store();
    // Samples taken after the drain may still wait; every acknowledged one must be stored once.
    const delivered = (db.prepare('SELECT timestamp FROM local_resources WHERE delivered_at IS NOT NULL').all() as { timestamp: string }[])
      .map((row) => new Date(row.timestamp).toISOString())
      .sort();
    db.close();
    const stored = await server.db.system.$queryRaw<{ time: Date }[]>`
      SELECT time FROM node_metrics WHERE node_id = ${node.id}::uuid AND metric_type = 'cpu_usage'`;
    // The same multiset of sample times: nothing lost, nothing twice (two samples may share a millisecond).
    expect(stored.map((row) => row.time.toISOString()).sort()).toEqual(delivered);
  }, 240_000);

  it('after a crash, follows the processes it left running and reports the one that vanished meanwhile', async () => {
    agent = startAgent();
    await eventually('the agent to beat again', async () => (await agentNode())?.status === 'active');
    const place = async (sessionName: string, seconds: number) => {
      const session = await aPendingSession(admin, {
        sessionName,
        cpuRequest: 0.1,
        memoryRequestGb: 0.1,
        command: [nodeProgram, '-e', `setTimeout(() => process.exit(0), ${seconds * 1000})`],
      });
      expectResult(await admin.request(ScheduleSessionDocument, { id: session.id }), 'ScheduleSessionSuccess');
      return rawId(session.id);
    };
    const status = async (id: string) => (await server.db.system.session.findUnique({ where: { id } }))?.status;
    const pidOf = (id: string) => {
      const db = store();
      try {
        // The agent keys its sessions by the API's global ids.
        return (db.prepare('SELECT pid FROM local_sessions WHERE session_id = ?').get(encodeGlobalID('Session', id)) as { pid: number | null } | undefined)?.pid ?? null;
      } finally {
        db.close();
      }
    };
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const followed = await place('followed across a crash', 12);
    const vanished = await place('vanishes while the agent is down', 600);
    const pids = await eventually('both to run with their pids recorded', async () => {
      const [a, b] = [pidOf(followed), pidOf(vanished)];
      return a && b && (await status(followed)) === 'running' && (await status(vanished)) === 'running' ? { followed: a, vanished: b } : null;
    });

    const exited = new Promise((resolve) => agent!.once('exit', resolve));
    agent!.kill('SIGKILL');
    await exited;
    expect(alive(pids.followed)).toBe(true);
    process.kill(pids.vanished, 'SIGKILL');
    await eventually('the second process to be gone', () => !alive(pids.vanished));

    agent = startAgent();
    await eventually('the vanished session to be reported', async () => (await status(vanished)) === 'failed');
    expect(await status(followed)).toBe('running');
    await eventually('the followed session to be reported once its process ends', async () => (await status(followed)) === 'failed', 60_000);
    expect(alive(pids.followed)).toBe(false);

    const reasons = (await systemEvents(server, admin.tenantId, 'session.state_changed'))
      .map((event) => event.details as { sessionId: string; status: string; reason: string | null })
      .filter((t) => t.status === 'failed');
    expect(reasons.find((t) => t.sessionId === vanished)?.reason).toMatch(/ended while the agent was not running; its exit code is unknown/);
    expect(reasons.find((t) => t.sessionId === followed)?.reason).toMatch(/ended while followed after an agent restart/);
    // Each reported once.
    expect(reasons.filter((t) => t.sessionId === vanished || t.sessionId === followed)).toHaveLength(2);
  }, 240_000);
});
