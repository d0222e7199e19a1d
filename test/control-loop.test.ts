import { print } from 'graphql';
import { loadConfig } from '../src/config.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateDeploymentDocument, DeploymentDocument, OnSessionStateChangedDocument, ReconcileDeploymentsDocument, RecordHeartbeatDocument, RecordHeartbeatsDocument, SessionDocument, TransitionSessionDocument } from './generated/graphql.js';
import { aPendingSession, aRegisteredNode, rawId } from './helpers/builders.js';
import { TEST_REDIS_URL, runPostgresTests } from './helpers/backing-services.js';
import { bearer, eventually, startRealtimeServer, wsClient } from './helpers/realtime.js';
import { TEST_JWT_SECRET, expectResult, type SignedInUser, type TestServer } from './helpers/server.js';

const SHORT_CLOCKS = {
  HEARTBEAT_TIMEOUT_SECONDS: '2',
  LIVENESS_SWEEP_INTERVAL_MS: '200',
  HEARTBEAT_FLUSH_INTERVAL_MS: '100',
  SCHEDULER_PASS_INTERVAL_MS: '200',
  DEPLOYMENT_RECONCILE_INTERVAL_MS: '300',
};

// Two API instances on one PostgreSQL and one Redis, both running every background job.
describe.runIf(runPostgresTests)('the control loop closes, on two instances', () => {
  let first: TestServer;
  let second: TestServer;
  let admin: SignedInUser;

  beforeAll(async () => {
    // The test keeps nodes alive and polls as fast as it can: far above a user's default rate limit.
    const unlimited = { ...loadConfig({}).auth, jwtSecret: TEST_JWT_SECRET, userRateLimitPerMinute: 1_000_000 };
    first = await startRealtimeServer('postgres', { redisUrl: TEST_REDIS_URL, auth: unlimited }, SHORT_CLOCKS);
    second = await startRealtimeServer('postgres', { redisUrl: TEST_REDIS_URL, auth: unlimited, databaseUrl: first.rawDatabaseUrl, migrateOnStart: false }, SHORT_CLOCKS);
    admin = await first.signIn({ role: 'admin' });
    await first.db.system.user.update({ where: { id: admin.userId }, data: { quotaCpuHours: 10_000, quotaMemoryGbHours: 100_000 } });
  }, 180_000);
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  const statusOf = async (id: string) => (await admin.request(SessionDocument, { id })).data?.session;
  /** The scheduler pass (either instance) places the session; the node's heartbeats keep it eligible meanwhile. */
  const placedOn = (nodeId: string, sessionId: string) =>
    eventually(async () => {
      await admin.request(RecordHeartbeatDocument, { input: { nodeId, status: 'HEALTHY', load: 0.1 } });
      const session = await statusOf(sessionId);
      return session?.status === 'SCHEDULED' && session.scheduledNode?.id === nodeId ? session : undefined;
    }, `session ${sessionId} placed on ${nodeId}`, 1_200);

  it('moves the sessions of a node gone silent by their restart policy, releasing its allocations, once', async () => {
    const failing = await aRegisteredNode(admin, { gpuCount: 0, gpuMemoryGb: 0, gpuType: null, nodeType: 'COMPUTE', labels: {} });
    const rescheduled = await aPendingSession(admin, { restartPolicy: 'RESCHEDULE', cpuRequest: 2, memoryRequestGb: 4 });
    const failed = await aPendingSession(admin, { cpuRequest: 2, memoryRequestGb: 4 });
    for (const session of [rescheduled, failed]) await placedOn(failing.id, session.id);
    expectResult(await admin.request(TransitionSessionDocument, { id: rescheduled.id, status: 'RUNNING' }), 'TransitionSessionSuccess');

    const socket = wsClient(second.url, bearer(admin.token));
    const changes: { sessionId: string; previousStatus: string | null; status: string; reason: string | null; allocations: unknown[] }[] = [];
    const subscription = socket.iterate({ query: print(OnSessionStateChangedDocument) });
    void (async () => {
      for await (const result of subscription) changes.push((result.data as { sessionStateChanged: (typeof changes)[number] }).sessionStateChanged);
    })().catch(() => undefined);

    // Another node stays alive, so the rescheduled session has somewhere to go.
    const healthy = await aRegisteredNode(admin, { gpuCount: 0, gpuMemoryGb: 0, gpuType: null, nodeType: 'COMPUTE', labels: {} });
    const beating = setInterval(() => void admin.request(RecordHeartbeatDocument, { input: { nodeId: healthy.id, status: 'HEALTHY', load: 0.1 } }), 300);
    try {
      const requeuedOn = await eventually(async () => {
        const session = await statusOf(rescheduled.id);
        return session?.status === 'SCHEDULED' && session.scheduledNode?.id === healthy.id ? session : undefined;
      }, 'the rescheduled session placed on the live node', 1_200);
      expect(requeuedOn.scheduledNode?.id).toBe(healthy.id);
      const gone = await eventually(async () => ((await statusOf(failed.id))?.status === 'FAILED' ? true : undefined), 'the other session failed', 1_200);
      expect(gone).toBe(true);
    } finally {
      clearInterval(beating);
    }

    const resources = await first.db.system.nodeResource.findMany({ where: { nodeId: rawId(failing.id) } });
    expect(resources.every((resource) => resource.allocatedCapacity.toNumber() === 0)).toBe(true);
    const allocations = await first.db.system.sessionAllocation.findMany({ where: { nodeId: rawId(failing.id) } });
    expect(allocations.length).toBeGreaterThan(0);
    expect(allocations.every((allocation) => allocation.status === 'released')).toBe(true);

    const events = await first.db.system.systemEvent.findMany({
      where: { tenantId: admin.tenantId, sessionId: { in: [rawId(rescheduled.id), rawId(failed.id)] }, sourceNodeId: rawId(failing.id), eventType: { in: ['session.requeued', 'session.state_changed'] }, message: { contains: 'failed; restart policy' } },
      select: { eventType: true, sessionId: true, message: true },
    });
    // Both instances run the loop; each session moved exactly once.
    expect(events.map((event) => event.eventType).sort()).toEqual(['session.requeued', 'session.state_changed']);
    expect(events.find((event) => event.sessionId === rawId(failed.id))?.message).toMatch(/scheduled -> failed: node .* failed; restart policy never/);

    await eventually(async () => (changes.some((change) => change.sessionId === rescheduled.id && change.status === 'PENDING') ? true : undefined), 'the requeue announced on the other instance', 400);
    const requeue = changes.find((change) => change.sessionId === rescheduled.id && change.status === 'PENDING')!;
    expect(requeue.previousStatus).toBe('RUNNING');
    expect(requeue.reason).toMatch(/restart policy reschedule/);
    expect(requeue.allocations.length).toBeGreaterThan(0);
    await socket.dispose();
  }, 240_000);

  it('stops a session that ran past its max runtime, completed with the reason', async () => {
    // The nodes of the test before take no work, so the session lands on the node this test keeps alive.
    await first.db.system.node.updateMany({ where: { tenantId: admin.tenantId }, data: { status: 'maintenance' } });
    const node = await aRegisteredNode(admin, { gpuCount: 0, gpuMemoryGb: 0, gpuType: null, nodeType: 'COMPUTE', labels: {} });
    const beating = setInterval(() => void admin.request(RecordHeartbeatDocument, { input: { nodeId: node.id, status: 'HEALTHY', load: 0.1 } }), 300);
    try {
      const session = await aPendingSession(admin, { maxRuntimeMinutes: 1, cpuRequest: 1, memoryRequestGb: 1 });
      await placedOn(node.id, session.id);
      expectResult(await admin.request(TransitionSessionDocument, { id: session.id, status: 'RUNNING' }), 'TransitionSessionSuccess');
      await first.db.system.session.update({ where: { id: rawId(session.id) }, data: { startTime: new Date(Date.now() - 2 * 60_000) } });
      const ended = await eventually(async () => {
        const current = await statusOf(session.id);
        return current?.status === 'COMPLETED' ? current : undefined;
      }, 'the overdue session completed', 1_200);
      expect(ended.allocations.every((allocation) => allocation.status === 'RELEASED')).toBe(true);
      const events = await first.db.system.systemEvent.findMany({ where: { sessionId: rawId(session.id), message: { contains: 'max runtime' } } });
      expect(events).toHaveLength(1);
      expect(events[0]!.message).toMatch(/running -> completed: stopped: ran past its max runtime of 1 minutes/);
    } finally {
      clearInterval(beating);
    }
  }, 240_000);

  it('scales a deployment from its autoscaling policy, once per cooldown, with the reason as a system event', async () => {
    await first.db.system.node.updateMany({ where: { tenantId: admin.tenantId }, data: { status: 'maintenance' } });
    const model = `autoscaled-${Date.now()}`;
    await first.db.system.model.create({ data: { modelId: model, name: 'Autoscaled', contextLength: 8192, gpuMemoryRequiredGb: 40 } });
    const gpus = await Promise.all([0, 1, 2].map(() => aRegisteredNode(admin, { gpuType: 'A100', gpuCount: 8, gpuMemoryGb: 320 })));
    const beat = () =>
      admin.request(RecordHeartbeatsDocument, { input: { heartbeats: gpus.map((node) => ({ nodeId: node.id, status: 'HEALTHY' as const, load: 0.5 })) } });
    await beat();
    const beating = setInterval(() => void beat(), 300);
    try {
      const policy = { targetGpuUtilization: 50, windowSeconds: 600, cooldownSeconds: 3_600, tolerance: 0.1 };
      const created = expectResult(
        await admin.request(CreateDeploymentDocument, { input: { name: 'autoscaled', model, minReplicas: 1, maxReplicas: 3, autoscaling: policy } }),
        'CreateDeploymentSuccess',
      ).deployment;
      expect(created.desiredReplicas).toBe(1);
      const [member] = await first.db.system.deploymentNode.findMany({ where: { deploymentId: rawId(created.id) } });
      // Twice the target on its one replica: the policy asks for two.
      await first.db.system.nodeMetric.create({ data: { tenantId: admin.tenantId, nodeId: member!.nodeId, metricType: 'gpu_usage', value: 100, time: new Date() } });
      const scaled = await eventually(async () => {
        const deployment = (await admin.request(DeploymentDocument, { id: created.id })).data?.deployment;
        return deployment?.desiredReplicas === 2 && deployment.currentReplicas === 2 ? deployment : undefined;
      }, 'the deployment autoscaled to two replicas', 1_200);
      expect(scaled.status).toBe('ACTIVE');
      // Still twice the target, but within the cooldown: a reconcile on demand changes nothing.
      await admin.request(ReconcileDeploymentsDocument, {});
      expect((await admin.request(DeploymentDocument, { id: created.id })).data?.deployment?.desiredReplicas).toBe(2);
      const decisions = await first.db.system.systemEvent.findMany({
        where: { tenantId: admin.tenantId, eventType: 'deployment.scaled', details: { path: ['deploymentId'], equals: rawId(created.id) } },
        select: { message: true },
      });
      expect(decisions.map((event) => event.message)).toEqual([
        'deployment autoscaled: autoscaled from 1 to 2 replicas: mean GPU utilisation 100 against a target of 50 over 600 s (1 -> 2, within 1..3)',
      ]);
    } finally {
      clearInterval(beating);
    }
  }, 240_000);
});
