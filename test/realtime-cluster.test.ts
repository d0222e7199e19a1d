import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { Topic, type TopicName } from '../src/infra/topics.js';
import {
  ClusterStateNowDocument,
  LatestNodeMetricsDocument,
  LiveNodeHeartbeatsDocument,
  type LiveNodeHeartbeatsQueryVariables,
  OnClusterStateDocument,
  OnLiveMetricsDocument,
  OnNodeHeartbeatDocument,
  OnNodeStatusChangedDocument,
  OnSessionStateChangedDocument,
  OnSystemEventsDocument,
  RealtimeIngestNodeMetricsDocument,
  RealtimeRecordSystemEventDocument,
  RecordHeartbeatDocument,
  RecordHeartbeatsDocument,
  SessionLiveStateDocument,
} from './generated/graphql.js';
import { aComputeNode, aPendingSession, aRegisteredNode } from './helpers/builders.js';
import { bearer, startRealtimeServer, subscribe, untilSubscribedInRedis, wsClient } from './helpers/realtime.js';
import { runPostgresTests, runRedisTests, TEST_REDIS_URL } from './helpers/backing-services.js';
import type { DatabaseKind, SignedInUser, TestServer } from './helpers/server.js';

// Instances share a PostgreSQL; the embedded database serves one process, so two share it only where PostgreSQL is missing.
const kinds: DatabaseKind[] = runPostgresTests ? ['postgres'] : ['pglite'];

/** A tenant with an operator and one registered node, as a dashboard's user and an agent's node. */
interface Tenant {
  user: SignedInUser;
  nodeId: string;
  /** a graphql-ws client of this user connected to instance B */
  onB: Client;
}

