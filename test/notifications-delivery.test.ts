import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../src/infra/db.js';
import { createLogger } from '../src/infra/logger.js';
import { createMemoryPubSub } from '../src/infra/pubsub.js';
import { runInTenant } from '../src/infra/tenant-scope.js';
import { Topic } from '../src/infra/topics.js';
import { DeliveryWorker, retryDelayMs } from '../src/modules/notifications/delivery.worker.js';
import { notificationEventsJob } from '../src/modules/notifications/notification.events.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from '../src/modules/notifications/notification.payloads.js';
import type { NotificationSettings } from '../src/modules/notifications/notification.settings.js';
import type { Services } from '../src/services.js';
import {
  CreateNotificationConfigDocument,
  NotificationDeliveriesDocument,
  NotificationDeliveryByIdDocument,
  RetryNotificationDeliveryDocument,
  SendTestNotificationDocument,
  UpdateNotificationConfigDocument,
  type CreateNotificationConfigInput,
} from './generated/graphql.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { createServerDatabase } from './helpers/run-databases.js';
import { servicesOf, startTestServer, type DatabaseKind, type GraphQLClient, type SignedInUser, type TestServer } from './helpers/server.js';
import { SecretBox } from '../src/infra/secret-box.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const log = createLogger('silent');
const SECRET = 'whsec-delivery-test-secret-0123456789';

/** Fast settings so retries take fractions of a second; loopback is allowed because the receiver is local. */
const FAST: NotificationSettings = {
  allowPrivateTargets: true,
  backoffBaseMs: 200,
  backoffCapMs: 2_000,
  timeoutMs: 2_000,
  leaseMs: 5_000,
  batchSize: 20,
  pollIntervalMs: 50,
};

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number | 'hang';
}

/**
 * A webhook receiver on a spare loopback port. `answer(n)` decides the status of the n-th request
 * (1-based), or 'hang' to never answer it.
 */
