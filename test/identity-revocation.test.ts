import { encodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TokenService } from '../src/modules/identity/tokens.js';
import { ClusterNodesDocument, CreateSessionDocument, MeDocument, UpdateUserDocument } from './generated/graphql.js';
import { aSession } from './helpers/builders.js';
import { runPostgresTests, TEST_REDIS_URL } from './helpers/backing-services.js';
import { startTestServer, twoInstances, type SignedInUser, type TestServer } from './helpers/server.js';

const codeOf = (result: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => result.errors?.[0]?.extensions?.code;

describe('revocation takes effect on the next request, whatever the cache holds', () => {
  let server: TestServer;
  let admin: SignedInUser;

  beforeAll(async () => {
    server = await startTestServer('pglite');
    admin = await server.signIn({ role: 'admin' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('refuses a deactivated user at once, though their check was cached a moment ago', async () => {
    const user = await server.signIn({ role: 'user', tenantId: admin.tenantId });
    expect((await user.request(MeDocument)).data?.me).toBeTruthy();
    const deactivated = await admin.request(UpdateUserDocument, { id: encodeGlobalID('User', user.userId), input: { status: 'INACTIVE' } });
    expect(deactivated.data?.updateUser.__typename).toBe('UpdateUserSuccess');
    expect(codeOf(await user.request(MeDocument))).toBe('UNAUTHENTICATED');
  });

  it('applies a demotion to READONLY to the very next mutation', async () => {
    const user = await server.signIn({ role: 'user', tenantId: admin.tenantId });
    expect((await user.request(CreateSessionDocument, { input: aSession() })).data?.createSession.__typename).toBe('CreateSessionSuccess');
    await admin.request(UpdateUserDocument, { id: encodeGlobalID('User', user.userId), input: { role: 'READONLY' } });
    expect(codeOf(await user.request(CreateSessionDocument, { input: aSession() }))).toBe('FORBIDDEN');
  });

  it("refuses a signed token naming another tenant than the user's, right after the genuine one was accepted", async () => {
    const other = await server.signIn({ role: 'admin' });
    const user = await server.signIn({ role: 'admin', tenantId: admin.tenantId });
    expect(codeOf(await user.request(ClusterNodesDocument, { first: 1 }))).toBeUndefined();
    const tokens = await TokenService.create(server.config.auth);
    const { token } = await tokens.issueAccessToken({ userId: user.userId, tenantId: other.tenantId, role: 'admin', sessionFamilyId: null });
    const forged = await server.withHeaders({ authorization: `Bearer ${token}` }).request(ClusterNodesDocument, { first: 1 });
    expect(codeOf(forged)).toBe('UNAUTHENTICATED');
  });
});

describe.runIf(runPostgresTests)('revocation reaches every instance', () => {
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

  it('drops the cached check of a user deactivated on another instance', async () => {
    const admin = await first.signIn({ role: 'admin' });
    const user = await first.signIn({ role: 'user', tenantId: admin.tenantId });
    const onSecond = second.withHeaders(user.headers);
    expect((await onSecond.request(MeDocument)).data?.me).toBeTruthy();
    await admin.request(UpdateUserDocument, { id: encodeGlobalID('User', user.userId), input: { status: 'INACTIVE' } });
    // The event crosses Redis; the cache would otherwise keep answering for seconds.
    await vi.waitFor(async () => expect(codeOf(await onSecond.request(MeDocument))).toBe('UNAUTHENTICATED'), { timeout: 1_000, interval: 20 });
  });
});
