import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SchedulePendingSessionsDocument,
  ScheduleSessionDocument,
  SessionDocument,
  SetNodeStatusDocument,
  TransitionSessionDocument,
  type CreateSessionInput,
} from './generated/graphql.js';
import { aComputeNode, aPendingSession, aRegisteredNode, globalId } from './helpers/builders.js';
import { setHeartbeat } from './helpers/cluster.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { expectResult, startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

describe.each(kinds)('placement over HTTP on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** Creates a session and schedules it; returns the hostname it landed on. */
  const place = async (client: SignedInUser, input: Partial<CreateSessionInput> = {}) => {
    const session = await aPendingSession(client, input);
    return expectResult(await client.request(ScheduleSessionDocument, { id: session.id }), 'ScheduleSessionSuccess').session.scheduledNode!.hostname;
  };

  /** Creates a session that cannot be placed; returns the typed error and the session as stored. */
  const refuse = async (client: SignedInUser, input: Partial<CreateSessionInput> = {}) => {
    const session = await aPendingSession(client, input);
    const error = expectResult(await client.request(ScheduleSessionDocument, { id: session.id }), 'InsufficientCapacityError');
    return { error, session: (await client.request(SessionDocument, { id: session.id })).data!.session! };
  };

  it('binpack fills the fullest node that fits; spread picks the emptiest', async () => {
    const operator = await server.signIn({ role: 'operator' });
    await aRegisteredNode(operator, aComputeNode({ hostname: 'small.test', totalCpuCores: 8, totalMemoryGb: 32 }));
    await aRegisteredNode(operator, aComputeNode({ hostname: 'medium.test', totalCpuCores: 16, totalMemoryGb: 64 }));
    await aRegisteredNode(operator, aComputeNode({ hostname: 'large.test', totalCpuCores: 32, totalMemoryGb: 128 }));

    const binpacked = [];
    for (let i = 0; i < 5; i += 1) binpacked.push(await place(operator, { cpuRequest: 2, memoryRequestGb: 8 }));
    // small.test holds four such sessions; the fifth goes to the next tightest fit.
    expect(binpacked).toEqual(['small.test', 'small.test', 'small.test', 'small.test', 'medium.test']);

    const spread = [];
    for (let i = 0; i < 3; i += 1) spread.push(await place(operator, { cpuRequest: 2, memoryRequestGb: 8, placementPreferences: { strategy: 'SPREAD' } }));
    // large.test has 32 free cores against medium.test's 14: it stays the emptiest for three sessions.
    expect(spread).toEqual(['large.test', 'large.test', 'large.test']);
  });

  it('matches GPU type and count, and keeps CPU-only work off GPU nodes', async () => {
    const operator = await server.signIn({ role: 'operator' });
    await aRegisteredNode(operator, { hostname: 'h100.test', gpuType: 'H100', gpuCount: 8, gpuMemoryGb: 640 });
    await aRegisteredNode(operator, { hostname: 'a100.test', gpuType: 'A100', gpuCount: 4, gpuMemoryGb: 160 });
    await aRegisteredNode(operator, aComputeNode({ hostname: 'cpu.test', totalCpuCores: 16, totalMemoryGb: 64 }));

    expect(await place(operator, { gpuRequest: 2, gpuType: 'A100' })).toBe('a100.test');
    expect(await place(operator, { gpuRequest: 2, gpuType: 'H100' })).toBe('h100.test');
    // Any type: binpack prefers the node with the fewest GPUs left (a100.test has 2 of 4).
    expect(await place(operator, { gpuRequest: 1 })).toBe('a100.test');
    expect(await place(operator, { cpuRequest: 1, memoryRequestGb: 1 })).toBe('cpu.test');

    const { error, session } = await refuse(operator, { gpuRequest: 1, gpuType: 'L4' });
    expect(error.reasons).toEqual(['a100.test: gpu type A100, L4 requested', 'cpu.test: gpu type none, L4 requested; gpu: the node has none', 'h100.test: gpu type H100, L4 requested']);
    expect(session.status).toBe('PENDING');
    expect(session.schedulingNotes).toMatchObject({ attempts: 1, strategy: 'BINPACK', excluded: [] });
    expect(session.schedulingNotes!.rejections.map((r) => r.hostname)).toEqual(['a100.test', 'cpu.test', 'h100.test']);

    const tooMany = await refuse(operator, { gpuRequest: 7, gpuType: 'H100' });
    expect(tooMany.error.reasons).toContain('h100.test: gpu: 6 GPUs free, 7 requested');
  });

  it('honours node selectors, preferred labels, regions and excluded nodes', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const region = await server.db.system.region.upsert({ where: { code: 'placement-west' }, create: { code: 'placement-west', name: 'West', provider: 'aws' }, update: {} });
    const regionId = globalId('Region', region.id);
    await aRegisteredNode(operator, aComputeNode({ hostname: 'a1.test', labels: { zone: 'a', rack: 'r1', features: ['avx512', 'nvme'] } }));
    const a2 = await aRegisteredNode(operator, aComputeNode({ hostname: 'a2.test', labels: { zone: 'a', rack: 'r2' }, regionId }));
    await aRegisteredNode(operator, aComputeNode({ hostname: 'b1.test', labels: { zone: 'b', rack: 'r2' } }));

    expect(await place(operator, { placementPreferences: { nodeSelector: { zone: 'b' } } })).toBe('b1.test');
    expect(await place(operator, { placementPreferences: { nodeSelector: { features: ['nvme'] } } })).toBe('a1.test');
    expect(await place(operator, { placementPreferences: { nodeSelector: { zone: 'a' }, preferredLabels: { rack: 'r2' } } })).toBe('a2.test');
    expect(await place(operator, { placementPreferences: { regions: ['placement-west'] } })).toBe('a2.test');
    expect(await place(operator, { placementPreferences: { nodeSelector: { zone: 'a' }, excludeNodeIds: [a2.id] } })).toBe('a1.test');

    const { error } = await refuse(operator, { placementPreferences: { nodeSelector: { zone: 'c' } } });
    expect(error.reasons).toEqual([
      'a1.test: labels do not contain {"zone":"c"}',
      'a2.test: labels do not contain {"zone":"c"}',
      'b1.test: labels do not contain {"zone":"c"}',
    ]);
  });

  it('skips draining nodes and nodes without a recent heartbeat, and places the session once one comes back', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const best = await aRegisteredNode(operator, aComputeNode({ hostname: 'best.test', totalCpuCores: 4, totalMemoryGb: 16 }));
    const other = await aRegisteredNode(operator, aComputeNode({ hostname: 'other.test', totalCpuCores: 64, totalMemoryGb: 256 }));

    expectResult(await operator.request(SetNodeStatusDocument, { id: best.id, status: 'DRAINING' }), 'SetNodeStatusSuccess');
    expect(await place(operator)).toBe('other.test');

    await setHeartbeat(server, other.id, new Date(Date.now() - 300_000));
    const { error, session } = await refuse(operator);
    expect(error.reasons).toEqual(['1 node: no heartbeat in the last 60 s', '1 node: node is draining']);
    expect(session.schedulingNotes!.excluded).toEqual([
      { reason: 'no heartbeat in the last 60 s', count: 1 },
      { reason: 'node is draining', count: 1 },
    ]);

    expectResult(await operator.request(SetNodeStatusDocument, { id: best.id, status: 'ACTIVE' }), 'SetNodeStatusSuccess');
    expect((await operator.request(SchedulePendingSessionsDocument, {})).data!.schedulePendingSessions).toEqual({ considered: 1, scheduled: 1 });
    const placed = (await operator.request(SessionDocument, { id: session.id })).data!.session!;
    expect(placed).toMatchObject({ status: 'SCHEDULED', scheduledNode: { hostname: 'best.test' }, schedulingNotes: null });
  });

  it('schedules pending sessions by priority, then age, and places the rest when capacity frees', async () => {
    const operator = await server.signIn({ role: 'operator' });
    await aRegisteredNode(operator, aComputeNode({ hostname: 'only.test', totalCpuCores: 4, totalMemoryGb: 16 }));
    const oldLow = await aPendingSession(operator, { sessionName: 'old-low', cpuRequest: 4, memoryRequestGb: 4, priority: 1 });
    const newHigh = await aPendingSession(operator, { sessionName: 'new-high', cpuRequest: 4, memoryRequestGb: 4, priority: 9 });
    const newLow = await aPendingSession(operator, { sessionName: 'new-low', cpuRequest: 4, memoryRequestGb: 4, priority: 1 });

    expect((await operator.request(SchedulePendingSessionsDocument, {})).data!.schedulePendingSessions).toEqual({ considered: 3, scheduled: 1 });
    const status = async (id: string) => (await operator.request(SessionDocument, { id })).data!.session!;
    expect((await status(newHigh.id)).status).toBe('SCHEDULED');
    const waiting = await status(oldLow.id);
    expect(waiting.status).toBe('PENDING');
    expect(waiting.schedulingNotes!.rejections).toEqual([{ nodeId: expect.any(String), hostname: 'only.test', reasons: ['cpu: 0 cores free, 4 requested'] }]);

    expectResult(await operator.request(TransitionSessionDocument, { id: newHigh.id, status: 'COMPLETED' }), 'IllegalTransitionError');
    expectResult(await operator.request(TransitionSessionDocument, { id: newHigh.id, status: 'CANCELLED' }), 'TransitionSessionSuccess');
    expect((await operator.request(SchedulePendingSessionsDocument, {})).data!.schedulePendingSessions).toEqual({ considered: 2, scheduled: 1 });
    expect((await status(oldLow.id)).status).toBe('SCHEDULED');
    const still = await status(newLow.id);
    expect(still.status).toBe('PENDING');
    expect(still.schedulingNotes!.attempts).toBe(2);
  });
});

// On PostgreSQL: the embedded database's socket server can interleave the harness's statements with
// the jobs' when both run outside a transaction at once.
describe.runIf(runPostgresTests)('background jobs on postgres', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Short intervals so the jobs run while the test waits; settings are read when the server starts.
    server = await startTestServer('postgres', { jobsEnabled: true }, { env: { SCHEDULER_PASS_INTERVAL_MS: '200', DEPLOYMENT_RECONCILE_INTERVAL_MS: '200' } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('place pending sessions without anyone asking', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const session = await aPendingSession(operator, { cpuRequest: 1, memoryRequestGb: 1 });
    await aRegisteredNode(operator, aComputeNode({ hostname: 'late.test' }));
    let placed = (await operator.request(SessionDocument, { id: session.id })).data!.session!;
    for (let i = 0; i < 200 && placed.status === 'PENDING'; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      placed = (await operator.request(SessionDocument, { id: session.id })).data!.session!;
    }
    expect(placed).toMatchObject({ status: 'SCHEDULED', scheduledNode: { hostname: 'late.test' } });
  });
});
