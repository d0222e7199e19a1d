import { encodeGlobalID } from '@pothos/plugin-relay';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Topic, type MetricPoint, type NodeHeartbeat } from '../src/infra/topics.js';
import {
  CreateApiKeyDocument,
  LogoutDocument,
  OnLiveMetricsDocument,
  OnNodeHeartbeatDocument,
  OnNodeLoadDocument,
  RealtimeIngestNodeMetricsDocument,
  RecordHeartbeatDocument,
} from './generated/graphql.js';
import { aComputeNode, aRegisteredNode, rawId } from './helpers/builders.js';
import { aUserWithPassword, login } from './helpers/identity.js';
import {
  anotherInstanceBus,
  bearer,
  PUBSUB_NAMESPACE,
  rawSubscriber,
  startRealtimeServer,
  subscribe,
  untilSubscribedInRedis,
  wsClient,
  type LiveSubscription,
  type RawSubscriber,
} from './helpers/realtime.js';
import { runPostgresTests, runRedisTests, TEST_REDIS_URL } from './helpers/backing-services.js';
import type { DatabaseKind, SignedInUser, TestServer } from './helpers/server.js';
import type { PubSub } from '../src/infra/pubsub.js';

const kind: DatabaseKind = runPostgresTests ? 'postgres' : 'pglite';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Subscribers with the same operation under the same authorization scope share one execution per
 * event; these check that sharing keeps every per-subscriber guarantee.
 */
