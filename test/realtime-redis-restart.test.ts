import { connect, createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PubSub } from '../src/infra/pubsub.js';
import { Topic } from '../src/infra/topics.js';
import { ClusterNodesDocument, OnNodeHeartbeatDocument, RecordHeartbeatDocument } from './generated/graphql.js';
import { aComputeNode, aRegisteredNode } from './helpers/builders.js';
import { anotherInstanceBus, bearer, eventually, startOwnRedis, startRealtimeServer, subscribe, untilSubscribedInRedis, wsClient, type OwnRedis } from './helpers/realtime.js';
import { runPostgresTests, runRedisTests } from './helpers/backing-services.js';
import type { DatabaseKind, TestServer } from './helpers/server.js';

// Heartbeats reach PostgreSQL a tenth of a second after they arrive here, so the test need not wait long.
const FAST_HEARTBEAT_FLUSH = { HEARTBEAT_FLUSH_INTERVAL_MS: '100' };

const kind: DatabaseKind = runPostgresTests ? 'postgres' : 'pglite';
const nodeUuid = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

describe.skipIf(!runRedisTests)('a Redis restart under two API instances', () => {
  let redis: OwnRedis;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    redis = await startOwnRedis();
    a = await startRealtimeServer(kind, { redisUrl: redis.url }, FAST_HEARTBEAT_FLUSH);
    b = await startRealtimeServer(kind, { redisUrl: redis.url, databaseUrl: a.rawDatabaseUrl }, FAST_HEARTBEAT_FLUSH);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await redis?.stop();
  });

  it('keeps the API and the sockets up while Redis is down, and delivery resumes when it is back', async () => {
    const user = await a.signIn({ role: 'operator' });
    const nodeId = (await aRegisteredNode(user, aComputeNode())).id;
    const onA = wsClient(a.url, bearer(user.token));
    const onB = wsClient(b.url, bearer(user.token));
    const feedOnA = subscribe(onA, OnNodeHeartbeatDocument, { nodeId });
    const feedOnB = subscribe(onB, OnNodeHeartbeatDocument, { nodeId });
    await untilSubscribedInRedis(redis.url, Topic.NodeHeartbeatsRecorded, user.tenantId, 2);
    const beat = (load: number) => user.request(RecordHeartbeatDocument, { input: { nodeId, status: 'HEALTHY', load } });

    await beat(0.1);
    expect((await feedOnB.next()).nodeHeartbeat.load).toBe(0.1);
    expect((await feedOnA.next()).nodeHeartbeat.load).toBe(0.1);

    await redis.stop();
    await eventually(async () => ((await a.get('/readyz')).status === 503 ? true : undefined), 'A to report Redis down');

    // Mutations and queries keep working; the subscriber on the same instance still hears the heartbeat.
    const during = await beat(0.2);
    expect(during.data?.recordHeartbeat).toMatchObject({ __typename: 'RecordHeartbeatSuccess', heartbeat: { load: 0.2 } });
    const heardAt = new Date((during.data!.recordHeartbeat as { heartbeat: { at: string } }).heartbeat.at);
    expect((await feedOnA.next()).nodeHeartbeat.load).toBe(0.2);
    const listed = await b.withHeaders(user.headers).request(ClusterNodesDocument, { first: 5 });
    expect(listed.data?.nodes.edges.map((edge) => edge.node.id)).toEqual([nodeId]);
    // The heartbeat still reaches PostgreSQL.
    const stored = await eventually(async () => {
      const node = await a.db.system.node.findUniqueOrThrow({ where: { id: nodeUuid(nodeId) } });
      return node.lastHeartbeat && node.lastHeartbeat.getTime() === heardAt.getTime() ? node.lastHeartbeat : undefined;
    }, 'last_heartbeat to be written');
    expect(stored.toISOString()).toBe(heardAt.toISOString());

    await redis.start();
    await eventually(async () => ((await a.get('/readyz')).status === 200 && (await b.get('/readyz')).status === 200 ? true : undefined), 'both ready again');
    await untilSubscribedInRedis(redis.url, Topic.NodeHeartbeatsRecorded, user.tenantId, 2);

    await beat(0.3);
    // The heartbeat held during the outage may arrive first, resent once Redis returned; nothing else may.
    let received = (await feedOnB.next()).nodeHeartbeat.load;
    if (received === 0.2) received = (await feedOnB.next()).nodeHeartbeat.load;
    expect(received).toBe(0.3);
    expect((await feedOnA.next()).nodeHeartbeat.load).toBe(0.3);
    expect(feedOnB.buffered).toBe(0);

    await onA.dispose();
    await onB.dispose();
  });
});

