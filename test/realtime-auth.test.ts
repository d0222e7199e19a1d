import { encodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Topic } from '../src/infra/topics.js';
import {
  CreateApiKeyDocument,
  LogoutDocument,
  OnNodeHeartbeatDocument,
  RecordHeartbeatDocument,
  RevokeApiKeyDocument,
  UpdateUserDocument,
} from './generated/graphql.js';
import { aComputeNode, aRegisteredNode } from './helpers/builders.js';
import { aUserWithPassword, login } from './helpers/identity.js';
import { bearer, openSocket, startRealtimeServer, subscribe, subscribeOverSse, untilSubscribedInRedis, wsClient } from './helpers/realtime.js';
import { runPostgresTests, runRedisTests, TEST_REDIS_URL } from './helpers/backing-services.js';
import type { DatabaseKind, SignedInUser, TestServer } from './helpers/server.js';

// The socket rules do not depend on the database; one kind keeps the file quick.
const kind: DatabaseKind = runPostgresTests ? 'postgres' : 'pglite';

describe('socket credentials expire', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startRealtimeServer(kind, { auth: { accessTokenTtlSeconds: 2 } as never });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('closes the socket with 4403 when its access token expires, so the client refreshes and reconnects', async () => {
    const user = await server.signIn({ role: 'readonly' });
    const socket = await openSocket(server.url, bearer(user.token));
    expect(socket.isOpen()).toBe(true);
    expect(await socket.closed).toEqual({ code: 4403, reason: 'Access token expired' });
  });

  it('refuses a socket whose token is not valid', async () => {
    await expect(openSocket(server.url, bearer('not-a-token'))).rejects.toThrow(/closed before connecting: 4403 Forbidden/);
  });

  it('ends an SSE subscription when its access token expires', async () => {
    const user = await server.signIn({ role: 'readonly' });
    const feed = await subscribeOverSse(server.url, user.headers, OnNodeHeartbeatDocument, {});
    expect(await feed.ended).toEqual({ errors: [{ message: 'access token expired: refresh it and subscribe again' }] });
  });
});

describe.skipIf(!runRedisTests)('revoked credentials close their sockets on every instance', () => {
  let a: TestServer;
  let b: TestServer;
  let admin: SignedInUser;

  beforeAll(async () => {
    a = await startRealtimeServer(kind, { redisUrl: TEST_REDIS_URL });
    b = await startRealtimeServer(kind, { redisUrl: TEST_REDIS_URL, databaseUrl: a.rawDatabaseUrl });
    admin = await a.signIn({ role: 'admin' });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('logout closes the sockets of that sign-in on both instances with 4401, and no other sign-in', async () => {
    const user = await aUserWithPassword(admin, 'operator');
    const first = (await login(a, user.username, user.password)).tokens!;
    const second = (await login(a, user.username, user.password)).tokens!;
    const onA = await openSocket(a.url, bearer(first.accessToken));
    const onB = await openSocket(b.url, bearer(first.accessToken));
    const otherSignIn = await openSocket(b.url, bearer(second.accessToken));

    const loggedOut = await a.withHeaders(bearer(first.accessToken)).request(LogoutDocument, { refreshToken: first.refreshToken });
    expect(loggedOut.data?.logout).toBe(true);

    expect(await onA.closed).toEqual({ code: 4401, reason: 'Credentials revoked' });
    expect(await onB.closed).toEqual({ code: 4401, reason: 'Credentials revoked' });
    // The other sign-in still works over its socket.
    const stillServed = await new Promise((resolve, reject) =>
      otherSignIn.client.subscribe({ query: '{ __typename }' }, { next: resolve, error: reject, complete: () => undefined }),
    );
    expect(stillServed).toEqual({ data: { __typename: 'Query' } });
    expect(otherSignIn.isOpen()).toBe(true);
    await otherSignIn.client.dispose();
  });

  it('revoking an API key closes the sockets signed in with it, on the other instance too', async () => {
    const environment = await a.db.system.environment.create({ data: { tenantId: admin.tenantId, name: 'prod' } });
    const created = await admin.request(CreateApiKeyDocument, {
      input: { name: 'dashboard', environmentId: encodeGlobalID('Environment', environment.id), scopes: ['cluster:read'] },
    });
    const payload = created.data?.createApiKey;
    if (payload?.__typename !== 'CreateApiKeySuccess') throw new Error(JSON.stringify(created));
    const keySocket = await openSocket(b.url, { apiKey: payload.created.secret });
    const adminSocket = await openSocket(b.url, bearer(admin.token));

    const revoked = await admin.request(RevokeApiKeyDocument, { id: payload.created.apiKey.id });
    expect(revoked.data?.revokeApiKey.__typename).toBe('RevokeApiKeySuccess');

    expect(await keySocket.closed).toEqual({ code: 4401, reason: 'Credentials revoked' });
    expect(adminSocket.isOpen()).toBe(true);
    await adminSocket.client.dispose();
  });

  it("deactivating a user closes that user's sockets, and the subscriptions on them end", async () => {
    const user = await aUserWithPassword(admin, 'operator');
    const tokens = (await login(a, user.username, user.password)).tokens!;
    const client = wsClient(b.url, bearer(tokens.accessToken));
    const feed = subscribe(client, OnNodeHeartbeatDocument, {});
    await untilSubscribedInRedis(TEST_REDIS_URL, Topic.NodeHeartbeatsRecorded, admin.tenantId);

    const updated = await admin.request(UpdateUserDocument, { id: user.id, input: { status: 'INACTIVE' } });
    expect(updated.data?.updateUser.__typename).toBe('UpdateUserSuccess');

    expect(await feed.ended()).toMatchObject({ code: 4401, reason: 'Credentials revoked' });
    await client.dispose();
  });

  it('ends SSE subscriptions of a signed-out sign-in', async () => {
    const user = await aUserWithPassword(admin, 'operator');
    const tokens = (await login(a, user.username, user.password)).tokens!;
    const feed = await subscribeOverSse(b.url, bearer(tokens.accessToken), OnNodeHeartbeatDocument, {});
    await untilSubscribedInRedis(TEST_REDIS_URL, Topic.NodeHeartbeatsRecorded, admin.tenantId);

    // It delivers first: a heartbeat recorded on A arrives over B's event stream.
    const nodeId = (await aRegisteredNode(admin, aComputeNode())).id;
    await admin.request(RecordHeartbeatDocument, { input: { nodeId, status: 'HEALTHY', load: 0.4 } });
    expect(await feed.next()).toMatchObject({ nodeHeartbeat: { nodeId, status: 'HEALTHY', load: 0.4 } });

    await a.withHeaders(bearer(tokens.accessToken)).request(LogoutDocument, {});
    expect(await feed.ended).toEqual({ errors: [{ message: 'credentials revoked' }] });
  });
});