describe.skipIf(!runRedisTests)('grouped subscriptions', () => {
  let server: TestServer;
  let bus: PubSub;
  // A small send buffer makes a stalled socket count as slow once the kernel's buffers are full; the queues stay out of the way.
  const bufferLimit = 65_536;

  beforeAll(async () => {
    server = await startRealtimeServer(kind, { redisUrl: TEST_REDIS_URL }, {
      WS_SUBSCRIBER_BUFFER_LIMIT_BYTES: String(bufferLimit),
      LIVE_METRICS_QUEUE_LIMIT: '1000000',
      SUBSCRIBER_QUEUE_LIMIT: '1000000',
    });
    bus = anotherInstanceBus(TEST_REDIS_URL);
  });
  afterAll(async () => {
    await bus?.close();
    await server?.close();
  });

  /** Sends `event` until every subscriber got one, then forgets what they got: all are live after it. */
  async function warmUp(send: () => Promise<unknown>, received: () => boolean, forget: () => Promise<void>) {
    for (let attempt = 0; attempt < 100 && !received(); attempt += 1) {
      await send();
      await sleep(100);
    }
    expect(received()).toBe(true);
    await forget();
  }

  const drain = async (...feeds: LiveSubscription<unknown>[]) => {
    for (const feed of feeds) while (feed.buffered > 0) await feed.next();
  };

  const heartbeat = (user: SignedInUser, nodeId: string, load: number) => user.request(RecordHeartbeatDocument, { input: { nodeId, status: 'HEALTHY', load } });

  it('serves two tenants with identical subscriptions only their own events', async () => {
    const mine = await server.signIn({ role: 'operator' });
    const colleague = await server.signIn({ role: 'operator', tenantId: mine.tenantId });
    const theirs = await server.signIn({ role: 'operator' });
    const [myNode, theirNode] = [(await aRegisteredNode(mine, aComputeNode())).id, (await aRegisteredNode(theirs, aComputeNode())).id];
    const clients = [mine, colleague, theirs].map((user) => wsClient(server.url, bearer(user.token)));
    const [myFeed, colleagueFeed, theirFeed] = clients.map((client) => subscribe(client, OnNodeHeartbeatDocument, {}));
    await untilSubscribedInRedis(TEST_REDIS_URL, Topic.NodeHeartbeatsRecorded, mine.tenantId);
    await untilSubscribedInRedis(TEST_REDIS_URL, Topic.NodeHeartbeatsRecorded, theirs.tenantId);
    await warmUp(
      async () => Promise.all([heartbeat(mine, myNode, 0.01), heartbeat(theirs, theirNode, 0.01)]),
      () => myFeed!.buffered > 0 && colleagueFeed!.buffered > 0 && theirFeed!.buffered > 0,
      () => drain(myFeed!, colleagueFeed!, theirFeed!),
    );

    await heartbeat(theirs, theirNode, 0.7);
    await heartbeat(mine, myNode, 0.3);
    await heartbeat(theirs, theirNode, 0.8);
    for (const feed of [myFeed!, colleagueFeed!]) expect((await feed.next()).nodeHeartbeat).toMatchObject({ nodeId: myNode, load: 0.3 });
    expect((await theirFeed!.next()).nodeHeartbeat).toMatchObject({ nodeId: theirNode, load: 0.7 });
    expect((await theirFeed!.next()).nodeHeartbeat).toMatchObject({ nodeId: theirNode, load: 0.8 });
    await heartbeat(mine, myNode, 0.4);
    for (const feed of [myFeed!, colleagueFeed!]) expect((await feed.next()).nodeHeartbeat).toMatchObject({ nodeId: myNode, load: 0.4 });
    await Promise.all(clients.map((client) => client.dispose()));
  });

  it('gives a user, a read-only user and a narrowly scoped API key with the same operation what each may see', async () => {
    const admin = await server.signIn({ role: 'admin' });
    const reader = await server.signIn({ role: 'readonly', tenantId: admin.tenantId });
    const nodeId = (await aRegisteredNode(admin, aComputeNode())).id;
    const environment = await server.db.system.environment.create({ data: { tenantId: admin.tenantId, name: 'prod' } });
    const created = await admin.request(CreateApiKeyDocument, {
      input: { name: 'wallboard', environmentId: encodeGlobalID('Environment', environment.id), scopes: ['cluster:read'] },
    });
    const key = created.data?.createApiKey;
    if (key?.__typename !== 'CreateApiKeySuccess') throw new Error(JSON.stringify(created));
    const clients = [wsClient(server.url, bearer(admin.token)), wsClient(server.url, bearer(reader.token)), wsClient(server.url, { apiKey: key.created.secret })];
    const [adminFeed, readerFeed, keyFeed] = clients.map((client) => subscribe(client, OnLiveMetricsDocument, {}));

    // The key may not read metrics: its subscription is refused, whoever else shares the operation.
    await expect(keyFeed!.next()).rejects.toThrow(/subscription error/);
    const ingest = (value: number) =>
      admin.request(RealtimeIngestNodeMetricsDocument, { input: { points: [{ nodeId, metricType: 'cpu_usage', value, time: new Date().toISOString() }] } });
    await untilSubscribedInRedis(TEST_REDIS_URL, Topic.MetricsIngested, admin.tenantId);
    await warmUp(() => ingest(1), () => adminFeed!.buffered > 0 && readerFeed!.buffered > 0, () => drain(adminFeed!, readerFeed!));

    await ingest(42);
    for (const feed of [adminFeed!, readerFeed!]) {
      expect((await feed.next()).liveMetrics).toMatchObject({ droppedPoints: 0, points: [{ nodeId, metricType: 'cpu_usage', value: 42 }] });
    }
    await Promise.all(clients.map((client) => client.dispose()));
  });

  it('closes the socket of a signed-out member of a group and keeps serving the others', async () => {
    const admin = await server.signIn({ role: 'admin' });
    const nodeId = (await aRegisteredNode(admin, aComputeNode())).id;
    const user = await aUserWithPassword(admin, 'operator');
    const [first, second] = [(await login(server, user.username, user.password)).tokens!, (await login(server, user.username, user.password)).tokens!];
    const clients = [wsClient(server.url, bearer(first.accessToken)), wsClient(server.url, bearer(second.accessToken))];
    const [leaving, staying] = clients.map((client) => subscribe(client, OnNodeHeartbeatDocument, {}));
    await untilSubscribedInRedis(TEST_REDIS_URL, Topic.NodeHeartbeatsRecorded, admin.tenantId);
    await warmUp(() => heartbeat(admin, nodeId, 0.01), () => leaving!.buffered > 0 && staying!.buffered > 0, () => drain(leaving!, staying!));

    await server.withHeaders(bearer(first.accessToken)).request(LogoutDocument, {});
    expect(await leaving!.ended()).toMatchObject({ code: 4401, reason: 'Credentials revoked' });
    await heartbeat(admin, nodeId, 0.5);
    expect((await staying!.next()).nodeHeartbeat).toMatchObject({ nodeId, load: 0.5 });
    await Promise.all(clients.map((client) => client.dispose()));
  });

  /** Two sockets of one principal with the same operation (one group); events published by another instance. */
  async function aFastAndAStalledScreen<R, V>(document: Parameters<typeof rawSubscriber<R, V>>[2], topic: Parameters<PubSub['publish']>[0], warm: () => Promise<unknown>) {
    const admin = await server.signIn({ role: 'admin' });
    const fast = await rawSubscriber(server.url, bearer(admin.token), document, {} as V);
    const stalled = await rawSubscriber(server.url, bearer(admin.token), document, {} as V);
    await untilSubscribedInRedis(TEST_REDIS_URL, topic, admin.tenantId);
    const got = (screen: RawSubscriber) => screen.messages.length > 0;
    await warmUp(() => warm.call(admin), () => got(fast) && got(stalled), async () => {
      await sleep(100);
      fast.messages.length = 0;
      stalled.messages.length = 0;
    });
    stalled.pause();
    return { admin, fast, stalled };
  }

  it('drops the oldest metric points of a stalled socket and counts them, while its group is served in full', async () => {
    let tenantId = '';
    const point = (i: number): MetricPoint => ({ nodeId: null, sessionId: null, metricType: 'gpu_utilization', value: i, unit: 'percent', time: new Date().toISOString() });
    const { fast, stalled } = await aFastAndAStalledScreen(OnLiveMetricsDocument, Topic.MetricsIngested, async function (this: SignedInUser) {
      tenantId = this.tenantId;
      await bus.publish(Topic.MetricsIngested, { tenantId, points: [point(0)] });
    });
    const batches = 100;
    const perBatch = 1_000;
    type Batch = { liveMetrics: { droppedPoints: number; points: unknown[] } };
    const tally = (screen: RawSubscriber) =>
      screen.messages.reduce(
        (sum, message) => {
          const batch = (message.payload as { data: Batch }).data.liveMetrics;
          return { points: sum.points + batch.points.length, dropped: sum.dropped + batch.droppedPoints };
        },
        { points: 0, dropped: 0 },
      );

    // Every point reaches the fast socket while the stalled one reads nothing; the fast one is never far behind.
    for (let b = 1; b <= batches; b += 1) {
      await bus.publish(Topic.MetricsIngested, { tenantId, points: Array.from({ length: perBatch }, (_, i) => point(i)) });
      await fast.until(() => tally(fast).points === b * perBatch);
    }
    expect(tally(fast)).toEqual({ points: batches * perBatch, dropped: 0 });

    // Points skipped are told with the next batch the socket takes: one more point follows until all are accounted for.
    stalled.resume();
    let published = batches * perBatch;
    for (let attempt = 0; attempt < 100 && tally(stalled).points + tally(stalled).dropped !== published; attempt += 1) {
      await bus.publish(Topic.MetricsIngested, { tenantId, points: [point(0)] });
      published += 1;
      await sleep(200);
    }
    expect(tally(stalled).points + tally(stalled).dropped).toBe(published);
    expect(tally(stalled).dropped).toBeGreaterThan(0);
    expect(stalled.messages.every((message) => message.type === 'next')).toBe(true);
    fast.close();
    stalled.close();
  });

  it('ends the heartbeat subscription of a stalled socket with SUBSCRIBER_TOO_SLOW, while its group is served in full', async () => {
    let tenantId = '';
    const beat = (load: number): NodeHeartbeat => ({ nodeId: 'node-1', status: 'healthy', load, at: new Date().toISOString() });
    const { fast, stalled } = await aFastAndAStalledScreen(OnNodeHeartbeatDocument, Topic.NodeHeartbeatsRecorded, async function (this: SignedInUser) {
      tenantId = this.tenantId;
      await bus.publish(Topic.NodeHeartbeatsRecorded, { tenantId, heartbeats: [beat(0)] });
    });
    const events = 200;
    const perEvent = 500;
    for (let e = 1; e <= events; e += 1) {
      await bus.publish(Topic.NodeHeartbeatsRecorded, { tenantId, heartbeats: Array.from({ length: perEvent }, (_, i) => beat(i / perEvent)) });
      await fast.until((messages) => messages.length === e * perEvent);
    }
    expect(fast.messages.every((message) => message.type === 'next')).toBe(true);

    stalled.resume();
    await stalled.until((messages) => messages.at(-1)?.type === 'error');
    expect(stalled.messages.length).toBeLessThan(events * perEvent);
    expect(stalled.messages.at(-1)?.payload).toMatchObject([{ extensions: { code: 'SUBSCRIBER_TOO_SLOW', limit: bufferLimit } }]);
    fast.close();
    stalled.close();
  });

  it('writes frames a graphql-ws client reads, whatever the subscription id and the frame length', async () => {
    const admin = await server.signIn({ role: 'admin' });
    const nodeId = (await aRegisteredNode(admin, aComputeNode())).id;
    // Ids that JSON must escape: quotes, a backslash, control characters, characters beyond ASCII.
    let n = 0;
    const ids: string[] = [];
    const generateID = () => {
      ids.push(`"${(n += 1)}" \\ \n\t\u0001 ü 🚀 </script>`);
      return ids.at(-1)!;
    };
    const client = wsClient(server.url, bearer(admin.token), { generateID });
    const small = subscribe(client, OnNodeLoadDocument, {});
    const medium = subscribe(client, OnNodeHeartbeatDocument, { nodeId });
    const large = subscribe(client, OnLiveMetricsDocument, {});
    await untilSubscribedInRedis(TEST_REDIS_URL, Topic.NodeHeartbeatsRecorded, admin.tenantId);
    await untilSubscribedInRedis(TEST_REDIS_URL, Topic.MetricsIngested, admin.tenantId);
    await warmUp(() => heartbeat(admin, nodeId, 0.01), () => small.buffered > 0 && medium.buffered > 0, () => drain(small, medium));
    expect(ids).toHaveLength(3);

    await heartbeat(admin, nodeId, 0.5);
    const point = (i: number): MetricPoint => ({ nodeId: null, sessionId: null, metricType: 'gpu_utilization', value: i, unit: 'percent', time: new Date().toISOString() });
    await bus.publish(Topic.MetricsIngested, { tenantId: admin.tenantId, points: Array.from({ length: 1_000 }, (_, i) => point(i)) });
    // A heartbeat records its load as a metric too, and a feed hands over the points queued when read: count the published ones.
    const values: number[] = [];
    let largest = (await large.next()).liveMetrics;
    for (let batch = largest; ; batch = (await large.next()).liveMetrics) {
      if (batch.points.length > largest.points.length) largest = batch;
      for (const point of batch.points) if (point.metricType === 'gpu_utilization') values.push(point.value);
      if (values.length === 1_000) break;
    }
    expect(values).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    const received = { small: await small.next(), medium: await medium.next(), large: { liveMetrics: largest } };
    expect(received.small).toEqual({ nodeHeartbeat: { load: 0.5 } });
    expect(received.medium.nodeHeartbeat).toMatchObject({ nodeId, load: 0.5 });
    // The three lengths a WebSocket frame header encodes: in its second byte, in 16 bits, in 64 bits.
    const frameLength = (i: number, data: unknown) => Buffer.byteLength(JSON.stringify({ id: ids[i], type: 'next', payload: { data } }));
    expect(frameLength(0, received.small)).toBeLessThan(126);
    expect(frameLength(1, received.medium)).toBeGreaterThanOrEqual(126);
    expect(frameLength(1, received.medium)).toBeLessThan(65_536);
    expect(frameLength(2, received.large)).toBeGreaterThanOrEqual(65_536);
    await client.dispose();
  });

  it("writes the realtime store's Redis keys under the deployment's namespace", async () => {
    const admin = await server.signIn({ role: 'admin' });
    const nodeId = (await aRegisteredNode(admin, aComputeNode())).id;
    await heartbeat(admin, nodeId, 0.2);
    const redis = new Redis(TEST_REDIS_URL);
    try {
      expect(await redis.exists(`${PUBSUB_NAMESPACE}:node:heartbeat:${rawId(nodeId)}`)).toBe(1);
      expect(await redis.exists(`node:heartbeat:${rawId(nodeId)}`)).toBe(0);
    } finally {
      redis.disconnect();
    }
  });
});