describe.skipIf(!runRedisTests).each(kinds)('real-time events across two API instances sharing Redis, on %s', (kind) => {
  let a: TestServer;
  let b: TestServer;
  const clients: Client[] = [];

  beforeAll(async () => {
    a = await startRealtimeServer(kind, { redisUrl: TEST_REDIS_URL });
    b = await startRealtimeServer(kind, { redisUrl: TEST_REDIS_URL, databaseUrl: a.rawDatabaseUrl });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await b?.close();
    await a?.close();
  });

  async function aTenant(nodeStatus: 'ACTIVE' | 'INACTIVE' = 'ACTIVE'): Promise<Tenant> {
    const user = await a.signIn({ role: 'operator' });
    const node = await aRegisteredNode(user, aComputeNode({ status: nodeStatus }));
    const onB = wsClient(b.url, bearer(user.token));
    clients.push(onB);
    return { user, nodeId: node.id, onB };
  }

  /** Both tenants' subscribers are live on B: each tenant's channel of the topic has B subscribed in Redis. */
  const live = (topic: TopicName, ...tenants: Tenant[]) => Promise.all(tenants.map((t) => untilSubscribedInRedis(TEST_REDIS_URL, topic, t.user.tenantId)));

  it('delivers a heartbeat recorded on A to a subscriber on B, and only to its own tenant', async () => {
    const [mine, theirs] = [await aTenant(), await aTenant()];
    const myFeed = subscribe(mine.onB, OnNodeHeartbeatDocument, {});
    const theirFeed = subscribe(theirs.onB, OnNodeHeartbeatDocument, {});
    await live(Topic.NodeHeartbeatsRecorded, mine, theirs);

    // Their heartbeat goes first: had it leaked, it would be the first thing my subscriber sees.
    await theirs.user.request(RecordHeartbeatDocument, { input: { nodeId: theirs.nodeId, status: 'DEGRADED', load: 0.9 } });
    const recorded = await mine.user.request(RecordHeartbeatDocument, { input: { nodeId: mine.nodeId, status: 'HEALTHY', load: 0.25 } });
    expect(recorded.data?.recordHeartbeat.__typename).toBe('RecordHeartbeatSuccess');

    expect(await myFeed.next()).toMatchObject({ nodeHeartbeat: { nodeId: mine.nodeId, status: 'HEALTHY', load: 0.25 } });
    expect(await theirFeed.next()).toMatchObject({ nodeHeartbeat: { nodeId: theirs.nodeId, status: 'DEGRADED', load: 0.9 } });
    expect(myFeed.buffered).toBe(0);
    expect(theirFeed.buffered).toBe(0);
  });

  it("refuses to subscribe to another tenant's node by id", async () => {
    const [mine, theirs] = [await aTenant(), await aTenant()];
    const feed = subscribe(mine.onB, OnNodeHeartbeatDocument, { nodeId: theirs.nodeId });
    await expect(feed.next()).rejects.toThrow(/^subscription error: Node [0-9a-f-]{36} was not found$/);
    expect(await feed.ended()).toBeUndefined();
  });

  it('delivers a status transition caused on A (a first heartbeat brings an inactive node up) to B, per tenant', async () => {
    const [mine, theirs] = [await aTenant('INACTIVE'), await aTenant('INACTIVE')];
    const myFeed = subscribe(mine.onB, OnNodeStatusChangedDocument, {});
    const theirFeed = subscribe(theirs.onB, OnNodeStatusChangedDocument, { nodeId: theirs.nodeId });
    await live(Topic.NodeStatusChanged, mine, theirs);

    await theirs.user.request(RecordHeartbeatDocument, { input: { nodeId: theirs.nodeId, status: 'HEALTHY', load: 0.1 } });
    await mine.user.request(RecordHeartbeatDocument, { input: { nodeId: mine.nodeId, status: 'HEALTHY', load: 0.1 } });

    expect(await myFeed.next()).toMatchObject({ nodeStatusChanged: { nodeId: mine.nodeId, previousStatus: 'INACTIVE', status: 'ACTIVE' } });
    expect(await theirFeed.next()).toMatchObject({ nodeStatusChanged: { nodeId: theirs.nodeId, previousStatus: 'INACTIVE', status: 'ACTIVE' } });
    expect(myFeed.buffered).toBe(0);
  });

  it('delivers session state changes made on A to B, per tenant, with the allocation', async () => {
    const [mine, theirs] = [await aTenant(), await aTenant()];
    const myFeed = subscribe(mine.onB, OnSessionStateChangedDocument, {});
    const theirFeed = subscribe(theirs.onB, OnSessionStateChangedDocument, {});
    await live(Topic.SessionStateChanged, mine, theirs);

    const session = { cpuRequest: 1, memoryRequestGb: 1, maxRuntimeMinutes: 30 };
    const theirId = (await aPendingSession(theirs.user, { ...session, sessionName: 'theirs' })).id;
    const myId = (await aPendingSession(mine.user, { ...session, sessionName: 'mine' })).id;
    expect(myId).toBeDefined();

    expect(await myFeed.next()).toEqual({
      sessionStateChanged: { sessionId: myId, userId: mine.user.userId, previousStatus: null, status: 'PENDING', nodeId: null, allocations: [], reason: null },
    });
    expect((await theirFeed.next()).sessionStateChanged).toMatchObject({ sessionId: theirId, status: 'PENDING' });

    // The cache the dashboards read holds it too, for the tenant only.
    const state = await mine.user.request(SessionLiveStateDocument, { sessionId: myId! });
    expect(state.data?.sessionLiveState).toMatchObject({ sessionId: myId, status: expect.stringMatching(/^(PENDING|SCHEDULED)$/) });
    const foreign = await theirs.user.request(SessionLiveStateDocument, { sessionId: myId! });
    expect(foreign.errors).toBeUndefined();
    expect(foreign.data?.sessionLiveState).toBeNull();
  });

  it('delivers metric points ingested on A to B, filtered by tenant and metric type', async () => {
    const [mine, theirs] = [await aTenant(), await aTenant()];
    const myFeed = subscribe(mine.onB, OnLiveMetricsDocument, { nodeId: mine.nodeId, metricTypes: ['cpu_usage'] });
    const theirFeed = subscribe(theirs.onB, OnLiveMetricsDocument, {});
    await live(Topic.MetricsIngested, mine, theirs);

    const time = new Date().toISOString();
    await theirs.user.request(RealtimeIngestNodeMetricsDocument, { input: { points: [{ nodeId: theirs.nodeId, metricType: 'cpu_usage', value: 99, time }] } });
    await mine.user.request(RealtimeIngestNodeMetricsDocument, {
      input: {
        points: [
          { nodeId: mine.nodeId, metricType: 'memory_usage', value: 10, time, unit: 'percent' },
          { nodeId: mine.nodeId, metricType: 'cpu_usage', value: 42.5, time, unit: 'percent' },
        ],
      },
    });

    const batch = (await myFeed.next()).liveMetrics;
    expect(batch.droppedPoints).toBe(0);
    expect(batch.points).toHaveLength(1);
    expect(batch.points[0]).toMatchObject({ nodeId: mine.nodeId, metricType: 'cpu_usage', value: 42.5, time });
    expect((await theirFeed.next()).liveMetrics.points.map((p) => [p.nodeId, p.value])).toEqual([[theirs.nodeId, 99]]);
    expect(myFeed.buffered).toBe(0);

    // Dashboards read the latest point per metric from the cache, on either instance, for their tenant only.
    const latest = await b.withHeaders(mine.user.headers).request(LatestNodeMetricsDocument, { nodeId: mine.nodeId });
    expect(latest.data?.latestNodeMetrics.edges.map((e) => [e.node.metricType, e.node.value])).toEqual([
      ['cpu_usage', 42.5],
      ['memory_usage', 10],
    ]);
    const foreign = await theirs.user.request(LatestNodeMetricsDocument, { nodeId: mine.nodeId });
    expect(foreign.data?.latestNodeMetrics.edges).toEqual([]);
  });

  it('delivers system events recorded on A to B, per tenant and from the minimum severity up', async () => {
    const [mine, theirs] = [await aTenant(), await aTenant()];
    const myFeed = subscribe(mine.onB, OnSystemEventsDocument, { minSeverity: 'ERROR' });
    const theirFeed = subscribe(theirs.onB, OnSystemEventsDocument, {});
    await live(Topic.SystemEventRecorded, mine, theirs);

    const event = (severity: 'WARNING' | 'ERROR' | 'INFO', eventType: string) => ({ eventType, severity, sourceComponent: 'test', message: eventType });
    await theirs.user.request(RealtimeRecordSystemEventDocument, { input: event('ERROR', 'their.error') });
    await mine.user.request(RealtimeRecordSystemEventDocument, { input: { ...event('WARNING', 'my.warning'), sourceNodeId: mine.nodeId } });
    const recorded = await mine.user.request(RealtimeRecordSystemEventDocument, { input: { ...event('ERROR', 'my.error'), sourceNodeId: mine.nodeId } });
    const eventId = recorded.data?.recordSystemEvent.__typename === 'RecordSystemEventSuccess' ? recorded.data.recordSystemEvent.event.eventId : undefined;

    expect(await myFeed.next()).toEqual({ systemEvents: { eventId, eventType: 'my.error', severity: 'ERROR', nodeId: mine.nodeId, sessionId: null } });
    expect((await theirFeed.next()).systemEvents).toMatchObject({ eventType: 'their.error', severity: 'ERROR' });
    expect(myFeed.buffered).toBe(0);
  });

  it('sends the cluster state at once, then its changes made on A, per tenant', async () => {
    const [mine, theirs] = [await aTenant(), await aTenant()];
    const myFeed = subscribe(mine.onB, OnClusterStateDocument);
    const theirFeed = subscribe(theirs.onB, OnClusterStateDocument);
    expect((await myFeed.next()).clusterState).toMatchObject({ totalNodes: 1, activeNodes: 1, totalSessions: 0 });
    expect((await theirFeed.next()).clusterState).toMatchObject({ totalNodes: 1, activeNodes: 1, totalSessions: 0 });
    await live(Topic.ClusterStateChanged, mine, theirs);

    // Theirs grows to 3 nodes first, mine to 2: a leak would show 3 on my side.
    await aRegisteredNode(theirs.user, aComputeNode({ status: 'ACTIVE' }));
    await aRegisteredNode(theirs.user, aComputeNode({ status: 'INACTIVE' }));
    await aRegisteredNode(mine.user, aComputeNode({ status: 'MAINTENANCE' }));
    await mine.user.request(RecordHeartbeatDocument, { input: { nodeId: mine.nodeId, status: 'HEALTHY', load: 0.5 } });

    let state = (await myFeed.next()).clusterState;
    // Coalescing may fold the registration and the heartbeat into one change, or send them apart.
    if (state.clusterLoad === null) state = (await myFeed.next()).clusterState;
    expect(state).toMatchObject({ totalNodes: 2, activeNodes: 1, totalSessions: 0, clusterLoad: 0.5 });
    let theirState = (await theirFeed.next()).clusterState;
    if (theirState.totalNodes < 3) theirState = (await theirFeed.next()).clusterState;
    expect(theirState).toMatchObject({ totalNodes: 3, activeNodes: 2, clusterLoad: null });

    const now = await b.withHeaders(mine.user.headers).request(ClusterStateNowDocument);
    expect(now.data?.clusterState).toMatchObject({ totalNodes: 2, activeNodes: 1, totalSessions: 0, clusterLoad: 0.5 });
  });

  it("lists the tenant's live nodes from the heartbeat index on either instance", async () => {
    const [mine, theirs] = [await aTenant(), await aTenant()];
    await mine.user.request(RecordHeartbeatDocument, { input: { nodeId: mine.nodeId, status: 'HEALTHY', load: 0.3 } });
    await theirs.user.request(RecordHeartbeatDocument, { input: { nodeId: theirs.nodeId, status: 'HEALTHY', load: 0.7 } });
    const listed = await b.withHeaders(mine.user.headers).request(LiveNodeHeartbeatsDocument, { first: 10 });
    expect(listed.data?.liveNodeHeartbeats.edges.map((e) => [e.node.nodeId, e.node.status, e.node.load])).toEqual([[mine.nodeId, 'HEALTHY', 0.3]]);
  });

  it('filters and orders the live nodes, and counts them', async () => {
    const mine = await aTenant();
    const loads = [0.9, 0.2, 0.5];
    const nodeIds = [mine.nodeId, ...(await Promise.all(loads.slice(1).map(async () => (await aRegisteredNode(mine.user, aComputeNode())).id)))];
    for (const [index, nodeId] of nodeIds.entries()) {
      await mine.user.request(RecordHeartbeatDocument, { input: { nodeId, status: index === 2 ? 'DEGRADED' : 'HEALTHY', load: loads[index]! } });
    }
    const list = async (variables: Omit<LiveNodeHeartbeatsQueryVariables, 'first'>) => {
      const result = await mine.user.request(LiveNodeHeartbeatsDocument, { first: 10, ...variables });
      expect(result.errors).toBeUndefined();
      return { loads: result.data!.liveNodeHeartbeats.edges.map((e) => e.node.load), total: result.data!.liveNodeHeartbeats.totalCount };
    };
    expect(await list({})).toEqual({ loads: [0.5, 0.2, 0.9], total: 3 });
    expect(await list({ orderBy: [{ field: 'LOAD', direction: 'ASC' }] })).toEqual({ loads: [0.2, 0.5, 0.9], total: 3 });
    expect(await list({ filter: { status: ['HEALTHY'], minLoad: 0.1, maxLoad: 0.95 }, orderBy: [{ field: 'LOAD' }] })).toEqual({ loads: [0.9, 0.2], total: 2 });
    expect(await list({ filter: { nodeIdIn: [nodeIds[1]!] } })).toEqual({ loads: [0.2], total: 1 });
    const reversed = await mine.user.request(LiveNodeHeartbeatsDocument, { first: 10, filter: { minLoad: 0.6, maxLoad: 0.3 } });
    expect(reversed.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it("takes an agent's batch, refusing the heartbeats of nodes the tenant does not have, and validates each", async () => {
    const [mine, theirs] = [await aTenant(), await aTenant()];
    const batch = await mine.user.request(RecordHeartbeatsDocument, {
      input: {
        heartbeats: [
          { nodeId: mine.nodeId, status: 'DEGRADED', load: 0.8 },
          { nodeId: theirs.nodeId, status: 'HEALTHY', load: 0.1 },
        ],
      },
    });
    expect(batch.data?.recordHeartbeats).toEqual({
      __typename: 'RecordHeartbeatsSuccess',
      batch: { heartbeats: [{ nodeId: mine.nodeId, status: 'DEGRADED', load: 0.8 }], unknownNodeIds: [theirs.nodeId] },
    });
    const foreign = await theirs.user.request(LiveNodeHeartbeatsDocument, { first: 10 });
    expect(foreign.data?.liveNodeHeartbeats.edges).toEqual([]);

    const invalid = await mine.user.request(RecordHeartbeatDocument, { input: { nodeId: mine.nodeId, status: 'HEALTHY', load: 1.5 } });
    expect(invalid.data?.recordHeartbeat).toEqual({ __typename: 'ValidationError', issues: [{ path: 'load', message: 'must be between 0 and 1' }] });
    const unknown = await mine.user.request(RecordHeartbeatDocument, { input: { nodeId: theirs.nodeId, status: 'HEALTHY', load: 0.5 } });
    expect(unknown.data?.recordHeartbeat).toMatchObject({ __typename: 'NotFoundError', resource: 'Node' });
  });
});
