import { loadConfig } from '../src/config.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrismaClient } from '../src/generated/prisma/client.js';
import { createLogger } from '../src/infra/logger.js';
import { createMemoryPubSub } from '../src/infra/pubsub.js';
import { Topic, type MetricPoint } from '../src/infra/topics.js';
import { ClusterStateService } from '../src/modules/realtime/cluster-state.service.js';
import { ConnectionRegistry } from '../src/modules/realtime/connections.js';
import { HeartbeatService } from '../src/modules/realtime/heartbeat.service.js';
import { LatestValueFeed, OrderedFeed, SheddingFeed } from '../src/modules/realtime/live-feed.js';
import { SubscriberTooSlowError } from '../src/modules/shared/errors.js';
import { LiveFeeds } from '../src/modules/realtime/live-feeds.js';
import { MemoryRealtimeStore } from '../src/modules/realtime/realtime.store.js';
import { userPrincipal } from '../src/modules/identity/principal.js';
import { aComputeNode, aRegisteredNode, rawId } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { startTestServer, type DatabaseKind, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const log = createLogger('silent');
const settings = loadConfig({}).realtime;
const TENANT = '00000000-0000-4000-8000-00000000000a';
const OTHER_TENANT = '00000000-0000-4000-8000-00000000000b';
const NODE = '00000000-0000-4000-8000-0000000000c1';
const point = (value: number, nodeId = NODE): MetricPoint => ({ nodeId, sessionId: null, metricType: 'cpu_usage', value, time: new Date(1_700_000_000_000 + value).toISOString() });

describe('subscriber queues', () => {
  it('keeps heartbeats and state changes in order, and ends a subscriber that falls too far behind with a reason', async () => {
    const feed = new OrderedFeed<number>(3);
    feed.push(1);
    feed.push(2);
    expect(await feed.next()).toEqual({ value: 1, done: false });
    feed.push(3);
    feed.push(4);
    feed.push(5);
    await expect(feed.next()).rejects.toBeInstanceOf(SubscriberTooSlowError);
    expect(feed.isOpen).toBe(false);
  });

  it('drops the oldest metric points of a slow reader, and tells it how many it lost', async () => {
    const feed = new SheddingFeed<number>(5);
    for (let value = 1; value <= 12; value += 1) feed.push(value);
    expect(await feed.next()).toEqual({ value: { points: [8, 9, 10, 11, 12], droppedPoints: 7 }, done: false });
    feed.push(13);
    expect(await feed.next()).toEqual({ value: { points: [13], droppedPoints: 0 }, done: false });
  });

  it('hands a waiting reader the next point at once', async () => {
    const feed = new SheddingFeed<number>(5);
    const waiting = feed.next();
    feed.push(1);
    expect(await waiting).toEqual({ value: { points: [1], droppedPoints: 0 }, done: false });
  });

  it('gives a summary reader only the latest value, and no two within the interval', async () => {
    let now = 0;
    const feed = new LatestValueFeed<string>(1_000, () => now);
    feed.push('a');
    feed.push('b');
    expect(await feed.next()).toEqual({ value: 'b', done: false });
    feed.push('c');
    const next = feed.next();
    feed.push('d');
    now = 1_000;
    expect(await next).toEqual({ value: 'd', done: false });
    await feed.return();
  });

  it('ends a feed when its reader leaves, and stops listening', async () => {
    const pubsub = createMemoryPubSub();
    const feeds = new LiveFeeds({} as PrismaClient, pubsub, settings, new ConnectionRegistry(log), {} as ClusterStateService);
    const principal = userPrincipal({ tenantId: TENANT, userId: NODE, role: 'readonly', expiresAt: null });
    const feed = await feeds.liveMetrics(principal, {});
    expect(feeds.open).toBe(1);
    await feed.return?.();
    expect(feeds.open).toBe(0);
    expect(await feed.next()).toEqual({ value: undefined, done: true });
  });
});

describe('live metrics for a slow subscriber', () => {
  it("bounds what waits for it, reports the loss, and never queues another tenant's points", async () => {
    const pubsub = createMemoryPubSub();
    const feeds = new LiveFeeds({} as PrismaClient, pubsub, { ...settings, metricsQueueLimit: 500 }, new ConnectionRegistry(log), {} as ClusterStateService);
    const reader = userPrincipal({ tenantId: TENANT, userId: NODE, role: 'readonly', expiresAt: null });
    const feed = await feeds.liveMetrics(reader, {});

    await pubsub.publish(Topic.MetricsIngested, { tenantId: OTHER_TENANT, points: [point(-1)] });
    for (let batch = 0; batch < 6; batch += 1) {
      await pubsub.publish(Topic.MetricsIngested, { tenantId: TENANT, points: Array.from({ length: 100 }, (_, i) => point(batch * 100 + i)) });
    }
    const { value } = await feed.next();
    expect(value?.droppedPoints).toBe(100);
    expect(value?.points.map((p: MetricPoint) => p.value)).toEqual(Array.from({ length: 500 }, (_, i) => i + 100));
    await feed.return?.();
  });

  it('queues nothing for a principal without the permission', async () => {
    const pubsub = createMemoryPubSub();
    const feeds = new LiveFeeds({} as PrismaClient, pubsub, settings, new ConnectionRegistry(log), {} as ClusterStateService);
    const reader = { ...userPrincipal({ tenantId: TENANT, userId: NODE, role: 'readonly', expiresAt: null }), permissions: new Set<never>() };
    const feed = await feeds.liveMetrics(reader, {});
    await pubsub.publish(Topic.MetricsIngested, { tenantId: TENANT, points: [point(1)] });
    const nothing = await Promise.race([feed.next(), new Promise((resolve) => setImmediate(() => resolve('nothing queued')))]);
    expect(nothing).toBe('nothing queued');
    await feed.return?.();
  });
});

describe('cluster:state upkeep', () => {
  it('recomputes only tenants someone watches, once per run however many changes came', async () => {
    let queries = 0;
    let activeNodes = 1;
    const system = {
      $queryRaw: async () => {
        queries += 1;
        return [{ total_nodes: 2, active_nodes: activeNodes, total_sessions: 0 }];
      },
    } as unknown as PrismaClient;
    const pubsub = createMemoryPubSub();
    const states = new ClusterStateService(system, pubsub, new MemoryRealtimeStore(), log, settings);
    const announced: number[] = [];
    pubsub.listen(Topic.ClusterStateChanged, TENANT, (state) => announced.push(state.activeNodes));
    const change = () => pubsub.publish(Topic.NodeStatusChanged, { tenantId: TENANT, nodeId: NODE, previousStatus: 'active', status: 'failed', at: new Date().toISOString() });

    await change();
    expect(await states.refreshChanged()).toEqual([]);
    expect(queries).toBe(0);

    expect(await states.current(TENANT)).toMatchObject({ totalNodes: 2, activeNodes: 1 });
    expect(queries).toBe(1);
    activeNodes = 0;
    await change();
    await change();
    expect((await states.refreshChanged()).map((state) => state.activeNodes)).toEqual([0]);
    expect(queries).toBe(2);
    expect(announced).toEqual([0]);
    // Unchanged: computed, but neither written nor announced again.
    await change();
    expect(await states.refreshChanged()).toEqual([]);
    expect(announced).toEqual([0]);
    states.close();
  });
});

describe.each(kinds)('coalesced heartbeat writes on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('writes a storm of heartbeats as one statement per flush, one row per node, only for the tenant’s nodes', async () => {
    const user = await server.signIn({ role: 'operator' });
    const stranger = await server.signIn({ role: 'operator' });
    const register = async (as: typeof user) => {
      return rawId((await aRegisteredNode(as, aComputeNode({ status: 'ACTIVE' }))).id);
    };
    const nodes = [await register(user), await register(user), await register(user)];
    const foreignNode = await register(stranger);
    const foreignBefore = (await server.db.system.node.findUniqueOrThrow({ where: { id: foreignNode } })).lastHeartbeat;

    let statements = 0;
    const system = new Proxy(server.db.system, {
      get(target, property, receiver) {
        if (property === '$executeRaw') statements += 1;
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
    // The write-behind timer stays out of the way: this test flushes by hand.
    const heartbeats = new HeartbeatService(server.db.prisma, system, createMemoryPubSub(), new MemoryRealtimeStore(), log, { ...settings, heartbeatFlushIntervalMs: 60_000 });
    const last = new Map<string, string>();
    for (let i = 0; i < 60; i += 1) {
      const nodeId = nodes[i % 3]!;
      const beat = await heartbeats.recordHeartbeat(user.tenantId, { nodeId, status: 'healthy', load: i / 100 });
      last.set(nodeId, beat.at);
    }
    const refused = await heartbeats.recordHeartbeats(user.tenantId, [{ nodeId: foreignNode, status: 'healthy', load: 0.5 }]);
    expect(refused).toEqual({ heartbeats: [], unknownNodeIds: [foreignNode] });
    expect(heartbeats.pendingWrites).toBe(3);
    expect(statements).toBe(0);

    expect(await heartbeats.flush()).toBe(3);
    expect(statements).toBe(1);
    const stored = await server.db.system.node.findMany({ where: { id: { in: [...nodes, foreignNode] } }, select: { id: true, lastHeartbeat: true } });
    for (const nodeId of nodes) expect(stored.find((n) => n.id === nodeId)?.lastHeartbeat?.toISOString()).toBe(last.get(nodeId));
    expect(stored.find((n) => n.id === foreignNode)?.lastHeartbeat).toEqual(foreignBefore);

    expect(await heartbeats.flush()).toBe(0);
    expect(statements).toBe(1);
    await heartbeats.close();
  });
});
