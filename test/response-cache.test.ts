import { encodeGlobalID } from '@pothos/plugin-relay';
import { isObjectType, type ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NEVER_CACHED, RETIRE_EVERY_TENANT, RETIRE_NOTHING } from '../src/http/response-cache.js';
import { buildSchema } from '../src/schema.js';
import {
  CreateApiKeyDocument,
  MeDocument,
  PolledApiKeysDocument,
  PolledNodeHeartbeatsDocument,
  PolledNodesDocument,
  PolledSecurityEventsDocument,
  SetNodeStatusDocument,
  UpdateNodeDocument,
} from './generated/graphql.js';
import { aComputeNode, aRegisteredNode, rawId } from './helpers/builders.js';
import { runPostgresTests, runRedisTests, TEST_REDIS_URL } from './helpers/backing-services.js';
import { eventually, PUBSUB_NAMESPACE } from './helpers/realtime.js';
import { startTestServer, twoInstances, type DatabaseKind, type GraphQLClient, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

/** Far longer than any test: within one, only a retirement can make a change visible. */
const CACHE_ON = { RESPONSE_CACHE_TTL_MS: '600000', LIVENESS_SWEEP_INTERVAL_MS: '200' };

const cacheOf = (result: ExecutionResult<unknown>) => (result.extensions as { responseCache?: { hit?: boolean; didCache?: boolean } } | undefined)?.responseCache;
const hostnames = (result: ExecutionResult<{ nodes: { edges: { node: { hostname: string } }[] } }>) => result.data!.nodes.edges.map((edge) => edge.node.hostname);
const statusOf = (result: ExecutionResult<{ nodes: { edges: { node: { id: string; status: string } }[] } }>, id: string) =>
  result.data!.nodes.edges.find((edge) => edge.node.id === id)?.node.status;

/** Sends the query until an answer comes from the cache, proving an entry is there. */
async function cached<R>(client: GraphQLClient, send: (client: GraphQLClient) => Promise<ExecutionResult<R>>): Promise<ExecutionResult<R>> {
  const first = await send(client);
  expect(first.errors).toBeUndefined();
  const second = await send(client);
  expect(cacheOf(second)).toMatchObject({ hit: true });
  expect(second.data).toEqual(first.data);
  return second;
}

const polledNodes = (client: GraphQLClient) => client.request(PolledNodesDocument);

describe('the response cache rules', () => {
  it('name only fields and mutations the schema has', () => {
    const schema = buildSchema();
    const missingFields = NEVER_CACHED.filter((coordinate) => {
      const [typeName, field] = coordinate.split('.') as [string, string];
      const type = schema.getType(typeName);
      return !isObjectType(type) || !type.getFields()[field];
    });
    expect(missingFields).toEqual([]);
    const mutations = schema.getMutationType()!.getFields();
    expect([...RETIRE_NOTHING, ...RETIRE_EVERY_TENANT].filter((name) => !mutations[name])).toEqual([]);
  });
});

describe.each(kinds)('the response cache on %s', (kind) => {
  let server: TestServer;
  let environmentId: string;
  let admin: SignedInUser;

  beforeAll(async () => {
    server = await startTestServer(kind, {}, { env: CACHE_ON });
    admin = await server.signIn({ role: 'admin' });
    const environment = await server.db.system.environment.create({ data: { tenantId: admin.tenantId, name: 'prod' } });
    environmentId = encodeGlobalID('Environment', environment.id);
  });
  afterAll(async () => {
    await server?.close();
  });

  async function anApiKey(owner: SignedInUser, rateLimitPerMinute = 1_000) {
    const result = await owner.request(CreateApiKeyDocument, { input: { name: `dashboard-${rateLimitPerMinute}`, environmentId, scopes: ['cluster:read'], rateLimitPerMinute } });
    const payload = result.data!.createApiKey;
    if (payload.__typename !== 'CreateApiKeySuccess') throw new Error(JSON.stringify(payload));
    return { ...payload.created, client: server.withHeaders({ 'x-api-key': payload.created.secret }) };
  }

  it('answers a repeated query from the cache, without asking the database', async () => {
    const node = await aRegisteredNode(admin, aComputeNode());
    const first = await polledNodes(admin);
    expect(cacheOf(first)).toMatchObject({ hit: false, didCache: true });

    // Written behind the API's back (no mutation, no event): only a fresh execution could show it.
    await server.db.system.node.update({ where: { id: rawId(node.id) }, data: { hostname: 'renamed-in-the-database' } });
    const second = await polledNodes(admin);
    expect(cacheOf(second)).toMatchObject({ hit: true });
    expect(second.data).toEqual(first.data);
    expect(hostnames(second)).toContain(node.hostname);
  });

  it("shows a mutation's change in the very next read, whoever in the tenant made it", async () => {
    const node = await aRegisteredNode(admin, aComputeNode({ status: 'ACTIVE' }));
    const operator = await server.signIn({ role: 'operator', tenantId: admin.tenantId });
    expect(hostnames(await cached(admin, polledNodes))).toContain(node.hostname);

    // A change no domain event announces: only the mutation itself can retire the entry.
    const renamed = `renamed-${node.hostname}`;
    expect((await admin.request(UpdateNodeDocument, { id: node.id, input: { hostname: renamed } })).data!.updateNode.__typename).toBe('UpdateNodeSuccess');
    const afterOwn = await polledNodes(admin);
    expect(cacheOf(afterOwn)?.hit).toBe(false);
    expect(hostnames(afterOwn)).toContain(renamed);

    await cached(admin, polledNodes);
    expect((await operator.request(SetNodeStatusDocument, { id: node.id, status: 'MAINTENANCE' })).data!.setNodeStatus.__typename).toBe('SetNodeStatusSuccess');
    expect(statusOf(await polledNodes(admin), node.id)).toBe('MAINTENANCE');
  });

  it('shows a change a background job announces in the next read', async () => {
    const node = await aRegisteredNode(admin, aComputeNode({ status: 'ACTIVE' }));
    expect(statusOf(await cached(admin, polledNodes), node.id)).toBe('ACTIVE');

    // Silent for ten minutes: the liveness sweeper (every 200 ms here) marks the node failed and announces it.
    await server.db.system.$executeRaw`UPDATE nodes SET last_heartbeat = now() - interval '10 minutes' WHERE node_id = ${rawId(node.id)}::uuid`;
    const failed = await eventually(async () => {
      const answer = await polledNodes(admin);
      return statusOf(answer, node.id) === 'FAILED' ? answer : undefined;
    }, 'the failed node in a read');
    expect(cacheOf(failed)?.hit).toBe(false);
    expect((await server.db.system.node.findUniqueOrThrow({ where: { id: rawId(node.id) } })).status).toBe('failed');
  });

  it("never answers one tenant's query with another tenant's entry", async () => {
    const mine = await aRegisteredNode(admin, aComputeNode());
    const other = await server.signIn({ role: 'admin' });
    const theirs = await aRegisteredNode(other, aComputeNode());
    const empty = await server.signIn({ role: 'admin' });
    await cached(admin, polledNodes);

    const otherFirst = await polledNodes(other);
    expect(cacheOf(otherFirst)).toMatchObject({ hit: false });
    expect(hostnames(otherFirst)).toEqual([theirs.hostname]);
    const emptyFirst = await polledNodes(empty);
    expect(cacheOf(emptyFirst)).toMatchObject({ hit: false });
    expect(hostnames(emptyFirst)).toEqual([]);

    expect(hostnames(await cached(other, polledNodes))).toEqual([theirs.hostname]);
    const mineAgain = await polledNodes(admin);
    expect(cacheOf(mineAgain)).toMatchObject({ hit: true });
    expect(hostnames(mineAgain)).toContain(mine.hostname);
    expect(hostnames(mineAgain)).not.toContain(theirs.hostname);
  });

  it("never answers one user's query with another user's entry, whatever their roles", async () => {
    const key = await anApiKey(admin);
    const user = await server.signIn({ role: 'user', tenantId: admin.tenantId });
    const readonly = await server.signIn({ role: 'readonly', tenantId: admin.tenantId });
    const polledKeys = (client: GraphQLClient) => client.request(PolledApiKeysDocument);
    expect((await cached(admin, polledKeys)).data!.apiKeys.edges.map((edge) => edge.node.id)).toContain(key.apiKey.id);

    // Administrators see every key of the tenant; everyone else only their own.
    for (const caller of [user, readonly]) {
      const answer = await polledKeys(caller);
      expect(cacheOf(answer)).toMatchObject({ hit: false });
      expect(answer.data!.apiKeys.edges).toEqual([]);
    }
    const me = await user.request(MeDocument);
    expect(cacheOf(me)).toMatchObject({ hit: false });
    expect(me.data!.me).toMatchObject({ role: 'USER', user: { id: encodeGlobalID('User', user.userId) } });

    // The security log is the administrators'; a refusal is never stored either.
    await cached(admin, (client) => client.request(PolledSecurityEventsDocument));
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const refused = await readonly.request(PolledSecurityEventsDocument);
      expect(refused.data).toBeNull();
      expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(cacheOf(refused)?.hit).not.toBe(true);
    }
  });

  it('refuses credentials revoked since an answer was stored, before looking in the cache', async () => {
    const key = await anApiKey(admin);
    await cached(key.client, polledNodes);
    // Revoked in the database alone: no mutation or event retires the key's entry.
    await server.db.system.apiKey.update({ where: { id: rawId(key.apiKey.id) }, data: { status: 'revoked', revokedAt: new Date() } });

    const refused = await polledNodes(key.client);
    expect(refused.data).toBeUndefined();
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('counts answers from the cache against the rate limit', async () => {
    const key = await anApiKey(admin, 3);
    const answers = [];
    for (let request = 0; request < 5; request += 1) answers.push(await polledNodes(key.client));
    expect(answers.slice(0, 3).map((answer) => cacheOf(answer)?.hit)).toEqual([false, true, true]);
    expect(answers.slice(3).map((answer) => answer.errors?.[0]?.extensions?.code)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
  });

  it('never stores an answer that selects values changing unannounced', async () => {
    await aRegisteredNode(admin, aComputeNode());
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const answer = await admin.request(PolledNodeHeartbeatsDocument);
      expect(answer.errors).toBeUndefined();
      expect(cacheOf(answer)).toEqual({ hit: false, didCache: false });
    }
  });
});

describe.each(kinds)('without RESPONSE_CACHE_TTL_MS on %s', (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('runs every query', async () => {
    const admin = await server.signIn({ role: 'admin' });
    const node = await aRegisteredNode(admin, aComputeNode());
    const first = await polledNodes(admin);
    expect(first.extensions).toBeUndefined();
    expect(hostnames(first)).toEqual([node.hostname]);

    await server.db.system.node.update({ where: { id: rawId(node.id) }, data: { hostname: 'renamed-in-the-database' } });
    const second = await polledNodes(admin);
    expect(second.extensions).toBeUndefined();
    expect(hostnames(second)).toEqual(['renamed-in-the-database']);
  });
});

describe.skipIf(!runPostgresTests || !runRedisTests)('the response cache in Redis, shared by two instances', () => {
  let instances: Awaited<ReturnType<typeof twoInstances>>;
  let admin: SignedInUser;
  const on = (server: TestServer, user: SignedInUser) => server.withHeaders(user.headers);

  beforeAll(async () => {
    instances = await twoInstances(TEST_REDIS_URL, { env: { ...CACHE_ON, PUBSUB_NAMESPACE } });
    admin = await instances.first.signIn({ role: 'admin' });
  });
  afterAll(async () => {
    await instances?.close();
  });

  it("answers from one instance's entry on the other, for the same principal only", async () => {
    const { first, second } = instances;
    const node = await aRegisteredNode(admin, aComputeNode());
    expect(cacheOf(await polledNodes(on(first, admin)))).toMatchObject({ hit: false, didCache: true });
    const shared = await polledNodes(on(second, admin));
    expect(cacheOf(shared)).toMatchObject({ hit: true });
    expect(hostnames(shared)).toContain(node.hostname);

    const other = await first.signIn({ role: 'admin' });
    const theirs = await polledNodes(on(second, other));
    expect(cacheOf(theirs)).toMatchObject({ hit: false });
    expect(hostnames(theirs)).toEqual([]);
  });

  it('shows a mutation made through one instance in the next read through the other', async () => {
    const { first, second } = instances;
    const node = await aRegisteredNode(admin, aComputeNode());
    expect(hostnames(await cached(on(first, admin), polledNodes))).toContain(node.hostname);

    const renamed = `renamed-${node.hostname}`;
    const changed = await on(second, admin).request(UpdateNodeDocument, { id: node.id, input: { hostname: renamed } });
    expect(changed.data!.updateNode.__typename).toBe('UpdateNodeSuccess');
    const next = await polledNodes(on(first, admin));
    expect(cacheOf(next)?.hit).toBe(false);
    expect(hostnames(next)).toContain(renamed);
  });

  it('shows a change a background job on either instance announces in the next read', async () => {
    const { first } = instances;
    const node = await aRegisteredNode(admin, aComputeNode({ status: 'ACTIVE' }));
    expect(statusOf(await cached(on(first, admin), polledNodes), node.id)).toBe('ACTIVE');

    await first.db.system.$executeRaw`UPDATE nodes SET last_heartbeat = now() - interval '10 minutes' WHERE node_id = ${rawId(node.id)}::uuid`;
    await eventually(async () => (statusOf(await polledNodes(on(first, admin)), node.id) === 'FAILED' ? true : undefined), 'the failed node in a read');
  });
});
