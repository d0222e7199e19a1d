import { encodeGlobalID } from '@pothos/plugin-relay';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSchema } from '../src/schema.js';
import { ROLE_PERMISSIONS, type Permission } from '../src/modules/identity/permissions.js';
import {
  ApiKeysDocument,
  CreateApiKeyDocument,
  CreateTenantDocument,
  CreateUserDocument,
  MeDocument,
  ClusterNodeDocument,
  ClusterNodesDocument,
  RegisterNodeDocument,
  RevokeApiKeyDocument,
  TenantDocument,
  UpdateUserDocument,
  UsersDocument,
} from './generated/graphql.js';
import { aGpuNode } from './helpers/builders.js';
import { STRONG_PASSWORD, login } from './helpers/identity.js';
import { TEST_REDIS_URL, runPostgresTests } from './helpers/backing-services.js';
import { startTestServer, twoInstances, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

/** Credential self-service: signing in and out and managing one's own second factor are not data changes. */
const SELF_SERVICE = new Set(['login', 'refreshToken', 'logout', 'changePassword', 'resetPassword', 'enrollTotp', 'confirmTotp']);

describe('authorization in the schema', () => {
  it('guards every mutation with a permission that readonly principals lack', () => {
    const fields = buildSchema().getMutationType()!.getFields();
    const unguarded: string[] = [];
    for (const [name, field] of Object.entries(fields)) {
      if (SELF_SERVICE.has(name)) continue;
      const scopes = (field.extensions as { pothosOptions?: { authScopes?: { permission?: Permission } } }).pothosOptions?.authScopes;
      if (!scopes?.permission || ROLE_PERMISSIONS.readonly.has(scopes.permission)) unguarded.push(name);
    }
    expect(unguarded).toEqual([]);
    expect(Object.keys(fields).length).toBeGreaterThan(SELF_SERVICE.size);
  });

  it('guards every query field', () => {
    const fields = buildSchema().getQueryType()!.getFields();
    const open = Object.entries(fields)
      .filter(([, field]) => !(field.extensions as { pothosOptions?: { authScopes?: unknown } }).pothosOptions?.authScopes)
      .map(([name]) => name);
    expect(open).toEqual([]);
  });
});

describe.each(kinds)('API keys, roles and tenants on %s', (kind) => {
  let server: TestServer;
  let admin: SignedInUser;
  let other: SignedInUser;
  let environmentId: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = await server.signIn({ role: 'admin' });
    other = await server.signIn({ role: 'admin' });
    const environment = await server.db.system.environment.create({ data: { tenantId: admin.tenantId, name: 'prod' } });
    environmentId = encodeGlobalID('Environment', environment.id);
  });
  afterAll(async () => {
    await server?.close();
  });

  async function anApiKey(scopes: string[], rateLimitPerMinute = 1000) {
    const result = await admin.request(CreateApiKeyDocument, { input: { name: `key-${scopes.join('+')}`, environmentId, scopes, rateLimitPerMinute } });
    const payload = result.data!.createApiKey;
    if (payload.__typename !== 'CreateApiKeySuccess') throw new Error(JSON.stringify(payload));
    return payload.created;
  }

  it('creates a key shown once, authenticates with it by either header, and keeps only its hash', async () => {
    const created = await anApiKey(['cluster:read', 'cluster:write']);
    expect(created.secret).toMatch(/^omk_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.secret.startsWith(`omk_${created.apiKey.prefix}_`)).toBe(true);
    const viaHeader = await server.withHeaders({ 'x-api-key': created.secret }).request(MeDocument);
    expect(viaHeader.data!.me).toMatchObject({ kind: 'API_KEY', permissions: ['cluster:read', 'cluster:write'] });
    const viaAuthorization = await server.withHeaders({ authorization: `ApiKey ${created.secret}` }).request(ClusterNodesDocument, { first: 1 });
    expect(viaAuthorization.errors).toBeUndefined();

    const row = await server.db.system.apiKey.findFirstOrThrow({ where: { keyPrefix: created.apiKey.prefix } });
    expect(row.keyHash).toMatch(/^[0-9a-f]{64}$/);
    // The secret part follows the fixed-length prefix; it may itself contain '_'.
    expect(JSON.stringify(row, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value))).not.toContain(created.secret.slice(`omk_${created.apiKey.prefix}_`.length));
    expect(row.lastUsedAt).toBeInstanceOf(Date);
    const listed = await admin.request(ApiKeysDocument);
    expect(JSON.stringify(listed)).not.toContain(created.secret);
  });

  it("limits a key to its scopes, and refuses scopes beyond its creator's", async () => {
    const readOnlyKey = await anApiKey(['cluster:read']);
    const write = await server.withHeaders({ 'x-api-key': readOnlyKey.secret }).request(RegisterNodeDocument, { input: aGpuNode() });
    expect(write.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const operator = await server.signIn({ role: 'operator', tenantId: admin.tenantId });
    const beyond = await operator.request(CreateApiKeyDocument, { input: { name: 'too much', environmentId, scopes: ['identity:write'] } });
    expect(beyond.data!.createApiKey).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'scopes' }] });
  });

  it('rejects a revoked key and an unknown one with UNAUTHENTICATED', async () => {
    const created = await anApiKey(['cluster:read']);
    const revoked = await admin.request(RevokeApiKeyDocument, { id: created.apiKey.id });
    expect(revoked.data!.revokeApiKey).toMatchObject({ __typename: 'RevokeApiKeySuccess', apiKey: { status: 'REVOKED' } });
    for (const key of [created.secret, `omk_${created.apiKey.prefix}_${'x'.repeat(43)}`, 'omk_nope', 'completely-wrong']) {
      const result = await server.withHeaders({ 'x-api-key': key }).request(MeDocument);
      expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
  });

  it('lets readonly users read but call no mutation', async () => {
    const viewer = await server.signIn({ role: 'readonly', tenantId: admin.tenantId });
    expect((await viewer.request(ClusterNodesDocument, { first: 1 })).errors).toBeUndefined();
    const attempts = [
      await viewer.request(RegisterNodeDocument, { input: aGpuNode() }),
      await viewer.request(CreateUserDocument, { input: { username: 'sneaky', email: 'sneaky@example.test', role: 'ADMIN' } }),
      await viewer.request(CreateApiKeyDocument, { input: { name: 'k', environmentId, scopes: ['cluster:read'] } }),
    ];
    expect(attempts.map((attempt) => attempt.errors?.[0]?.extensions?.code)).toEqual(['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']);
  });

  it('applies a demotion at once, and records the role change', async () => {
    const operator = await server.signIn({ role: 'operator', tenantId: admin.tenantId });
    expect((await operator.request(RegisterNodeDocument, { input: aGpuNode() })).data!.registerNode.__typename).toBe('RegisterNodeSuccess');
    const demoted = await admin.request(UpdateUserDocument, { id: encodeGlobalID('User', operator.userId), input: { role: 'READONLY' } });
    expect(demoted.data!.updateUser).toMatchObject({ __typename: 'UpdateUserSuccess', user: { role: 'READONLY' } });
    expect((await operator.request(RegisterNodeDocument, { input: aGpuNode() })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const event = await server.db.system.securityEvent.findFirst({ where: { eventType: 'role_changed', userId: operator.userId } });
    expect(event?.details).toMatchObject({ from: 'operator', to: 'readonly' });
  });

  it('confines every read and write to the caller tenant, by id and by filter', async () => {
    const registered = await admin.request(RegisterNodeDocument, { input: aGpuNode({ hostname: 'tenant-a-only.test' }) });
    if (registered.data!.registerNode.__typename !== 'RegisterNodeSuccess') throw new Error('node not registered');
    const nodeId = registered.data!.registerNode.node.id;

    expect((await other.request(ClusterNodeDocument, { id: nodeId })).data!.node).toBeNull();
    const otherNodes = await other.request(ClusterNodesDocument, { first: 100 });
    expect(otherNodes.data!.nodes.edges.map((edge) => edge.node.hostname)).not.toContain('tenant-a-only.test');
    const otherUsers = await other.request(UsersDocument, {});
    expect(otherUsers.data!.users.edges.map((edge) => edge.node.id)).not.toContain(encodeGlobalID('User', admin.userId));
    const hijack = await other.request(UpdateUserDocument, { id: encodeGlobalID('User', admin.userId), input: { role: 'READONLY' } });
    expect(hijack.data!.updateUser.__typename).toBe('NotFoundError');
    const keys = await admin.request(ApiKeysDocument);
    const foreignRevoke = await other.request(RevokeApiKeyDocument, { id: keys.data!.apiKeys.edges[0]!.node.id });
    expect(foreignRevoke.data!.revokeApiKey.__typename).toBe('NotFoundError');
    const tenant = await other.request(TenantDocument);
    expect(tenant.data!.tenant.id).toBe(encodeGlobalID('Tenant', other.tenantId));
  });

  it('enforces isolation in PostgreSQL itself: the API role under another tenant sees no rows', async () => {
    const client = new pg.Client({ connectionString: server.rawDatabaseUrl });
    await client.connect();
    try {
      const asTenant = async (tenantId: string) => {
        await client.query('BEGIN');
        await client.query("SELECT set_config('role', 'omega_app', true), set_config('app.current_tenant_id', $1, true)", [tenantId]);
        const { rows } = await client.query<{ tenant_id: string }>('SELECT DISTINCT tenant_id FROM nodes UNION SELECT tenant_id FROM users');
        const insert = await client
          .query("INSERT INTO users (tenant_id, username, email) VALUES ($1, 'intruder', 'intruder@example.test')", [admin.tenantId])
          .then(() => 'inserted', (error: Error) => error.message);
        await client.query('ROLLBACK');
        return { tenants: rows.map((row) => row.tenant_id), insert };
      };
      const fromOther = await asTenant(other.tenantId);
      expect(fromOther.tenants).toEqual([other.tenantId]);
      expect(fromOther.insert).toMatch(/row-level security/);
      const noTenant = await asTenant('');
      expect(noTenant.tenants).toEqual([]);
      const own = await asTenant(admin.tenantId);
      expect(own.tenants).toEqual([admin.tenantId]);
      expect(own.insert).toBe('inserted');
    } finally {
      await client.end();
    }
  });

  it('lets only administrators of the platform tenant create tenants', async () => {
    const input = { name: 'Acme', slug: `acme-${kind}`, admin: { username: `acme-admin-${kind}`, email: `admin-${kind}@acme.test`, password: STRONG_PASSWORD } };
    expect((await admin.request(CreateTenantDocument, { input })).data!.createTenant.__typename).toBe('ForbiddenError');
    await server.db.system.tenant.update({ where: { id: admin.tenantId }, data: { isPlatform: true } });
    const created = await admin.request(CreateTenantDocument, { input });
    expect(created.data!.createTenant).toMatchObject({
      __typename: 'CreateTenantSuccess',
      tenant: { slug: `acme-${kind}`, environments: ['DEV', 'PROD', 'STAGING'], adminUsername: `acme-admin-${kind}` },
    });
    expect((await admin.request(CreateTenantDocument, { input })).data!.createTenant.__typename).toBe('ConflictError');
    expect((await login(server, `acme-admin-${kind}`, STRONG_PASSWORD)).tokens).toBeDefined();
  });
});

describe.runIf(runPostgresTests)('rate limits shared through Redis', () => {
  let instances: Awaited<ReturnType<typeof twoInstances>> | undefined;
  let first: TestServer;
  let second: TestServer;

  beforeAll(async () => {
    instances = await twoInstances(TEST_REDIS_URL);
    ({ first, second } = instances);
  });
  afterAll(async () => {
    await instances?.close();
  });

  it('counts one key across instances and answers RATE_LIMITED with a retry hint', async () => {
    const admin = await first.signIn({ role: 'admin' });
    const environment = await first.db.system.environment.create({ data: { tenantId: admin.tenantId, name: 'dev' } });
    const created = await admin.request(CreateApiKeyDocument, {
      input: { name: 'limited', environmentId: encodeGlobalID('Environment', environment.id), scopes: ['cluster:read'], rateLimitPerMinute: 3 },
    });
    if (created.data!.createApiKey.__typename !== 'CreateApiKeySuccess') throw new Error('no key');
    const key = created.data!.createApiKey.created.secret;
    const results = [];
    for (const server of [first, second, first, second]) results.push(await server.withHeaders({ 'x-api-key': key }).request(MeDocument));
    expect(results.slice(0, 3).map((result) => result.errors)).toEqual([undefined, undefined, undefined]);
    expect(results[3]!.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(results[3]!.errors![0]!.extensions!.retryAfterSeconds).toBeGreaterThan(0);
  });
});
