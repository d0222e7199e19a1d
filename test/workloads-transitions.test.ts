import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ClusterNodeDocument, TransitionSessionDocument, type SessionStatus } from './generated/graphql.js';
import { aComputeNode, aPendingSession, aRegisteredNode, rawId } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { expectResult, startTestServer, TEST_JWT_SECRET, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

const STATES: SessionStatus[] = ['PENDING', 'SCHEDULED', 'RUNNING', 'PAUSED', 'COMPLETED', 'FAILED', 'CANCELLED'];

/** The state machine as the issue states it; every pair not listed is illegal. */
const LEGAL: Record<SessionStatus, SessionStatus[]> = {
  PENDING: ['SCHEDULED', 'CANCELLED', 'FAILED'],
  SCHEDULED: ['RUNNING', 'CANCELLED', 'FAILED'],
  RUNNING: ['PAUSED', 'COMPLETED', 'FAILED', 'CANCELLED'],
  PAUSED: ['RUNNING', 'CANCELLED', 'FAILED'],
  COMPLETED: [],
  FAILED: [],
  CANCELLED: [],
};

/** How to reach each state from pending, one legal step at a time. */
const PATH: Record<SessionStatus, SessionStatus[]> = {
  PENDING: [],
  SCHEDULED: ['SCHEDULED'],
  RUNNING: ['SCHEDULED', 'RUNNING'],
  PAUSED: ['SCHEDULED', 'RUNNING', 'PAUSED'],
  COMPLETED: ['SCHEDULED', 'RUNNING', 'COMPLETED'],
  FAILED: ['SCHEDULED', 'FAILED'],
  CANCELLED: ['CANCELLED'],
};

const TERMINAL: SessionStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];
const HOLDING: SessionStatus[] = ['SCHEDULED', 'RUNNING', 'PAUSED'];

const cases = STATES.flatMap((from) => STATES.map((to) => ({ from, to, legal: LEGAL[from].includes(to) })));

describe.each(kinds)('session state machine over HTTP on %s', (kind) => {
  let server: TestServer;
  let user: SignedInUser;
  let nodeId: string;
  beforeAll(async () => {
    // One user sends every request here; the per-user rate limit is not under test.
    server = await startTestServer(kind, { jobsEnabled: false, auth: { ...loadConfig({}).auth, jwtSecret: TEST_JWT_SECRET, userRateLimitPerMinute: 1_000_000 } });
    user = await server.signIn({ role: 'operator' });
    nodeId = (await aRegisteredNode(user, aComputeNode({ totalCpuCores: 1000, totalMemoryGb: 4000 }))).id;
  });
  afterAll(async () => {
    await server?.close();
  });
  // The node stays live however long the table takes: placement skips nodes silent for 60 s.
  beforeEach(async () => {
    await server.db.system.node.updateMany({ where: { tenantId: user.tenantId }, data: { lastHeartbeat: new Date() } });
  });

  const move = (id: string, status: SessionStatus) => user.request(TransitionSessionDocument, { id, status, reason: 'table test' });

  it.each(cases)('$from -> $to is legal: $legal', async ({ from, to, legal }) => {
    const session = await aPendingSession(user, { maxRuntimeMinutes: 1, cpuRequest: 2, memoryRequestGb: 4 });
    for (const step of PATH[from]) expectResult(await move(session.id, step), 'TransitionSessionSuccess');

    const result = await move(session.id, to);
    if (!legal) {
      expect(expectResult(result, 'IllegalTransitionError')).toMatchObject({
        currentStatus: from.toLowerCase(),
        requestedStatus: to.toLowerCase(),
        message: `Session ${rawId(session.id)} is ${from.toLowerCase()} and cannot become ${to.toLowerCase()}`,
      });
      return;
    }
    const moved = expectResult(result, 'TransitionSessionSuccess').session;
    expect(moved.status).toBe(to);
    if (HOLDING.includes(to)) {
      expect(moved.scheduledNode?.id).toBe(nodeId);
      expect(moved.allocations.map((a) => [a.resourceType, a.allocatedAmount, a.status])).toEqual([
        ['CPU', 2, 'ACTIVE'],
        ['MEMORY', 4, 'ACTIVE'],
      ]);
    }
    if (TERMINAL.includes(to)) {
      expect(moved.endTime).not.toBeNull();
      // Reaching a terminal state releases every allocation it held.
      expect(moved.allocations.every((a) => a.status === 'RELEASED' && a.deallocationTime !== null)).toBe(true);
      expect(moved.allocations).toHaveLength(from === 'PENDING' ? 0 : 2);
    }
    if (to === 'RUNNING') expect(moved.startTime).not.toBeNull();
  });

  it('gives back exactly what terminal sessions held: allocated capacity equals what live sessions hold', async () => {
    const live = await server.db.system.session.count({ where: { tenantId: user.tenantId, status: { in: ['scheduled', 'running', 'paused'] } } });
    const node = (await user.request(ClusterNodeDocument, { id: nodeId })).data!.node!;
    expect(node.resources.find((r) => r.resourceType === 'CPU')!.allocatedCapacity).toBe(2 * live);
    expect(node.resources.find((r) => r.resourceType === 'MEMORY')!.allocatedCapacity).toBe(4 * live);
    // From the table: legal moves into scheduled, running or paused that stay there.
    expect(live).toBe(cases.filter((c) => c.legal && HOLDING.includes(c.to)).length + cases.filter((c) => !c.legal && HOLDING.includes(c.from)).length);
  });
});
