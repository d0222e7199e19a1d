import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodeGlobalID } from '@pothos/plugin-relay';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import type { PrismaClient } from '../src/generated/prisma/client.js';
import { createLogger } from '../src/infra/logger.js';
import { createMemoryPubSub } from '../src/infra/pubsub.js';
import { Topic, type TopicName } from '../src/infra/topics.js';
import { userPrincipal } from '../src/modules/identity/principal.js';
import type { ClusterStateService } from '../src/modules/realtime/cluster-state.service.js';
import { ConnectionRegistry } from '../src/modules/realtime/connections.js';
import { LiveFeeds } from '../src/modules/realtime/live-feeds.js';
import { SubscriberTooSlowError } from '../src/modules/shared/errors.js';
import {
  AddMessageDocument,
  CreateApiKeyDocument,
  CreateChatSessionDocument,
  CreateConversationDocument,
  CreateDeploymentDocument,
  CreateNotificationConfigDocument,
  DeregisterNodeDocument,
  OnConversationMessageAddedDocument,
  OnDeploymentChangedDocument,
  OnNodeRegistryChangedDocument,
  OnNotificationDeliveryChangedDocument,
  ReconcileDeploymentsDocument,
  ScaleDeploymentDocument,
  SendTestNotificationDocument,
  type CreateNotificationConfigInput,
} from './generated/graphql.js';
import { runPostgresTests, runRedisTests, TEST_REDIS_URL } from './helpers/backing-services.js';
import { aRegisteredNode, globalId } from './helpers/builders.js';
import { failNode } from './helpers/cluster.js';
import { bearer, PUBSUB_NAMESPACE, subscribe, untilSubscribedInRedis, wsClient } from './helpers/realtime.js';
import { expectResult, twoInstances, type GraphQLClient, type SignedInUser, type TestServer } from './helpers/server.js';