/** A Redis of the describe's own, started before its tests, and the buses they open on it, closed after. */
function ownRedisWithBuses(): { redis: () => OwnRedis; buses: PubSub[] } {
  let redis: OwnRedis | undefined;
  const buses: PubSub[] = [];
  beforeAll(async () => {
    redis = await startOwnRedis();
  });
  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.close()));
    await redis?.stop();
  });
  return { redis: () => redis!, buses };
}

describe.skipIf(!runRedisTests)('events published while Redis is away', () => {
  const { redis, buses } = ownRedisWithBuses();

  it('are held and sent to the other instances when Redis is back', async () => {
    // The resend waits two seconds after the publisher reconnects, longer than a subscriber's reconnect backoff (at most one).
    const publisher = anotherInstanceBus(redis().url, { resendDelayMs: 2_000 });
    const listener = anotherInstanceBus(redis().url);
    buses.push(publisher, listener);
    const tenantId = '00000000-0000-4000-8000-000000000001';
    const heard: number[] = [];
    listener.listen(Topic.NodeHeartbeatsRecorded, tenantId, (event) => heard.push(event.heartbeats[0]!.load));
    await untilSubscribedInRedis(redis().url, Topic.NodeHeartbeatsRecorded, tenantId);
    const publish = (load: number) =>
      publisher.publish(Topic.NodeHeartbeatsRecorded, { tenantId, heartbeats: [{ nodeId: tenantId, status: 'healthy', load, at: new Date().toISOString() }] });

    await publish(1);
    await eventually(async () => (heard.length === 1 ? true : undefined), 'the first event');

    await redis().stop();
    await eventually(async () => (!publisher.isConnected() ? true : undefined), 'the publisher to notice');
    await publish(2);
    await publish(3);

    await redis().start();
    await eventually(async () => (heard.length === 3 ? true : undefined), 'the held events', 200, 50);
    expect(heard).toEqual([1, 2, 3]);
  });
});

/**
 * A TCP hop to Redis that, once a connection sends SUBSCRIBE, holds what Redis answers on it until a
 * published message has come too, then passes both on in one write: the subscribe reply and the
 * first message reach the client together, as they do when its process is slow to read.
 */
async function subscribeReplyHoldingProxy(redisUrl: string): Promise<{ url: string; released: Promise<void>; close(): Promise<void> }> {
  const target = new URL(redisUrl);
  const sockets: Socket[] = [];
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const proxy = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.push(client, upstream);
    let held: Buffer[] | undefined;
    client.on('data', (chunk) => {
      if (!held && chunk.toString().toLowerCase().includes('subscribe')) held = [];
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!held) return void client.write(chunk);
      held.push(chunk);
      const waiting = Buffer.concat(held);
      if (!waiting.includes('\r\nmessage\r\n')) return;
      held = undefined;
      client.write(waiting);
      release();
    });
    for (const socket of [client, upstream]) socket.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    released,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}

describe.skipIf(!runRedisTests)('a subscription Redis has taken', () => {
  const { redis, buses } = ownRedisWithBuses();

  it('hears an event that arrives together with the subscribe reply', async () => {
    const proxy = await subscribeReplyHoldingProxy(redis().url);
    try {
      const publisher = anotherInstanceBus(redis().url);
      const listener = anotherInstanceBus(proxy.url);
      buses.push(publisher, listener);
      const tenantId = '00000000-0000-4000-8000-000000000002';
      const heard: number[] = [];
      listener.listen(Topic.NodeHeartbeatsRecorded, tenantId, (event) => heard.push(event.heartbeats[0]!.load));
      await untilSubscribedInRedis(redis().url, Topic.NodeHeartbeatsRecorded, tenantId);
      await publisher.publish(Topic.NodeHeartbeatsRecorded, { tenantId, heartbeats: [{ nodeId: tenantId, status: 'healthy', load: 1, at: new Date().toISOString() }] });
      await proxy.released;
      await eventually(async () => (heard.length === 1 ? true : undefined), 'the event sent with the subscribe reply');
      expect(heard).toEqual([1]);
    } finally {
      await Promise.all(buses.splice(0).map((bus) => bus.close()));
      await proxy.close();
    }
  });
});
