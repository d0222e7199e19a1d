import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClusterSummaryDocument,
  CreateSessionDocument,
  RefreshClusterViewsDocument,
  ScheduleSessionDocument,
  SessionDocument,
  SessionsDocument,
  SessionStatsDocument,
  TransitionSessionDocument,
  type SessionsQueryVariables,
} from './generated/graphql.js';
import { aComputeNode, aPendingSession, aRegisteredNode, aSession, globalId, rawId } from './helpers/builders.js';
import { listenAsAnotherInstance, systemEvents } from './helpers/cluster.js';
import { runPostgresTests, TEST_REDIS_URL } from './helpers/backing-services.js';
import { expectResult, startTestServer, type DatabaseKind, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

describe.each(kinds)('compute sessions over HTTP on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false, ...(kind === 'postgres' ? { redisUrl: TEST_REDIS_URL } : {}) });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('validates session requests field by field, then across fields', async () => {
    const user = await server.signIn({ role: 'user' });
    const fields = await user.request(CreateSessionDocument, {
      input: aSession({ memoryRequestGb: 0, priority: 11, environmentVariables: { 'NOT VALID': 'x' }, placementPreferences: { regions: [''] } }),
    });
    expect(expectResult(fields, 'ValidationError').issues.map((issue) => issue.path).sort()).toEqual(
      ['environmentVariables.NOT VALID', 'memoryRequestGb', 'placementPreferences.regions.0', 'priority'].sort(),
    );
    const across = await user.request(CreateSessionDocument, { input: aSession({ cpuRequest: 4, cpuLimit: 2, gpuType: 'H100' }) });
    expect(expectResult(across, 'ValidationError').issues).toEqual([
      { path: 'cpuLimit', message: 'must be at least cpuRequest' },
      { path: 'gpuType', message: 'needs a gpuRequest of at least 1' },
    ]);
  });

  it('keeps a command as the words given (argv, no shell), and refuses an empty program, NUL bytes and over-long commands by path', async () => {
    const user = await server.signIn({ role: 'user' });
    const argv = ['/usr/bin/env', 'python3', '-c', 'print("a b; $HOME")', ''];
    const created = expectResult(await user.request(CreateSessionDocument, { input: aSession({ command: argv }) }), 'CreateSessionSuccess').session;
    expect(created.command).toEqual(argv);
    const read = (await user.request(SessionDocument, { id: created.id })).data!.session!;
    expect(read.command).toEqual(argv);
    expect(expectResult(await user.request(CreateSessionDocument, { input: aSession() }), 'CreateSessionSuccess').session.command).toEqual([]);

    const refused = async (command: string[]) => {
      const result = await user.request(CreateSessionDocument, { input: aSession({ command }) });
      if (result.errors?.length) return result.errors.map((error) => error.extensions?.code);
      return expectResult(result, 'ValidationError').issues.map((issue) => issue.path);
    };
    expect(await refused(['', 'x'])).toEqual(['command.0']);
    expect(await refused([' ls'])).toEqual(['command.0']);
    expect(await refused(Array.from({ length: 257 }, () => 'x'))).toEqual(['command']);
    expect(await refused(['x'.repeat(4_097)])).toEqual(['command.0']);
    expect(await refused(Array.from({ length: 9 }, () => 'x'.repeat(4_000)))).toEqual(['command']);
    // NUL is refused at the edge, before any resolver, as in every string argument.
    expect(await refused(['ls', 'a\u0000b'])).toEqual(['BAD_USER_INPUT']);
  });

  it("refuses sessions beyond the user's quotas, counting live sessions' requests times their runtime", async () => {
    const user = await server.signIn({ role: 'user' });
    await server.db.system.user.update({ where: { id: user.userId }, data: { quotaCpuHours: 10, quotaMemoryGbHours: 40, quotaStorageGb: 50 } });

    const long = await aPendingSession(user, { cpuRequest: 4, memoryRequestGb: 8, maxRuntimeMinutes: 120 });
    const memory = await user.request(CreateSessionDocument, { input: aSession({ cpuRequest: 0.5, memoryRequestGb: 50, maxRuntimeMinutes: 30 }) });
    expect(expectResult(memory, 'QuotaExceededError')).toMatchObject({ quota: 'memory_gb_hours', limit: 40, used: 16, requested: 25 });
    const storage = await user.request(CreateSessionDocument, { input: aSession({ cpuRequest: 0.1, memoryRequestGb: 0.1, maxRuntimeMinutes: 1, storageRequestGb: 51 }) });
    expect(expectResult(storage, 'QuotaExceededError')).toMatchObject({ quota: 'storage_gb', limit: 50, used: 0, requested: 51 });

    await aPendingSession(user, { cpuRequest: 2, memoryRequestGb: 8, maxRuntimeMinutes: undefined, storageRequestGb: 30 });
    const stored = await server.db.system.session.findMany({ where: { userId: user.userId }, orderBy: { createdAt: 'asc' }, select: { maxRuntimeMinutes: true } });
    expect(stored.map((session) => session.maxRuntimeMinutes)).toEqual([120, 60]);
    const cpu = await user.request(CreateSessionDocument, { input: aSession({ cpuRequest: 1, memoryRequestGb: 1, maxRuntimeMinutes: 60 }) });
    expect(expectResult(cpu, 'QuotaExceededError')).toMatchObject({ quota: 'cpu_hours', limit: 10, used: 10, requested: 1 });

    // A session that ends stops counting.
    expectResult(await user.request(TransitionSessionDocument, { id: long.id, status: 'CANCELLED' }), 'TransitionSessionSuccess');
    expectResult(await user.request(CreateSessionDocument, { input: aSession({ cpuRequest: 4, memoryRequestGb: 1, maxRuntimeMinutes: 120 }) }), 'CreateSessionSuccess');
  });

  it('lets only operators act on other users\u2019 sessions', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const user = await server.signIn({ role: 'user', tenantId: operator.tenantId });
    const colleague = await server.signIn({ role: 'user', tenantId: operator.tenantId });

    const forOther = await user.request(CreateSessionDocument, { input: aSession({ userId: colleague.userId }) });
    expect(expectResult(forOther, 'ForbiddenError').message).toBe('only operators may create sessions for other users');
    const delegated = expectResult(await operator.request(CreateSessionDocument, { input: aSession({ userId: colleague.userId }) }), 'CreateSessionSuccess').session;
    expect(delegated.userId).toBe(colleague.userId);

    expect(expectResult(await user.request(TransitionSessionDocument, { id: delegated.id, status: 'CANCELLED' }), 'ForbiddenError').message).toBe(
      `session ${rawId(delegated.id)} belongs to another user`,
    );
    expectResult(await user.request(ScheduleSessionDocument, { id: delegated.id }), 'ForbiddenError');
    expect(expectResult(await colleague.request(TransitionSessionDocument, { id: delegated.id, status: 'CANCELLED' }), 'TransitionSessionSuccess').session.status).toBe('CANCELLED');
  });

  it('schedules, runs and ends a session, recording and publishing every state change', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const node = await aRegisteredNode(operator, aComputeNode({ hostname: 'runner.test', totalCpuCores: 8, totalMemoryGb: 32 }));
    const listener =
      kind === 'postgres'
        ? await listenAsAnotherInstance('workloads.session.state_changed', operator.tenantId, {
            tenantId: operator.tenantId,
            sessionId: 'probe',
            userId: 'probe',
            previousStatus: null,
            status: 'probe',
            nodeId: null,
            allocations: [],
            reason: null,
            at: new Date(0).toISOString(),
          })
        : undefined;
    try {
      const session = await aPendingSession(operator, { cpuRequest: 3, memoryRequestGb: 12, storageRequestGb: 100 });
      const scheduled = expectResult(await operator.request(ScheduleSessionDocument, { id: session.id }), 'ScheduleSessionSuccess').session;
      expect(scheduled.allocations.map((a) => [a.resourceType, a.allocatedAmount, a.unit, a.status, a.node.id])).toEqual([
        ['CPU', 3, 'cores', 'ACTIVE', node.id],
        ['MEMORY', 12, 'GB', 'ACTIVE', node.id],
        ['STORAGE', 100, 'GB', 'ACTIVE', node.id],
      ]);
      expect(expectResult(await operator.request(ScheduleSessionDocument, { id: session.id }), 'IllegalTransitionError')).toMatchObject({ currentStatus: 'scheduled', requestedStatus: 'scheduled' });
      expectResult(await operator.request(TransitionSessionDocument, { id: session.id, status: 'RUNNING' }), 'TransitionSessionSuccess');
      const done = expectResult(await operator.request(TransitionSessionDocument, { id: session.id, status: 'COMPLETED', reason: 'exit 0' }), 'TransitionSessionSuccess').session;
      expect(done.allocations.map((a) => a.status)).toEqual(['RELEASED', 'RELEASED', 'RELEASED']);
      const resources = await server.db.system.nodeResource.findMany({ where: { nodeId: rawId(node.id) }, orderBy: { resourceType: 'asc' } });
      expect(resources.map((r) => [r.resourceType, r.allocatedCapacity.toNumber()])).toEqual([
        ['cpu', 0],
        ['memory', 0],
        ['storage', 0],
      ]);

      const events = await systemEvents(server, operator.tenantId);
      expect(events.filter((e) => e.sessionId === rawId(session.id)).map((e) => [e.eventType, e.message])).toEqual([
        ['session.created', `session ${session.sessionName} created, pending`],
        ['session.state_changed', `session ${session.sessionName} pending -> scheduled on runner.test`],
        ['session.state_changed', `session ${session.sessionName} scheduled -> running`],
        ['session.state_changed', `session ${session.sessionName} running -> completed: exit 0`],
      ]);
      if (listener) {
        const published = await listener.waitFor((event) => event.sessionId === rawId(session.id), 4);
        expect(published.map((event) => [event.previousStatus, event.status, event.nodeId, event.allocations.length])).toEqual([
          [null, 'pending', null, 0],
          ['pending', 'scheduled', rawId(node.id), 3],
          ['scheduled', 'running', rawId(node.id), 3],
          ['running', 'completed', rawId(node.id), 3],
        ]);
        expect(published[3]!.reason).toBe('exit 0');
      }
    } finally {
      await listener?.close();
    }
  });

  it('lists sessions with filters, ordering and pages, and fetches one with its allocations', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const colleague = await server.signIn({ role: 'user', tenantId: operator.tenantId });
    const node = await aRegisteredNode(operator, aComputeNode());
    const batch = await aPendingSession(operator, { sessionName: 'batch', priority: 3 });
    const training = await aPendingSession(operator, { sessionName: 'training', sessionType: 'AI_TRAINING', priority: 8 });
    const theirs = await aPendingSession(colleague, { sessionName: 'theirs', sessionType: 'INTERACTIVE', priority: 5 });
    expectResult(await operator.request(ScheduleSessionDocument, { id: training.id }), 'ScheduleSessionSuccess');

    const names = async (variables: SessionsQueryVariables) => (await operator.request(SessionsDocument, { first: 50, ...variables })).data!.sessions.edges.map((edge) => edge.node.sessionName);
    expect(await names({})).toEqual(['theirs', 'training', 'batch']);
    expect(await names({ orderBy: { field: 'PRIORITY', direction: 'DESC' } })).toEqual(['training', 'theirs', 'batch']);
    expect(await names({ filter: { status: ['PENDING'] }, orderBy: { field: 'CREATED_AT', direction: 'ASC' } })).toEqual(['batch', 'theirs']);
    expect(await names({ filter: { sessionType: ['AI_TRAINING', 'INTERACTIVE'] } })).toEqual(['theirs', 'training']);
    expect(await names({ filter: { userId: colleague.userId } })).toEqual(['theirs']);
    expect(await names({ filter: { nodeId: node.id } })).toEqual(['training']);
    const created = (await server.db.system.session.findUniqueOrThrow({ where: { id: rawId(training.id) } })).createdAt;
    expect(await names({ filter: { createdAfter: created.toISOString() } })).toEqual(['theirs', 'training']);
    expect(await names({ filter: { createdBefore: created.toISOString() } })).toEqual(['batch']);

    const firstPage = (await operator.request(SessionsDocument, { first: 2 })).data!.sessions;
    expect(firstPage.totalCount).toBe(3);
    expect(firstPage.pageInfo.hasNextPage).toBe(true);
    const secondPage = (await operator.request(SessionsDocument, { first: 2, after: firstPage.pageInfo.endCursor })).data!.sessions;
    expect(secondPage.edges.map((edge) => edge.node.id)).toEqual([batch.id]);

    const fetched = (await operator.request(SessionDocument, { id: training.id })).data!.session!;
    expect(fetched).toMatchObject({ sessionName: 'training', status: 'SCHEDULED', scheduledNode: { id: node.id } });
    expect(fetched.allocations.map((a) => a.resourceType)).toEqual(['CPU', 'MEMORY']);
    expect(theirs.userId).toBe(colleague.userId);
    expect(expectResult(await operator.request(ScheduleSessionDocument, { id: globalId('Session', '00000000-0000-4000-8000-000000000004') }), 'NotFoundError').resource).toBe('Session');
  });

  it("keeps each tenant's sessions to itself", async () => {
    const owner = await server.signIn({ role: 'operator' });
    const stranger = await server.signIn({ role: 'admin' });
    await aRegisteredNode(stranger, aComputeNode());
    const session = await aPendingSession(owner);

    expect((await stranger.request(SessionDocument, { id: session.id })).data!.session).toBeNull();
    expect((await stranger.request(SessionsDocument, { first: 50 })).data!.sessions.edges).toEqual([]);
    expect((await stranger.request(SessionsDocument, { first: 50, filter: { userId: owner.userId } })).data!.sessions.totalCount).toBe(0);
    expect(expectResult(await stranger.request(TransitionSessionDocument, { id: session.id, status: 'CANCELLED' }), 'NotFoundError').resource).toBe('Session');
    // Scheduling it from another tenant neither finds it nor places it on that tenant's node.
    expect(expectResult(await stranger.request(ScheduleSessionDocument, { id: session.id }), 'NotFoundError').resource).toBe('Session');
    const forOwner = await stranger.request(CreateSessionDocument, { input: aSession({ userId: owner.userId }) });
    expect(expectResult(forOwner, 'NotFoundError').resource).toBe('User');
    expect((await owner.request(SessionDocument, { id: session.id })).data!.session!.status).toBe('PENDING');
  });

  it('serves the cluster summary and session statistics from the refreshed views, per tenant', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const reader = await server.signIn({ role: 'readonly', tenantId: operator.tenantId });
    await aRegisteredNode(operator, aComputeNode({ totalCpuCores: 16, totalMemoryGb: 64 }));
    await aRegisteredNode(operator, { totalCpuCores: 32, totalMemoryGb: 128, gpuCount: 4, gpuMemoryGb: 320, status: 'MAINTENANCE' });
    const running = await aPendingSession(operator, { sessionType: 'INTERACTIVE', cpuRequest: 2, memoryRequestGb: 4 });
    await aPendingSession(operator, { sessionType: 'BATCH', cpuRequest: 1, memoryRequestGb: 2 });
    await aPendingSession(operator, { sessionType: 'BATCH', cpuRequest: 3, memoryRequestGb: 6 });
    expectResult(await operator.request(ScheduleSessionDocument, { id: running.id }), 'ScheduleSessionSuccess');

    expect((await reader.request(RefreshClusterViewsDocument, {})).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const refreshed = await operator.request(RefreshClusterViewsDocument, {});
    expect(refreshed.errors).toBeUndefined();

    const summary = (await reader.request(ClusterSummaryDocument, {})).data!.clusterSummary!;
    expect(summary).toMatchObject({ totalNodes: 2, activeNodes: 1, totalCpuCores: 48, totalMemoryGb: 192, totalGpus: 4 });
    const stats = (await reader.request(SessionStatsDocument, {})).data!.sessionStats.edges.map((edge) => edge.node);
    expect(stats).toEqual([
      { sessionType: 'BATCH', status: 'PENDING', sessionCount: 2, totalCpuRequest: 4, totalMemoryRequestGb: 8 },
      { sessionType: 'INTERACTIVE', status: 'SCHEDULED', sessionCount: 1, totalCpuRequest: 2, totalMemoryRequestGb: 4 },
    ]);
    const scheduledOnly = (await reader.request(SessionStatsDocument, { filter: { status: ['SCHEDULED'] } })).data!.sessionStats;
    expect(scheduledOnly.edges.map((edge) => edge.node.sessionType)).toEqual(['INTERACTIVE']);
    expect(scheduledOnly.totalCount).toBe(1);
    const byCpu = (await reader.request(SessionStatsDocument, { orderBy: [{ field: 'TOTAL_CPU_REQUEST', direction: 'ASC' }] })).data!.sessionStats;
    expect(byCpu.edges.map((edge) => edge.node.totalCpuRequest)).toEqual([2, 4]);
    expect(byCpu.totalCount).toBe(2);
    const byCount = (await reader.request(SessionStatsDocument, { orderBy: [{ field: 'SESSION_COUNT' }] })).data!.sessionStats;
    expect(byCount.edges.map((edge) => edge.node.sessionCount)).toEqual([2, 1]);
    const tooMany = await reader.request(SessionStatsDocument, { orderBy: [{ field: 'STATUS' }, { field: 'STATUS' }, { field: 'STATUS' }, { field: 'STATUS' }] });
    expect(tooMany.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    const stranger = await server.signIn({ role: 'admin' });
    expect((await stranger.request(ClusterSummaryDocument, {})).data!.clusterSummary).toBeNull();
    expect((await stranger.request(SessionStatsDocument, {})).data!.sessionStats.edges).toEqual([]);
  });
});
