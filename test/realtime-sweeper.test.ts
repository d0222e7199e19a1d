import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockKey } from '../src/infra/locks.js';
import { createLogger } from '../src/infra/logger.js';
import type { PubSub } from '../src/infra/pubsub.js';
import { Topic } from '../src/infra/topics.js';
import { LIVENESS_LOCK, LivenessSweeper } from '../src/modules/realtime/liveness.sweeper.js';
import { OnNodeStatusChangedDocument, OnSystemEventsDocument, RecordHeartbeatDocument } from './generated/graphql.js';
import { aComputeNode, aRegisteredNode } from './helpers/builders.js';
import { anotherInstanceBus, bearer, startRealtimeServer, subscribe, untilSubscribedInRedis, wsClient } from './helpers/realtime.js';
import { runPostgresTests, runRedisTests, TEST_REDIS_URL } from './helpers/backing-services.js';
import type { DatabaseKind, SignedInUser, TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

describe.skipIf(!runRedisTests).each(kinds)('the liveness sweeper on %s', (kind) => {
  let server: TestServer;
  let pubsub: PubSub;
  const log = createLogger('silent');

  beforeAll(async () => {
    // No background jobs: only the sweepers these tests run mark nodes failed here.
    server = await startRealtimeServer(kind, { redisUrl: TEST_REDIS_URL, jobsEnabled: false });
    // The sweeper as another instance runs it: same database, same Redis.
    pubsub = anotherInstanceBus(TEST_REDIS_URL);
  });
  afterAll(async () => {
    await pubsub?.close();
    await server?.close();
  });

  async function aNodeSilentFor(user: SignedInUser, seconds: number): Promise<string> {
    const nodeId = (await aRegisteredNode(user, aComputeNode({ status: 'ACTIVE' }))).id;
    await server.db.system.$executeRaw`UPDATE nodes SET last_heartbeat = now() - make_interval(secs => ${seconds}::int) WHERE node_id = ${uuidOf(nodeId)}::uuid`;
    return nodeId;
  }

  const sweeperWith = (timeoutSeconds: number) => new LivenessSweeper(server.db.system, pubsub, log, timeoutSeconds);

  it('marks a silent node failed, records why, and a subscriber sees it', async () => {
    const user = await server.signIn({ role: 'operator' });
    const silent = await aNodeSilentFor(user, 61);
    const lively = await aNodeSilentFor(user, 5);
    const client = wsClient(server.url, bearer(user.token));
    const statuses = subscribe(client, OnNodeStatusChangedDocument, {});
    const events = subscribe(client, OnSystemEventsDocument, { minSeverity: 'ERROR' });
    await untilSubscribedInRedis(TEST_REDIS_URL, Topic.NodeStatusChanged, user.tenantId);
    await untilSubscribedInRedis(TEST_REDIS_URL, Topic.SystemEventRecorded, user.tenantId);

    const result = await sweeperWith(60).sweep();
    if (!result.ran) throw new Error('the sweep did not run');
    expect(result.failed.filter((t) => t.tenantId === user.tenantId).map((t) => [t.nodeId, t.previousStatus, t.status])).toEqual([
      [uuidOf(silent), 'active', 'failed'],
    ]);

    expect(await statuses.next()).toMatchObject({ nodeStatusChanged: { nodeId: silent, previousStatus: 'ACTIVE', status: 'FAILED' } });
    expect(await events.next()).toMatchObject({ systemEvents: { eventType: 'node.failed', severity: 'ERROR', nodeId: silent } });
    expect(statuses.buffered).toBe(0);

    const nodes = await server.db.system.node.findMany({ where: { id: { in: [uuidOf(silent), uuidOf(lively)] } }, select: { id: true, status: true } });
    expect(Object.fromEntries(nodes.map((n) => [n.id, n.status]))).toEqual({ [uuidOf(silent)]: 'failed', [uuidOf(lively)]: 'active' });
    const recorded = await server.db.system.systemEvent.findMany({ where: { tenantId: user.tenantId, eventType: 'node.failed' } });
    expect(recorded.map((e) => [e.sourceNodeId, e.severity, e.sourceComponent, e.message])).toEqual([
      [uuidOf(silent), 'error', 'heartbeat-monitor', expect.stringMatching(/is failed \(was active\): no heartbeat for more than 60 s$/)],
    ]);

    // A heartbeat brings it back, and that is announced too.
    await user.request(RecordHeartbeatDocument, { input: { nodeId: silent, status: 'HEALTHY', load: 0.2 } });
    expect(await statuses.next()).toMatchObject({ nodeStatusChanged: { nodeId: silent, previousStatus: 'FAILED', status: 'ACTIVE' } });
    await client.dispose();
  });

  it('uses the configured threshold', async () => {
    const user = await server.signIn({ role: 'operator' });
    const nodeId = await aNodeSilentFor(user, 30);
    const mine = (result: Awaited<ReturnType<LivenessSweeper['sweep']>>) =>
      result.ran ? result.failed.filter((t) => t.tenantId === user.tenantId).map((t) => t.nodeId) : ['skipped'];
    expect(mine(await sweeperWith(60).sweep())).toEqual([]);
    expect(mine(await sweeperWith(20).sweep())).toEqual([uuidOf(nodeId)]);
  });

  // PGlite is a single session serving one transaction at a time: there is no second holder to exclude.
  it.skipIf(kind === 'pglite')('runs on one instance at a time: while another holds the lock, a sweep does nothing', async () => {
    const user = await server.signIn({ role: 'operator' });
    const nodeId = await aNodeSilentFor(user, 120);
    const other = new pg.Client({ connectionString: server.rawDatabaseUrl });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT pg_advisory_xact_lock($1)', [lockKey(LIVENESS_LOCK).toString()]);
      expect(await sweeperWith(60).sweep()).toEqual({ ran: false });
      expect((await server.db.system.node.findUniqueOrThrow({ where: { id: uuidOf(nodeId) } })).status).toBe('active');
      await other.query('COMMIT');
    } finally {
      await other.end();
    }
    const result = await sweeperWith(60).sweep();
    expect(result.ran && result.failed.map((t) => t.nodeId)).toContain(uuidOf(nodeId));
  });

  it('fails a node whose agent reports itself unhealthy, and leaves a drained node draining on a healthy heartbeat', async () => {
    const user = await server.signIn({ role: 'operator' });
    const client = wsClient(server.url, bearer(user.token));
    const statuses = subscribe(client, OnNodeStatusChangedDocument, {});
    await untilSubscribedInRedis(TEST_REDIS_URL, Topic.NodeStatusChanged, user.tenantId);
    const nodeId = (await aRegisteredNode(user, aComputeNode({ status: 'ACTIVE' }))).id;
    const drainingId = (await aRegisteredNode(user, aComputeNode({ status: 'DRAINING' }))).id;

    await user.request(RecordHeartbeatDocument, { input: { nodeId: drainingId, status: 'HEALTHY', load: 0.1 } });
    await user.request(RecordHeartbeatDocument, { input: { nodeId, status: 'UNHEALTHY', load: 0.1 } });
    expect(await statuses.next()).toMatchObject({ nodeStatusChanged: { nodeId, previousStatus: 'ACTIVE', status: 'FAILED' } });
    expect(statuses.buffered).toBe(0);
    expect((await server.db.system.node.findUniqueOrThrow({ where: { id: uuidOf(drainingId) } })).status).toBe('draining');
    await client.dispose();
  });
});