async function aReceiver(answer: (n: number) => number | 'hang' = () => 200) {
  const requests: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const status = answer(requests.length + 1);
      requests.push({ path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      if (status !== 'hang') response.writeHead(status).end(status < 300 ? 'ok' : 'receiver unavailable');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    requests,
    url: (route: string) => `http://127.0.0.1:${port}${route}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `done` holds; fails (rather than hangs) when it never does. */
async function eventually<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, step?: () => Promise<unknown>): Promise<T> {
  for (let round = 0; round < 600; round += 1) {
    await step?.();
    const value = await probe();
    if (done(value)) return value;
    await sleep(25);
  }
  throw new Error(`never happened: ${what}`);
}

async function aChannel(user: GraphQLClient, input: Partial<CreateNotificationConfigInput> & { targetUrl: string }) {
  const result = await user.request(CreateNotificationConfigDocument, {
    input: { name: `channel-${randomUUID().slice(0, 8)}`, channelType: 'WEBHOOK', secret: SECRET, eventTypes: ['NODE_FAILED'], ...input },
  });
  const outcome = result.data?.createNotificationConfig;
  if (outcome?.__typename !== 'CreateNotificationConfigSuccess') throw new Error(`channel not created: ${JSON.stringify(result)}`);
  return outcome.notificationConfig;
}

const globalDeliveryId = (id: string) => Buffer.from(`NotificationDelivery:${id}`).toString('base64');

async function deliveryOf(user: GraphQLClient, id: string) {
  const result = await user.request(NotificationDeliveryByIdDocument, { id: globalDeliveryId(id) });
  expect(result.errors).toBeUndefined();
  return result.data!.notificationDelivery!;
}

describe('retry delays', () => {
  it('grow exponentially with jitter between half and all of the step, up to the cap', () => {
    const settings = { backoffBaseMs: 1_000, backoffCapMs: 10_000 };
    expect([1, 2, 3, 4, 5, 6].map((attempt) => retryDelayMs(attempt, settings, () => 0))).toEqual([500, 1_000, 2_000, 4_000, 5_000, 5_000]);
    expect([1, 2, 3, 4, 5, 6].map((attempt) => retryDelayMs(attempt, settings, () => 0.999_999))).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    const spread = new Set(Array.from({ length: 50 }, () => retryDelayMs(3, settings)));
    expect(spread.size).toBeGreaterThan(1);
    expect([...spread].every((delay) => delay >= 2_000 && delay <= 4_000)).toBe(true);
  });
});

describe.each(kinds)('webhook deliveries on %s', (kind) => {
  let server: TestServer;
  let notifications: Services['notifications'];
  const receivers: { close(): Promise<void> }[] = [];
  const extraConnections: Database[] = [];

  const receiver = async (answer?: (n: number) => number | 'hang') => {
    const started = await aReceiver(answer);
    receivers.push(started);
    return started;
  };
  const aWorker = (settings: Partial<NotificationSettings> = {}, db: Database = server.db, random?: () => number) =>
    new DeliveryWorker({ system: db.system, log, settings: { ...FAST, ...settings }, random, secrets: SecretBox.fromConfig(server.config.encryption) });
  const nodeFailed = (user: SignedInUser, data: Record<string, unknown> = { nodeId: randomUUID(), hostname: 'gpu-7.test', reason: 'ECC errors' }) => {
    const eventId = randomUUID();
    return notifications.enqueueEvent(user.tenantId, { eventId, eventType: 'node.failed', payload: data }).then((queued) => ({ eventId, queued }));
  };
  const deliveriesOfEvent = (eventId: string) => server.db.system.notificationDelivery.findMany({ where: { eventId }, orderBy: { createdAt: 'asc' } });

  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false }, { env: { NOTIFICATIONS_ALLOW_PRIVATE_TARGETS: 'true' } });
    notifications = servicesOf(server).notifications;
  });
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });
  afterAll(async () => {
    await Promise.all(extraConnections.map((db) => db.close()));
    await server?.close();
  });

  it('retries a failing receiver with growing delays, signs every attempt, and succeeds exactly once', async () => {
    const admin = await server.signIn({ role: 'admin' });
    const hook = await receiver((n) => (n === 1 ? 500 : n === 2 ? 503 : 200));
    const channel = await aChannel(admin, { targetUrl: hook.url('/hooks/omega'), maxAttempts: 5 });
    const { eventId, queued } = await nodeFailed(admin);
    expect(queued).toBe(1);
    // Jitter pinned to the middle of its range so the expected delays are exact.
    const worker = aWorker({}, server.db, () => 0.5);
    const [row] = await deliveriesOfEvent(eventId);
    await eventually('delivered', () => deliveryOf(admin, row!.id), (d) => d.status === 'DELIVERED', () => worker.runOnce());

    expect(hook.requests.map((r) => r.status)).toEqual([500, 503, 200]);
    const bodies = new Set(hook.requests.map((r) => r.body));
    expect(bodies.size).toBe(1);
    for (const [index, request] of hook.requests.entries()) {
      expect(request.path).toBe('/hooks/omega');
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['x-omega-event-id']).toBe(eventId);
      expect(request.headers['x-omega-event-type']).toBe('node.failed');
      expect(request.headers['x-omega-delivery-id']).toBe(row!.id);
      expect(request.headers['x-omega-delivery-attempt']).toBe(String(index + 1));
      const timestamp = request.headers[TIMESTAMP_HEADER] as string;
      expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(300);
      expect(verifySignature(SECRET, timestamp, request.body, request.headers[SIGNATURE_HEADER] as string)).toBe(true);
      expect(verifySignature('some-other-secret-value', timestamp, request.body, request.headers[SIGNATURE_HEADER] as string)).toBe(false);
    }
    expect(JSON.parse(hook.requests[0]!.body)).toEqual({
      id: eventId,
      type: 'node.failed',
      tenantId: admin.tenantId,
      occurredAt: expect.any(String),
      data: { nodeId: expect.any(String), hostname: 'gpu-7.test', reason: 'ECC errors' },
    });

    const delivery = await deliveryOf(admin, row!.id);
    expect(delivery).toMatchObject({
      status: 'DELIVERED',
      attemptCount: 3,
      maxAttempts: 5,
      responseCode: 200,
      lastError: null,
      nextAttemptAt: null,
      config: { id: channel.id },
    });
    expect(delivery.attempts.map((a) => [a.attempt, a.outcome, a.responseCode])).toEqual([
      [1, 'FAILED', 500],
      [2, 'FAILED', 503],
      [3, 'DELIVERED', 200],
    ]);
    expect(delivery.attempts[0]!.error).toBe('HTTP 500: receiver unavailable');
    // Each wait is base x 2^(n-1) scaled by the pinned jitter: 150 ms, then 300 ms.
    const waits = delivery.attempts.slice(0, 2).map((a) => new Date(a.retryAt!).getTime() - new Date(a.finishedAt).getTime());
    expect(waits).toEqual([150, 300]);
    // No attempt started before the previous one's retry time.
    for (let i = 1; i < delivery.attempts.length; i += 1) {
      expect(new Date(delivery.attempts[i]!.startedAt!).getTime()).toBeGreaterThanOrEqual(new Date(delivery.attempts[i - 1]!.retryAt!).getTime());
    }

    // Delivered is final: more passes and a replay of the event send nothing.
    expect(await worker.runOnce()).toMatchObject({ claimed: 0 });
    expect(await notifications.enqueueEvent(admin.tenantId, { eventId, eventType: 'node.failed', payload: {} })).toBe(0);
    expect(await worker.runOnce()).toMatchObject({ claimed: 0 });
    expect(hook.requests).toHaveLength(3);
    expect(await deliveriesOfEvent(eventId)).toHaveLength(1);
  });

  it('loses and doubles nothing when a worker dies mid-retry and another takes over', async () => {
    const admin = await server.signIn({ role: 'admin' });
    const hook = await receiver((n) => (n <= 2 ? 500 : 200));
    await aChannel(admin, { targetUrl: hook.url('/crash') });
    const { eventId } = await nodeFailed(admin);
    const [row] = await deliveriesOfEvent(eventId);

    const firstConnection = createDatabase(server.rawDatabaseUrl, 2, { embedded: kind === 'pglite' });
    const first = aWorker({ leaseMs: 2_500 }, firstConnection);
    expect(await first.runOnce()).toMatchObject({ claimed: 1, failed: 1 });
    // The first worker claims the retry, then its process dies before sending: its lease must run out.
    await eventually('retry claimed', () => first.claim(10), (claimed) => claimed.length === 1);
    await firstConnection.close();
    expect(hook.requests).toHaveLength(1);

    const secondConnection = createDatabase(server.rawDatabaseUrl, 2, { embedded: kind === 'pglite' });
    extraConnections.push(secondConnection);
    const second = aWorker({}, secondConnection);
    await eventually('delivered after takeover', () => deliveryOf(admin, row!.id), (d) => d.status === 'DELIVERED', () => second.runOnce());

    expect(hook.requests.map((r) => [r.status, r.headers['x-omega-delivery-attempt']])).toEqual([
      [500, '1'],
      [500, '3'],
      [200, '4'],
    ]);
    const delivery = await deliveryOf(admin, row!.id);
    expect(delivery.attempts.map((a) => a.outcome)).toEqual(['FAILED', 'LEASE_EXPIRED', 'FAILED', 'DELIVERED']);
    expect(delivery.attemptCount).toBe(4);
    expect(await second.runOnce()).toMatchObject({ claimed: 0, recovered: 0 });
    expect(hook.requests.filter((r) => r.status === 200)).toHaveLength(1);
    expect(await deliveriesOfEvent(eventId)).toHaveLength(1);
  });

  it('gives each delivery to one worker when several run at once', async () => {
    const hook = await receiver();
    const owner = await server.signIn({ role: 'admin' });
    await aChannel(owner, { targetUrl: hook.url('/many') });
    const events = await Promise.all(Array.from({ length: 8 }, () => nodeFailed(owner)));
    expect(events.map((e) => e.queued)).toEqual(Array(8).fill(1));
    const connections = [createDatabase(server.rawDatabaseUrl, 2, { embedded: kind === 'pglite' }), createDatabase(server.rawDatabaseUrl, 2, { embedded: kind === 'pglite' })];
    extraConnections.push(...connections);
    const workers = [aWorker({ batchSize: 3 }, connections[0]), aWorker({ batchSize: 3 }, connections[1]), aWorker({ batchSize: 3 })];
    await eventually(
      'all delivered',
      () => server.db.system.notificationDelivery.count({ where: { tenantId: owner.tenantId, status: 'delivered' } }),
      (count) => count === 8,
      () => Promise.all(workers.map((w) => w.runOnce())),
    );
    const ids = hook.requests.map((r) => r.headers['x-omega-delivery-id']);
    expect(ids).toHaveLength(8);
    expect(new Set(ids).size).toBe(8);
    expect(new Set(hook.requests.map((r) => r.headers['x-omega-event-id']))).toEqual(new Set(events.map((e) => e.eventId)));
  });

  it('marks a delivery dead after its attempts, and an admin retries it once', async () => {
    const admin = await server.signIn({ role: 'admin' });
    let healthy = false;
    const hook = await receiver(() => (healthy ? 200 : 502));
    const channel = await aChannel(admin, { targetUrl: hook.url('/dead'), maxAttempts: 2, eventTypes: ['NODE_FAILED', 'SESSION_FAILED'] });
    const { eventId } = await nodeFailed(admin);
    const [row] = await deliveriesOfEvent(eventId);
    const worker = aWorker({ backoffBaseMs: 20, backoffCapMs: 40 });
    await eventually('dead', () => deliveryOf(admin, row!.id), (d) => d.status === 'DEAD', () => worker.runOnce());
    const dead = await deliveryOf(admin, row!.id);
    expect(dead).toMatchObject({ attemptCount: 2, maxAttempts: 2, responseCode: 502, lastError: 'HTTP 502: receiver unavailable', nextAttemptAt: null });
    expect(dead.attempts.map((a) => [a.outcome, a.retryAt === null])).toEqual([
      ['FAILED', false],
      ['DEAD', true],
    ]);
    expect(await worker.runOnce()).toMatchObject({ claimed: 0 });

    const listed = await admin.request(NotificationDeliveriesDocument, { filter: { status: ['DEAD'], configId: channel.id } });
    expect(listed.data!.notificationDeliveries.edges.map(({ node }) => node.id)).toEqual([globalDeliveryId(row!.id)]);

    const stranger = await server.signIn({ role: 'admin' });
    const foreign = await stranger.request(RetryNotificationDeliveryDocument, { id: globalDeliveryId(row!.id) });
    expect(foreign.data!.retryNotificationDelivery).toMatchObject({ __typename: 'NotFoundError', resource: 'NotificationDelivery' });

    const [retried, twice] = await Promise.all([
      admin.request(RetryNotificationDeliveryDocument, { id: globalDeliveryId(row!.id) }),
      admin.request(RetryNotificationDeliveryDocument, { id: globalDeliveryId(row!.id) }),
    ]);
    const outcomes = [retried, twice].map((r) => r.data!.retryNotificationDelivery);
    expect(outcomes.map((o) => o.__typename).sort()).toEqual(['ConflictError', 'RetryNotificationDeliverySuccess']);
    expect(outcomes.find((o) => o.__typename === 'RetryNotificationDeliverySuccess')).toMatchObject({ delivery: { status: 'PENDING', maxAttempts: 4, attemptCount: 2 } });

    healthy = true;
    await eventually('delivered after retry', () => deliveryOf(admin, row!.id), (d) => d.status === 'DELIVERED', () => worker.runOnce());
    expect(hook.requests.map((r) => r.status)).toEqual([502, 502, 200]);
    const again = await admin.request(RetryNotificationDeliveryDocument, { id: globalDeliveryId(row!.id) });
    expect(again.data!.retryNotificationDelivery).toMatchObject({ __typename: 'ConflictError', field: 'status', message: expect.stringContaining('delivered') });
  });

  it('sends Slack and Discord their message formats, and a test notification over the API', async () => {
    const hook = await receiver();
    const owner = await server.signIn({ role: 'operator' });
    const slack = await aChannel(owner, { channelType: 'SLACK', secret: null, targetUrl: hook.url('/services/T000/B000/token') });
    await aChannel(owner, { channelType: 'DISCORD', secret: null, targetUrl: hook.url('/api/webhooks/42/token') });
    const { eventId } = await nodeFailed(owner, { nodeId: 'n-1', hostname: 'gpu-<7>.test', reason: 'ECC errors @everyone' });
    const tested = await owner.request(SendTestNotificationDocument, { configId: slack.id });
    expect(tested.data!.sendTestNotification).toMatchObject({ delivery: { status: 'PENDING', eventType: 'NOTIFICATION_TEST', attemptCount: 0, config: { id: slack.id } } });
    const worker = aWorker();
    await eventually(
      'three sent',
      () => server.db.system.notificationDelivery.count({ where: { tenantId: owner.tenantId, status: 'delivered' } }),
      (count) => count === 3,
      () => worker.runOnce(),
    );

    const toSlack = hook.requests.filter((r) => r.path.startsWith('/services/')).map((r) => JSON.parse(r.body) as Record<string, unknown>);
    const failure = toSlack.find((body) => String(body.text).startsWith('Node failed'))!;
    expect(failure).toEqual({
      text: 'Node failed: Node gpu-&lt;7&gt;.test failed: ECC errors @everyone',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Node failed' } },
        {
          type: 'section',
          text: { type: 'mrkdwn', text: 'Node gpu-&lt;7&gt;.test failed: ECC errors @everyone' },
          fields: [
            { type: 'mrkdwn', text: '*hostname*\ngpu-&lt;7&gt;.test' },
            { type: 'mrkdwn', text: '*nodeId*\nn-1' },
            { type: 'mrkdwn', text: '*reason*\nECC errors @everyone' },
          ],
        },
        { type: 'context', elements: [{ type: 'mrkdwn', text: expect.stringContaining(`event ${eventId}`) }] },
      ],
    });
    expect(toSlack.find((body) => String(body.text).startsWith('Test notification'))).toMatchObject({
      text: expect.stringContaining(`deliveries to this channel work`),
    });
    const toDiscord = hook.requests.filter((r) => r.path.startsWith('/api/webhooks/'));
    expect(toDiscord).toHaveLength(1);
    expect(toDiscord[0]!.headers[SIGNATURE_HEADER]).toBeUndefined();
    expect(JSON.parse(toDiscord[0]!.body)).toEqual({
      content: '**Node failed**: Node gpu-<7>.test failed: ECC errors @everyone',
      allowed_mentions: { parse: [] },
      embeds: [
        {
          title: 'Node failed',
          description: 'Node gpu-<7>.test failed: ECC errors @everyone',
          color: 0xd93025,
          timestamp: expect.any(String),
          fields: [
            { name: 'hostname', value: 'gpu-<7>.test', inline: true },
            { name: 'nodeId', value: 'n-1', inline: true },
            { name: 'reason', value: 'ECC errors @everyone', inline: true },
          ],
          footer: { text: `node.failed · event ${eventId}` },
        },
      ],
    });
  });

  it('times out a receiver that never answers, and refuses private targets when not allowed', async () => {
    const silent = await receiver(() => 'hang');
    const owner = await server.signIn({ role: 'admin' });
    await aChannel(owner, { targetUrl: silent.url('/slow'), maxAttempts: 1 });
    const { eventId } = await nodeFailed(owner);
    const [row] = await deliveriesOfEvent(eventId);
    const worker = aWorker({ timeoutMs: 300, leaseMs: 2_000 });
    expect(await worker.runOnce()).toMatchObject({ claimed: 1, dead: 1 });
    expect(await deliveryOf(owner, row!.id)).toMatchObject({ status: 'DEAD', lastError: 'timed out after 300 ms', responseCode: null });
    expect(silent.requests).toHaveLength(1);

    const guarded = await receiver();
    const second = await server.signIn({ role: 'admin' });
    await aChannel(second, { targetUrl: guarded.url('/inside'), maxAttempts: 1 });
    const queued = await nodeFailed(second);
    const [guardedRow] = await deliveriesOfEvent(queued.eventId);
    expect(await aWorker({ allowPrivateTargets: false }).runOnce()).toMatchObject({ claimed: 1, dead: 1 });
    expect((await deliveryOf(second, guardedRow!.id)).lastError).toMatch(/^target refused: resolves to a loopback, private/);
    expect(guarded.requests).toHaveLength(0);
  });

  it('fans an event out to every enabled channel that wants it, once per channel', async () => {
    const hook = await receiver();
    const owner = await server.signIn({ role: 'admin' });
    const wants = await aChannel(owner, { targetUrl: hook.url('/a'), eventTypes: ['NODE_FAILED', 'QUOTA_EXCEEDED'] });
    await aChannel(owner, { targetUrl: hook.url('/b'), eventTypes: ['NODE_FAILED'] });
    await aChannel(owner, { targetUrl: hook.url('/c'), eventTypes: ['SESSION_FAILED'] });
    const paused = await aChannel(owner, { targetUrl: hook.url('/d'), eventTypes: ['NODE_FAILED'], enabled: false });
    const eventId = randomUUID();
    const event = { eventId, eventType: 'node.failed' as const, payload: { nodeId: 'n-9' } };
    const [once, twice] = await Promise.all([notifications.enqueueEvent(owner.tenantId, event), notifications.enqueueEvent(owner.tenantId, event)]);
    expect(once + twice).toBe(2);
    expect(await notifications.enqueueEvent(owner.tenantId, { ...event, eventId: randomUUID(), eventType: 'quota.exceeded' })).toBe(1);
    const disabledTest = await owner.request(SendTestNotificationDocument, { configId: paused.id });
    expect(disabledTest.data!.sendTestNotification).toMatchObject({ __typename: 'ConflictError', field: 'enabled' });
    await expect(notifications.enqueueEvent(owner.tenantId, { eventId: 'not-a-uuid', eventType: 'node.failed', payload: {} })).rejects.toMatchObject({ name: 'ValidationError' });

    // Another tenant's event never reaches these channels.
    const stranger = await server.signIn({ role: 'admin' });
    expect(await notifications.enqueueEvent(stranger.tenantId, { ...event, eventId: randomUUID() })).toBe(0);

    const byConfig = await owner.request(NotificationDeliveriesDocument, { filter: { configId: wants.id } });
    expect(byConfig.data!.notificationDeliveries.edges.map(({ node }) => node.eventType).sort()).toEqual(['NODE_FAILED', 'QUOTA_EXCEEDED']);
    const byType = await owner.request(NotificationDeliveriesDocument, { filter: { eventType: ['QUOTA_EXCEEDED'], status: ['PENDING'] } });
    expect(byType.data!.notificationDeliveries.edges).toHaveLength(1);
    const future = await owner.request(NotificationDeliveriesDocument, { filter: { createdAfter: new Date(Date.now() + 60_000).toISOString() } });
    expect(future.data!.notificationDeliveries.edges).toEqual([]);
    const all = await owner.request(NotificationDeliveriesDocument, { first: 100 });
    expect(all.data!.notificationDeliveries.edges).toHaveLength(3);
    const theirs = await stranger.request(NotificationDeliveriesDocument, { first: 100 });
    expect(theirs.data!.notificationDeliveries.edges).toEqual([]);
    const foreignById = await stranger.request(NotificationDeliveryByIdDocument, { id: all.data!.notificationDeliveries.edges[0]!.node.id });
    expect(foreignById.data!.notificationDelivery).toBeNull();
    const reader = await server.signIn({ role: 'readonly', tenantId: owner.tenantId });
    expect((await reader.request(NotificationDeliveriesDocument, { first: 100 })).data!.notificationDeliveries.edges).toHaveLength(3);
    const denied = await reader.request(RetryNotificationDeliveryDocument, { id: all.data!.notificationDeliveries.edges[0]!.node.id });
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    // Pausing a channel holds its queued deliveries until it is enabled again.
    await owner.request(UpdateNotificationConfigDocument, { id: wants.id, input: { enabled: false } });
    const worker = aWorker();
    await worker.runOnce();
    expect(hook.requests.map((r) => r.path)).toEqual(['/b']);
    await owner.request(UpdateNotificationConfigDocument, { id: wants.id, input: { enabled: true } });
    await worker.runOnce();
    expect(hook.requests.map((r) => r.path).sort()).toEqual(['/a', '/a', '/b']);
  });

  it('turns node, session and deployment topics into notifications, once per event', async () => {
    const owner = await server.signIn({ role: 'admin' });
    const hook = await receiver();
    await aChannel(owner, { targetUrl: hook.url('/topics'), eventTypes: ['NODE_FAILED', 'SESSION_FAILED', 'DEPLOYMENT_SCALED'] });
    const pubsub = createMemoryPubSub();
    // Two instances receive every message, as with Redis.
    const jobs = [notificationEventsJob(pubsub, notifications, log), notificationEventsJob(pubsub, notifications, log)];
    jobs.forEach((job) => job.start());
    try {
      const at = new Date().toISOString();
      await pubsub.publish(Topic.NodeStatusChanged, { tenantId: owner.tenantId, nodeId: randomUUID(), previousStatus: 'active', status: 'failed', at });
      await pubsub.publish(Topic.NodeStatusChanged, { tenantId: owner.tenantId, nodeId: randomUUID(), previousStatus: 'inactive', status: 'active', at });
      await pubsub.publish(Topic.SessionStateChanged, {
        tenantId: owner.tenantId,
        sessionId: randomUUID(),
        userId: owner.userId,
        previousStatus: 'running',
        status: 'failed',
        nodeId: null,
        allocations: [],
        reason: 'OOM',
        at,
      });
      await pubsub.publish(Topic.DeploymentChanged, {
        tenantId: owner.tenantId,
        deploymentId: randomUUID(),
        change: 'scaled',
        status: 'running',
        desiredReplicas: 4,
        currentReplicas: 2,
        nodeId: null,
        at,
      });
      // Read in the tenant's scope (in a transaction) while the subscribers write.
      const queued = await eventually(
        'three queued',
        () => runInTenant(owner.tenantId, async () => await server.db.prisma.notificationDelivery.findMany({ where: { tenantId: owner.tenantId } })),
        (rows) => rows.length >= 3,
      );
      await aWorker().runOnce();
      expect(queued.map((row) => row.eventType).sort()).toEqual(['deployment.scaled', 'node.failed', 'session.failed']);
      expect(hook.requests.map((r) => r.headers['x-omega-event-type']).sort()).toEqual(['deployment.scaled', 'node.failed', 'session.failed']);
      const scaled = hook.requests.find((r) => r.headers['x-omega-event-type'] === 'deployment.scaled')!;
      expect(JSON.parse(scaled.body)).toMatchObject({ data: { desiredReplicas: 4, currentReplicas: 2 } });
    } finally {
      await Promise.all(jobs.map((job) => job.stop()));
    }
    expect(await server.db.system.$transaction((tx) => tx.notificationDelivery.count({ where: { tenantId: owner.tenantId } }))).toBe(3);
  });
});

describe.each(kinds)("the API's own delivery worker on %s", (kind) => {
  it('sends a newly queued delivery at once, without waiting for its next poll', async () => {
    const hook = await aReceiver();
    // Polling every ten minutes: within this test only the wake-up on queueing can send.
    const env = { NOTIFICATIONS_ALLOW_PRIVATE_TARGETS: 'true', NOTIFICATIONS_POLL_INTERVAL_MS: '600000' };
    const server = await startTestServer(kind, { jobsEnabled: true }, { env });
    try {
      const admin = await server.signIn({ role: 'admin' });
      const channel = await aChannel(admin, { targetUrl: hook.url('/wake') });
      const queued = await admin.request(SendTestNotificationDocument, { configId: channel.id });
      if (queued.data?.sendTestNotification.__typename !== 'SendTestNotificationSuccess') throw new Error('not queued');
      const id = queued.data.sendTestNotification.delivery.id;
      const delivered = await eventually(
        'delivered',
        async () => (await admin.request(NotificationDeliveryByIdDocument, { id })).data!.notificationDelivery!,
        (d) => d.status === 'DELIVERED',
      );
      expect(delivered).toMatchObject({ attemptCount: 1, eventType: 'NOTIFICATION_TEST', responseCode: 200 });
      expect(hook.requests.map((r) => r.path)).toEqual(['/wake']);
    } finally {
      await server.close();
      await hook.close();
    }
  });
});

describe.each(kinds)('deliveries across an API restart on %s', (kind) => {
  let dataDir: string | undefined;
  let scratch: { url: string; drop(): Promise<void> } | undefined;

  afterAll(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    await scratch?.drop();
  });

  it('resumes a retry in progress after the API restarts, sending it exactly once more to success', async () => {
    const database =
      kind === 'pglite'
        ? { dataDir: (dataDir = await mkdtemp(path.join(tmpdir(), 'omega-notify-'))) }
        : { databaseUrl: (scratch = await createServerDatabase()).url };
    const hook = await aReceiver((n) => (n <= 2 ? 500 : 200));
    const settings = {
      NOTIFICATIONS_ALLOW_PRIVATE_TARGETS: 'true',
      NOTIFICATIONS_BACKOFF_BASE_MS: '400',
      NOTIFICATIONS_BACKOFF_CAP_MS: '2000',
      NOTIFICATIONS_POLL_INTERVAL_MS: '25',
      NOTIFICATIONS_TIMEOUT_MS: '2000',
      NOTIFICATIONS_LEASE_MS: '5000',
    };
    const start = (jobsEnabled: boolean) => startTestServer(kind, { jobsEnabled, ...database }, { env: settings });
    // While an instance's worker runs, the test reads the delivery in a transaction of its own connection.
    const stateOf = (running: TestServer, id: string) =>
      running.db.system.$transaction((tx) => tx.notificationDelivery.findUniqueOrThrow({ where: { id } }));
    try {
      const setup = await start(false);
      const admin = await setup.signIn({ role: 'admin' });
      await aChannel(admin, { targetUrl: hook.url('/restart') });
      const eventId = randomUUID();
      expect(await servicesOf(setup).notifications.enqueueEvent(admin.tenantId, { eventId, eventType: 'node.failed', payload: { nodeId: 'n-1' } })).toBe(1);
      const { id } = await setup.db.system.notificationDelivery.findFirstOrThrow({ where: { eventId } });
      await setup.close();

      const before = await start(true);
      await eventually('first attempt failed', () => stateOf(before, id), (d) => d.attemptCount >= 1 && d.status === 'failed');
      await before.close();
      expect(hook.requests.length).toBeLessThan(3);

      const after = await start(true);
      try {
        const delivered = await eventually('delivered after restart', () => stateOf(after, id), (d) => d.status === 'delivered');
        expect(delivered.attemptCount).toBe(3);
        expect((delivered.attempts as { outcome: string }[]).map((a) => a.outcome)).toEqual(['failed', 'failed', 'delivered']);
        expect(hook.requests.map((r) => r.status)).toEqual([500, 500, 200]);
        expect(new Set(hook.requests.map((r) => r.headers['x-omega-delivery-id']))).toEqual(new Set([id]));
        // Nothing is left for any worker to send.
        expect(await new DeliveryWorker({ system: after.db.system, log, settings: FAST, secrets: SecretBox.fromConfig(after.config.encryption) }).runOnce()).toMatchObject({ claimed: 0 });
        expect(hook.requests).toHaveLength(3);
      } finally {
        await after.close();
      }
    } finally {
      await hook.close();
    }
  });
});