const codeOf = (result: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => result.errors?.[0]?.extensions?.code;

describe('a domain feed of several topics', () => {
  const TENANT = '00000000-0000-4000-8000-00000000000a';
  const OTHER_TENANT = '00000000-0000-4000-8000-00000000000b';
  const NODE = '00000000-0000-4000-8000-0000000000c1';
  const settings = { ...loadConfig({}).realtime, subscriberQueueLimit: 3 };
  const registryEvent = (tenantId: string, hostname: string) => ({ tenantId, nodeId: NODE, hostname, at: new Date(0).toISOString() });
  const feedsOn = (pubsub = createMemoryPubSub()) => ({
    pubsub,
    feeds: new LiveFeeds({} as PrismaClient, pubsub, settings, new ConnectionRegistry(createLogger('silent')), {} as ClusterStateService),
  });
  const registry = (feeds: LiveFeeds, principal = userPrincipal({ tenantId: TENANT, userId: NODE, role: 'readonly', expiresAt: null })) =>
    feeds.ordered(principal, 'cluster:read', [Topic.NodeRegistered, Topic.NodeDeregistered], (event, topic) => [`${topic === Topic.NodeRegistered ? '+' : '-'}${event.hostname}`]);

  it("merges its topics in publication order, without another tenant's events, and ends a subscriber that falls behind", async () => {
    const { pubsub, feeds } = feedsOn();
    const feed = registry(feeds);
    await pubsub.publish(Topic.NodeRegistered, registryEvent(OTHER_TENANT, 'theirs'));
    await pubsub.publish(Topic.NodeRegistered, registryEvent(TENANT, 'a'));
    await pubsub.publish(Topic.NodeDeregistered, registryEvent(TENANT, 'b'));
    expect([await feed.next(), await feed.next()]).toEqual([
      { value: '+a', done: false },
      { value: '-b', done: false },
    ]);
    for (const hostname of ['c', 'd', 'e', 'f']) await pubsub.publish(Topic.NodeRegistered, registryEvent(TENANT, hostname));
    await expect(feed.next()).rejects.toBeInstanceOf(SubscriberTooSlowError);
    expect(feeds.open).toBe(0);
  });

  it('queues nothing for a principal without the permission', async () => {
    const { pubsub, feeds } = feedsOn();
    const feed = registry(feeds, { ...userPrincipal({ tenantId: TENANT, userId: NODE, role: 'readonly', expiresAt: null }), permissions: new Set<never>() });
    await pubsub.publish(Topic.NodeRegistered, registryEvent(TENANT, 'a'));
    const nothing = await Promise.race([feed.next(), new Promise((resolve) => setImmediate(() => resolve('nothing queued')))]);
    expect(nothing).toBe('nothing queued');
    await feed.return?.();
  });
});

/** A webhook receiver on a spare loopback port answering each request with the next status of `statuses` (the last one repeats). */
async function aReceiver(statuses: number[]) {
  let received = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const status = statuses[Math.min(received, statuses.length - 1)]!;
      received += 1;
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A tenant with an operator signed in on A, and a graphql-ws client of that operator connected to B. */
interface Tenant {
  user: SignedInUser;
  onB: Client;
}

describe.skipIf(!runRedisTests || !runPostgresTests)('operator feeds across two API instances sharing Redis', () => {
  let instances: Awaited<ReturnType<typeof twoInstances>> | undefined;
  let a: TestServer;
  let b: TestServer;
  const clients: Client[] = [];
  const receivers: { close(): Promise<void> }[] = [];
  const suffix = randomBytes(3).toString('hex');
  const model = `feed-model-${suffix}`;
  const region = `feed-${suffix}`;
  let regionId: string;

  beforeAll(async () => {
    instances = await twoInstances(TEST_REDIS_URL, {
      env: {
        PUBSUB_NAMESPACE,
        NOTIFICATIONS_ALLOW_PRIVATE_TARGETS: 'true',
        NOTIFICATIONS_BACKOFF_BASE_MS: '50',
        NOTIFICATIONS_BACKOFF_CAP_MS: '100',
        NOTIFICATIONS_POLL_INTERVAL_MS: '50',
        // Nodes stay live and deployments change only when a test asks, however slow the machine.
        HEARTBEAT_TIMEOUT_SECONDS: '3600',
        DEPLOYMENT_RECONCILE_INTERVAL_MS: '3600000',
      },
      // B runs no background work, so what B's subscribers receive was caused on A.
      second: { jobsEnabled: false },
    });
    ({ first: a, second: b } = instances);
    regionId = globalId('Region', (await a.db.system.region.create({ data: { code: region, name: region, provider: 'aws' } })).id);
    await a.db.system.model.create({ data: { modelId: model, name: 'Feed model', contextLength: 4096, gpuMemoryRequiredGb: 40 } });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await Promise.all(receivers.map((receiver) => receiver.close()));
    await instances?.close();
  });

  async function aTenant(): Promise<Tenant> {
    const user = await a.signIn({ role: 'operator' });
    const onB = wsClient(b.url, bearer(user.token));
    clients.push(onB);
    return { user, onB };
  }

  /** The subscribers of these tenants are live on B: B is subscribed in Redis to each tenant's channel of the topic. */
  const live = (topic: TopicName, ...tenants: Tenant[]) => Promise.all(tenants.map((t) => untilSubscribedInRedis(TEST_REDIS_URL, topic, t.user.tenantId)));

  /** A client on B signed in with an API key of the tenant's environment that holds only these scopes. */
  async function aKeyOnB(tenant: Tenant, environmentId: string, scopes: string[]): Promise<GraphQLClient> {
    const created = await tenant.user.request(CreateApiKeyDocument, { input: { name: `feeds-${scopes.join('+')}`, environmentId, scopes } });
    if (created.data?.createApiKey.__typename !== 'CreateApiKeySuccess') throw new Error(JSON.stringify(created));
    return b.withHeaders({ 'x-api-key': created.data.createApiKey.created.secret });
  }

  const a100 = (tenant: Tenant, hostname: string) =>
    aRegisteredNode(tenant.user, { hostname, gpuType: 'A100', gpuCount: 4, gpuMemoryGb: 160, pricePerHour: 7.6, regionId });

  it('delivers deployment changes made on A to B, per tenant: created, placed, scaled, replaced', async () => {
    const [mine, theirs] = [await aTenant(), await aTenant()];
    for (const hostname of ['d-1', 'd-2', 'd-3']) await a100(mine, `${hostname}-${suffix}.test`);
    await a100(theirs, `t-1-${suffix}.test`);
    const myFeed = subscribe(mine.onB, OnDeploymentChangedDocument, {});
    const theirFeed = subscribe(theirs.onB, OnDeploymentChangedDocument, {});
    await live(Topic.DeploymentChanged, mine, theirs);

    const input = { name: 'chat', model, minReplicas: 1, maxReplicas: 2, regions: [region] };
    const deployment = expectResult(await mine.user.request(CreateDeploymentDocument, { input }), 'CreateDeploymentSuccess').deployment;
    const scaled = expectResult(await mine.user.request(ScaleDeploymentDocument, { id: deployment.id, desiredReplicas: 2 }), 'ScaleDeploymentSuccess').deployment;
    const failedNode = scaled.replicas[0]!.node.id;
    await failNode(a, failedNode);
    expect((await mine.user.request(ReconcileDeploymentsDocument, {})).data?.reconcileDeployments).toBe(1);
    // Theirs comes last: had any of my changes leaked to them, it would arrive before their own.
    expectResult(await theirs.user.request(CreateDeploymentDocument, { input }), 'CreateDeploymentSuccess');

    const received = [];
    for (let i = 0; i < 7; i += 1) received.push((await myFeed.next()).deploymentChanged);
    expect(received.map((event) => [event.change, event.status, event.currentReplicas, event.desiredReplicas])).toEqual([
      ['CREATED', 'PENDING', 0, 1],
      ['REPLICA_ADDED', 'ACTIVE', 1, 1],
      ['STATUS_CHANGED', 'ACTIVE', 1, 1],
      ['SCALED', 'ACTIVE', 2, 2],
      ['REPLICA_ADDED', 'ACTIVE', 2, 2],
      ['REPLICA_FAILED', 'ACTIVE', 2, 2],
      ['REPLICA_ADDED', 'ACTIVE', 2, 2],
    ]);
    expect(received.every((event) => event.deploymentId === deployment.id)).toBe(true);
    // The replaced replica names the failed node, and its replacement another one.
    expect(received[5]!.nodeId).toBe(failedNode);
    expect(received[6]!.nodeId).not.toBe(failedNode);
    expect(received[6]!.deployment).toMatchObject({ id: deployment.id, name: 'chat', currentReplicas: 2 });

    const theirFirst = (await theirFeed.next()).deploymentChanged;
    expect(theirFirst).toMatchObject({ change: 'CREATED', status: 'PENDING' });
    expect(theirFirst.deploymentId).not.toBe(deployment.id);
  });

  it("follows one deployment by id, and refuses another tenant's", async () => {
    const [mine, theirs] = [await aTenant(), await aTenant()];
    for (const hostname of ['o-1', 'o-2']) await a100(mine, `${hostname}-${suffix}.test`);
    const input = { name: 'one', model, minReplicas: 1, maxReplicas: 1, regions: [region] };
    const first = expectResult(await mine.user.request(CreateDeploymentDocument, { input }), 'CreateDeploymentSuccess').deployment;
    const foreign = subscribe(theirs.onB, OnDeploymentChangedDocument, { deploymentId: first.id });
    await expect(foreign.next()).rejects.toThrow(/^subscription error: Deployment [0-9a-f-]{36} was not found$/);

    const onlyFirst = subscribe(mine.onB, OnDeploymentChangedDocument, { deploymentId: first.id });
    await live(Topic.DeploymentChanged, mine);
    expectResult(await mine.user.request(CreateDeploymentDocument, { input: { ...input, name: 'two' } }), 'CreateDeploymentSuccess');
    const [replica] = first.replicas;
    await failNode(a, replica!.node.id);
    await mine.user.request(ReconcileDeploymentsDocument, {});
    expect((await onlyFirst.next()).deploymentChanged).toMatchObject({ deploymentId: first.id, change: 'REPLICA_FAILED', nodeId: replica!.node.id });
  });

  it('announces nodes registered and deregistered on A to B, per tenant', async () => {
    const [mine, theirs] = [await aTenant(), await aTenant()];
    const myFeed = subscribe(mine.onB, OnNodeRegistryChangedDocument);
    const theirFeed = subscribe(theirs.onB, OnNodeRegistryChangedDocument);
    await live(Topic.NodeRegistered, mine, theirs);
    await live(Topic.NodeDeregistered, mine, theirs);

    const node = await aRegisteredNode(mine.user, { hostname: `reg-${suffix}.test`, machineId: `machine-${suffix}` });
    // The same machine registering again is the same node: nothing new joined.
    await aRegisteredNode(mine.user, { hostname: `reg-${suffix}.test`, machineId: `machine-${suffix}` });
    expectResult(await mine.user.request(DeregisterNodeDocument, { id: node.id }), 'DeregisterNodeSuccess');
    const theirNode = await aRegisteredNode(theirs.user, { hostname: `their-reg-${suffix}.test` });

    expect((await myFeed.next()).nodeRegistryChanged).toMatchObject({
      kind: 'REGISTERED',
      nodeId: node.id,
      hostname: `reg-${suffix}.test`,
      node: { id: node.id, hostname: `reg-${suffix}.test` },
    });
    expect((await myFeed.next()).nodeRegistryChanged).toMatchObject({ kind: 'DEREGISTERED', nodeId: node.id, node: null });
    expect((await theirFeed.next()).nodeRegistryChanged).toMatchObject({ kind: 'REGISTERED', nodeId: theirNode.id });
    expect(myFeed.buffered).toBe(0);
  });

  it("delivers the messages added on A to the conversation's subscribers on B, and only them", async () => {
    const [mine, theirs] = [await aTenant(), await aTenant()];
    const conversationOf = async (tenant: Tenant) => {
      const session = (await tenant.user.request(CreateChatSessionDocument, { input: { title: 'ops' } })).data!.createChatSession;
      if (session.__typename !== 'CreateChatSessionSuccess') throw new Error(JSON.stringify(session));
      const created = (await tenant.user.request(CreateConversationDocument, { input: { chatSessionId: session.chatSession.id } })).data!.createConversation;
      if (created.__typename !== 'CreateConversationSuccess') throw new Error(JSON.stringify(created));
      return created.conversation.id;
    };
    const say = async (tenant: Tenant, conversationId: string, content: string) =>
      expectResult(await tenant.user.request(AddMessageDocument, { input: { conversationId, role: 'USER', content, tokens: 3 } }), 'AddMessageSuccess').chatMessage;
    const [mineA, mineB, theirsA] = [await conversationOf(mine), await conversationOf(mine), await conversationOf(theirs)];

    const foreign = subscribe(theirs.onB, OnConversationMessageAddedDocument, { conversationId: mineA });
    await expect(foreign.next()).rejects.toThrow(/^subscription error: Conversation [0-9a-f-]{36} was not found$/);
    const myFeed = subscribe(mine.onB, OnConversationMessageAddedDocument, { conversationId: mineA });
    const theirFeed = subscribe(theirs.onB, OnConversationMessageAddedDocument, { conversationId: theirsA });
    await live(Topic.ConversationMessageAdded, mine, theirs);

    await say(mine, mineB, 'elsewhere');
    const first = await say(mine, mineA, 'is node 7 back?');
    const second = await say(mine, mineA, 'yes, since 10:02');
    await say(theirs, theirsA, 'theirs');

    expect((await myFeed.next()).conversationMessageAdded).toEqual({ id: first.id, role: 'USER', content: 'is node 7 back?', tokens: 3, conversation: { id: mineA } });
    expect((await myFeed.next()).conversationMessageAdded).toMatchObject({ id: second.id, content: 'yes, since 10:02' });
    expect((await theirFeed.next()).conversationMessageAdded).toMatchObject({ content: 'theirs', conversation: { id: theirsA } });
    expect(myFeed.buffered).toBe(0);
  });

  it("delivers each webhook attempt's outcome, made by A's worker, to B, per tenant and channel", async () => {
    const [mine, theirs] = [await aTenant(), await aTenant()];
    const flaky = await aReceiver([503, 200]);
    const broken = await aReceiver([500]);
    receivers.push(flaky, broken);
    const channel = async (tenant: Tenant, input: Partial<CreateNotificationConfigInput> & { targetUrl: string }) => {
      const result = await tenant.user.request(CreateNotificationConfigDocument, {
        input: { name: `ch-${randomBytes(3).toString('hex')}`, channelType: 'WEBHOOK', secret: 'whsec-feeds-0123456789abcdef', eventTypes: ['NODE_FAILED'], ...input },
      });
      return expectResult(result, 'CreateNotificationConfigSuccess').notificationConfig.id;
    };
    const flakyChannel = await channel(mine, { targetUrl: flaky.url, maxAttempts: 3 });
    const brokenChannel = await channel(mine, { targetUrl: broken.url, maxAttempts: 1 });
    const theirChannel = await channel(theirs, { targetUrl: flaky.url });

    const allMine = subscribe(mine.onB, OnNotificationDeliveryChangedDocument, {});
    const onlyFlaky = subscribe(mine.onB, OnNotificationDeliveryChangedDocument, { configId: flakyChannel });
    const theirFeed = subscribe(theirs.onB, OnNotificationDeliveryChangedDocument, {});
    await live(Topic.NotificationDeliveryChanged, mine, theirs);

    const sent = expectResult(await mine.user.request(SendTestNotificationDocument, { configId: flakyChannel }), 'SendTestNotificationSuccess').delivery;
    const failedAttempt = (await onlyFlaky.next()).notificationDeliveryChanged;
    expect(failedAttempt).toMatchObject({ deliveryId: sent.id, configId: flakyChannel, eventType: 'NOTIFICATION_TEST', status: 'FAILED', attempt: 1, responseCode: 503 });
    expect(failedAttempt.error).toMatch(/^HTTP 503/);
    expect(failedAttempt.nextAttemptAt).not.toBeNull();
    expect((await onlyFlaky.next()).notificationDeliveryChanged).toMatchObject({
      deliveryId: sent.id,
      status: 'DELIVERED',
      attempt: 2,
      responseCode: 200,
      error: null,
      nextAttemptAt: null,
      delivery: { id: sent.id, status: 'DELIVERED', attemptCount: 2 },
    });

    const dead = expectResult(await mine.user.request(SendTestNotificationDocument, { configId: brokenChannel }), 'SendTestNotificationSuccess').delivery;
    await theirs.user.request(SendTestNotificationDocument, { configId: theirChannel });
    const everything = [];
    for (let i = 0; i < 3; i += 1) everything.push((await allMine.next()).notificationDeliveryChanged);
    expect(everything.map((event) => [event.deliveryId, event.status])).toEqual([
      [sent.id, 'FAILED'],
      [sent.id, 'DELIVERED'],
      [dead.id, 'DEAD'],
    ]);
    expect(everything[2]).toMatchObject({ configId: brokenChannel, attempt: 1, responseCode: 500, nextAttemptAt: null });
    // The flaky receiver answers 200 from its second request on.
    expect((await theirFeed.next()).notificationDeliveryChanged).toMatchObject({ configId: theirChannel, status: 'DELIVERED', attempt: 1 });
    expect(onlyFlaky.buffered).toBe(0);
  });

  it('refuses each feed to a caller without its permission, with FORBIDDEN', async () => {
    const tenant = await aTenant();
    const environment = await a.db.system.environment.create({ data: { tenantId: tenant.user.tenantId, name: 'prod' } });
    const environmentId = encodeGlobalID('Environment', environment.id);
    const clusterOnly = await aKeyOnB(tenant, environmentId, ['cluster:read']);
    const deploymentsOnly = await aKeyOnB(tenant, environmentId, ['deployments:read']);
    const conversation = globalId('Conversation', '00000000-0000-4000-8000-000000000001');
    const refused = await Promise.all([
      clusterOnly.requestOverWebSocket(OnDeploymentChangedDocument, {}),
      clusterOnly.requestOverWebSocket(OnConversationMessageAddedDocument, { conversationId: conversation }),
      clusterOnly.requestOverWebSocket(OnNotificationDeliveryChangedDocument, {}),
      deploymentsOnly.requestOverWebSocket(OnNodeRegistryChangedDocument),
    ]);
    expect(refused.map(codeOf)).toEqual(['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']);
  });
});
