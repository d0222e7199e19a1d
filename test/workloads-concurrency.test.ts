import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ScheduleSessionDocument } from './generated/graphql.js';
import { aComputeNode, aPendingSession, aRegisteredNode, rawId } from './helpers/builders.js';
import { runPostgresTests, TEST_REDIS_URL } from './helpers/backing-services.js';
import { startTestServer, TEST_JWT_SECRET, type GraphQLClient, type SignedInUser, type TestServer } from './helpers/server.js';

/** Sessions each node has room for: 50 in all, each session asking 2 cores and 8 GB. */
const ROOM = [5, 8, 10, 12, 15];
const CALLS = 200;

// PGlite runs one statement at a time, so only PostgreSQL can show that concurrent placements never over-commit.
describe.runIf(runPostgresTests)('scheduler under concurrency on PostgreSQL with two API instances', () => {
  let first: TestServer;
  let second: TestServer;
  let operator: SignedInUser;
  let viaSecond: GraphQLClient;

  beforeAll(async () => {
    // One user sends every request here; the per-user rate limit is not under test.
    const auth = { ...loadConfig({}).auth, jwtSecret: TEST_JWT_SECRET, userRateLimitPerMinute: 1_000_000 };
    first = await startTestServer('postgres', { jobsEnabled: false, dbPoolMax: 16, redisUrl: TEST_REDIS_URL, auth });
    second = await startTestServer('postgres', { jobsEnabled: false, dbPoolMax: 16, redisUrl: TEST_REDIS_URL, databaseUrl: first.rawDatabaseUrl, auth });
    operator = await first.signIn({ role: 'operator' });
    viaSecond = second.withHeaders(operator.headers);
    // Quotas are not what this test is about: room for all 200 requests.
    await first.db.system.user.update({ where: { id: operator.userId }, data: { quotaCpuHours: 100_000, quotaMemoryGbHours: 1_000_000 } });
    for (const [index, sessions] of ROOM.entries()) {
      await aRegisteredNode(operator, aComputeNode({ hostname: `node-${index}.test`, totalCpuCores: 2 * sessions, totalMemoryGb: 8 * sessions }));
    }
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it(`places exactly 50 of ${CALLS} sessions scheduled at once through two instances, and over-commits no node`, async () => {
    const sessions = [];
    for (let i = 0; i < CALLS; i += 20) {
      sessions.push(...(await Promise.all(Array.from({ length: 20 }, (_, j) => aPendingSession(operator, { sessionName: `burst-${i + j}`, cpuRequest: 2, memoryRequestGb: 8 })))));
    }

    const results = await Promise.all(sessions.map((session, i) => (i % 2 === 0 ? operator : viaSecond).request(ScheduleSessionDocument, { id: session.id })));
    expect(results.flatMap((result) => result.errors ?? [])).toEqual([]);
    const outcomes = results.map((result) => result.data!.scheduleSession.__typename);
    expect(outcomes.filter((name) => name === 'ScheduleSessionSuccess')).toHaveLength(50);
    expect(outcomes.filter((name) => name === 'InsufficientCapacityError')).toHaveLength(CALLS - 50);
    // Both instances placed some: the proof is about several writers, not one.
    expect(outcomes.filter((name, i) => name === 'ScheduleSessionSuccess' && i % 2 === 0).length).toBeGreaterThan(0);
    expect(outcomes.filter((name, i) => name === 'ScheduleSessionSuccess' && i % 2 === 1).length).toBeGreaterThan(0);

    const db = first.db.system;
    const overCommitted = await db.$queryRaw<{ count: number }[]>`
      SELECT count(*)::int AS count FROM node_resources WHERE allocated_capacity > total_capacity`;
    expect(overCommitted).toEqual([{ count: 0 }]);

    const perNode = await db.$queryRaw<{ hostname: string; cpu: number; memory: number; placed: number }[]>`
      SELECT n.hostname,
             max(r.allocated_capacity) FILTER (WHERE r.resource_type = 'cpu')::float8 AS cpu,
             max(r.allocated_capacity) FILTER (WHERE r.resource_type = 'memory')::float8 AS memory,
             (SELECT count(*)::int FROM sessions s WHERE s.scheduled_node_id = n.node_id AND s.status = 'scheduled') AS placed
      FROM nodes n JOIN node_resources r ON r.node_id = n.node_id
      WHERE n.tenant_id = ${operator.tenantId}::uuid
      GROUP BY n.node_id, n.hostname ORDER BY n.hostname`;
    expect(perNode).toEqual(ROOM.map((room, index) => ({ hostname: `node-${index}.test`, cpu: 2 * room, memory: 8 * room, placed: room })));

    // What the nodes account as allocated is exactly what the sessions' active allocations hold.
    const drift = await db.$queryRaw<{ count: number }[]>`
      SELECT count(*)::int AS count FROM node_resources r
      WHERE r.tenant_id = ${operator.tenantId}::uuid
        AND r.allocated_capacity <> coalesce((SELECT sum(a.allocated_amount) FROM session_allocations a
                                              WHERE a.node_id = r.node_id AND a.resource_type = r.resource_type AND a.status = 'active'), 0)`;
    expect(drift).toEqual([{ count: 0 }]);
    const pending = await db.session.findMany({ where: { tenantId: operator.tenantId, status: 'pending' }, select: { schedulingNotes: true } });
    expect(pending).toHaveLength(CALLS - 50);
    expect(pending.every((session) => session.schedulingNotes !== null)).toBe(true);
    // A generous harness limit: the machine may be shared, and this test asserts outcomes, not speed.
  }, 300_000);

  it('places a session once when the same session is scheduled many times at once', async () => {
    const tenant = await first.signIn({ role: 'operator' });
    await aRegisteredNode(tenant, aComputeNode({ hostname: 'roomy.test', totalCpuCores: 256, totalMemoryGb: 1024 }));
    const sessions = [];
    for (let i = 0; i < 10; i += 1) sessions.push(await aPendingSession(tenant, { sessionName: `dup-${i}`, cpuRequest: 2, memoryRequestGb: 8 }));
    const otherInstance = second.withHeaders(tenant.headers);
    const results = await Promise.all(
      sessions.flatMap((session) => Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? tenant : otherInstance).request(ScheduleSessionDocument, { id: session.id }))),
    );
    const outcomes = results.map((result) => result.data!.scheduleSession);
    expect(outcomes.filter((outcome) => outcome.__typename === 'ScheduleSessionSuccess')).toHaveLength(10);
    const refused = outcomes.filter((outcome) => outcome.__typename === 'IllegalTransitionError');
    expect(refused).toHaveLength(50);
    expect(refused.every((outcome) => outcome.__typename === 'IllegalTransitionError' && outcome.currentStatus === 'scheduled')).toBe(true);
    const allocations = await first.db.system.sessionAllocation.groupBy({
      by: ['sessionId'],
      where: { tenantId: tenant.tenantId, status: 'active' },
      _count: { _all: true },
    });
    expect(allocations.map((row) => row._count._all)).toEqual(Array(10).fill(2));
    expect(new Set(allocations.map((row) => row.sessionId))).toEqual(new Set(sessions.map((session) => rawId(session.id))));
  });
});
