import { SignJWT, generateKeyPair, exportJWK, UnsecuredJWT } from 'jose';
import { createServer as createHttpServer, type Server } from 'node:http';
import { Secret, TOTP } from 'otpauth';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChangePasswordDocument,
  ConfirmTotpDocument,
  EnrollTotpDocument,
  IssuePasswordResetDocument,
  LoginAttemptsDocument,
  LogoutDocument,
  MeDocument,
  RefreshTokenDocument,
  ResetPasswordDocument,
  SecurityEventsDocument,
} from './generated/graphql.js';
import { STRONG_PASSWORD, aUserWithPassword, login } from './helpers/identity.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { TEST_JWT_SECRET, startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const secret = new TextEncoder().encode(TEST_JWT_SECRET);

describe.each(kinds)('signing in on %s', (kind) => {
  let server: TestServer;
  let admin: SignedInUser;
  const logLines: string[] = [];

  beforeAll(async () => {
    server = await startTestServer(kind, {}, { logLines });
    admin = await server.signIn({ role: 'admin' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('logs in by email or username and the access token identifies the user', async () => {
    const user = await aUserWithPassword(admin, 'operator');
    const byEmail = await login(server, user.email.toUpperCase(), STRONG_PASSWORD);
    expect(byEmail.errors).toBeUndefined();
    const byUsername = await login(server, user.username, STRONG_PASSWORD);
    expect(byUsername.tokens?.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const me = await server.withHeaders({ authorization: `Bearer ${byUsername.tokens!.accessToken}` }).request(MeDocument);
    expect(me.data!.me).toMatchObject({ kind: 'USER', role: 'OPERATOR', user: { username: user.username }, tenant: { id: encodeGlobalID('Tenant', admin.tenantId) }, apiKey: null });
    expect(me.data!.me.permissions).toContain('cluster:write');
    expect(me.data!.me.permissions).not.toContain('identity:write');
  });

  it('answers a wrong password and an unknown user identically, and records both attempts', async () => {
    const user = await aUserWithPassword(admin);
    const wrong = await login(server, user.username, 'not the password at all');
    const unknown = await login(server, 'nobody-by-this-name', 'not the password at all');
    // Identical but for the id of each request, which every error carries.
    const withoutRequestId = (errors: typeof wrong.errors) => errors?.map(({ extensions: { requestId, ...rest } = {}, ...error }) => ({ ...error, extensions: rest }));
    expect(withoutRequestId(wrong.errors)).toEqual(withoutRequestId(unknown.errors));
    expect(wrong.errors![0]!.extensions!.requestId).not.toEqual(unknown.errors![0]!.extensions!.requestId);
    expect(wrong.code).toBe('UNAUTHENTICATED');
    expect(wrong.errors![0]!.message).toBe('Invalid credentials');
    const attempts = await admin.request(LoginAttemptsDocument, { filter: { username: user.username } });
    expect(attempts.data!.loginAttempts.edges.map((edge) => edge.node)).toEqual([
      { username: user.username, success: false, failureReason: 'bad_password', ipAddress: '127.0.0.1' },
    ]);
  });

  it('rotates refresh tokens, and reusing a rotated one revokes the whole family', async () => {
    const user = await aUserWithPassword(admin);
    const { tokens } = await login(server, user.username, STRONG_PASSWORD);
    const first = await server.request(RefreshTokenDocument, { refreshToken: tokens!.refreshToken });
    const rotated = first.data!.refreshToken;
    expect(rotated.refreshToken).not.toBe(tokens!.refreshToken);

    const replay = await server.request(RefreshTokenDocument, { refreshToken: tokens!.refreshToken });
    expect(replay.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const afterReplay = await server.request(RefreshTokenDocument, { refreshToken: rotated.refreshToken });
    expect(afterReplay.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const me = await server.withHeaders({ authorization: `Bearer ${rotated.accessToken}` }).request(MeDocument);
    expect(me.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const events = await admin.request(SecurityEventsDocument, { filter: { eventType: ['refresh_token_reused'] } });
    expect(events.data!.securityEvents.edges.map((edge) => edge.node.username)).toContain(user.username);
  });

  it('logout ends the access token and the refresh token', async () => {
    const user = await aUserWithPassword(admin);
    const { tokens } = await login(server, user.username, STRONG_PASSWORD);
    const client = server.withHeaders({ authorization: `Bearer ${tokens!.accessToken}` });
    expect((await client.request(LogoutDocument, {})).data!.logout).toBe(true);
    expect((await client.request(MeDocument)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const refreshed = await server.request(RefreshTokenDocument, { refreshToken: tokens!.refreshToken });
    expect(refreshed.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('locks an account after 5 failures, even against the right password, and records the lockout', async () => {
    const user = await aUserWithPassword(admin);
    for (let i = 0; i < 5; i += 1) expect((await login(server, user.username, `wrong-${i}-password`)).code).toBe('UNAUTHENTICATED');
    expect((await login(server, user.username, STRONG_PASSWORD)).code).toBe('UNAUTHENTICATED');
    const events = await admin.request(SecurityEventsDocument, { filter: { eventType: ['account_locked'] } });
    expect(events.data!.securityEvents.edges.map((edge) => edge.node.username)).toEqual([user.username]);
    const attempts = await admin.request(LoginAttemptsDocument, { filter: { username: user.username } });
    expect(attempts.data!.loginAttempts.edges[0]!.node).toMatchObject({ success: false, failureReason: 'locked' });
  });

  it('enrols TOTP and then requires a current code to sign in', async () => {
    const user = await aUserWithPassword(admin);
    const { tokens } = await login(server, user.username, STRONG_PASSWORD);
    const client = server.withHeaders({ authorization: `Bearer ${tokens!.accessToken}` });
    const enrollment = (await client.request(EnrollTotpDocument)).data!.enrollTotp;
    expect(enrollment.uri).toMatch(/^otpauth:\/\/totp\//);
    const totp = new TOTP({ secret: Secret.fromBase32(enrollment.secret), digits: 6, period: 30 });
    expect((await client.request(ConfirmTotpDocument, { code: '000000' === totp.generate() ? '111111' : '000000' })).data!.confirmTotp.__typename).toBe('ValidationError');
    expect((await client.request(ConfirmTotpDocument, { code: totp.generate() })).data!.confirmTotp.__typename).toBe('ConfirmTotpSuccess');

    const withoutCode = await login(server, user.username, STRONG_PASSWORD);
    expect(withoutCode.code).toBe('UNAUTHENTICATED');
    expect(withoutCode.errors![0]!.extensions!.totpRequired).toBe(true);
    expect((await login(server, user.username, STRONG_PASSWORD, totp.generate())).tokens).toBeDefined();
  });

  it('refuses any of the last 5 passwords on change, and a reset token works exactly once', async () => {
    const user = await aUserWithPassword(admin);
    const passwords = [STRONG_PASSWORD, 'second password 2nd', 'third password 3rd!', 'fourth password 4th', 'fifth password 5th!'];
    let current = STRONG_PASSWORD;
    for (const next of passwords.slice(1)) {
      const { tokens } = await login(server, user.username, current);
      const changed = await server.withHeaders({ authorization: `Bearer ${tokens!.accessToken}` }).request(ChangePasswordDocument, {
        input: { currentPassword: current, newPassword: next },
      });
      expect(changed.data!.changePassword.__typename).toBe('ChangePasswordSuccess');
      current = next;
    }
    const { tokens } = await login(server, user.username, current);
    const reuse = await server.withHeaders({ authorization: `Bearer ${tokens!.accessToken}` }).request(ChangePasswordDocument, {
      input: { currentPassword: current, newPassword: STRONG_PASSWORD },
    });
    expect(reuse.data!.changePassword).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'newPassword' }] });

    const ticket = (await admin.request(IssuePasswordResetDocument, { userId: user.id })).data!.issuePasswordReset!;
    const reset = await server.request(ResetPasswordDocument, { input: { token: ticket.token, newPassword: 'a brand new password' } });
    expect(reset.data!.resetPassword.__typename).toBe('ResetPasswordSuccess');
    const again = await server.request(ResetPasswordDocument, { input: { token: ticket.token, newPassword: 'another new password' } });
    expect(again.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await login(server, user.username, 'a brand new password')).tokens).toBeDefined();
  });

  it('rejects forged, tampered, expired and misaddressed tokens', async () => {
    const base = () => new SignJWT({ tid: admin.tenantId, role: 'admin' }).setSubject(admin.userId).setIssuedAt();
    const valid = { iss: 'omega-control-plane', aud: 'omega-api' };
    const tokens = {
      none: new UnsecuredJWT({ tid: admin.tenantId, role: 'admin' }).setSubject(admin.userId).setIssuer(valid.iss).setAudience(valid.aud).setExpirationTime('5m').encode(),
      wrongSignature: await base().setProtectedHeader({ alg: 'HS256' }).setIssuer(valid.iss).setAudience(valid.aud).setExpirationTime('5m').sign(new TextEncoder().encode('another-secret-another-secret-another-secret')),
      wrongIssuer: await base().setProtectedHeader({ alg: 'HS256' }).setIssuer('someone-else').setAudience(valid.aud).setExpirationTime('5m').sign(secret),
      wrongAudience: await base().setProtectedHeader({ alg: 'HS256' }).setIssuer(valid.iss).setAudience('another-api').setExpirationTime('5m').sign(secret),
      expired: await base().setProtectedHeader({ alg: 'HS256' }).setIssuer(valid.iss).setAudience(valid.aud).setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(secret),
      tampered: `${admin.token.slice(0, -4)}${admin.token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`,
      garbage: 'not-a-jwt',
    };
    for (const [name, token] of Object.entries(tokens)) {
      const result = await server.withHeaders({ authorization: `Bearer ${token}` }).request(MeDocument);
      expect({ name, code: result.errors?.[0]?.extensions?.code, data: result.data ?? null }).toEqual({ name, code: 'UNAUTHENTICATED', data: null });
    }
  });

  it('never logs passwords, tokens or keys', async () => {
    logLines.length = 0;
    const user = await aUserWithPassword(admin);
    const { tokens } = await login(server, user.username, STRONG_PASSWORD);
    await login(server, user.username, 'definitely-wrong-password');
    await server.request(RefreshTokenDocument, { refreshToken: tokens!.refreshToken });
    const logs = logLines.join('');
    for (const secretValue of [STRONG_PASSWORD, 'definitely-wrong-password', tokens!.accessToken, tokens!.refreshToken]) {
      expect(logs).not.toContain(secretValue);
    }
  });
});

describe('tokens from an external identity provider (JWKS)', () => {
  let jwks: Server;
  let server: TestServer;
  let privateKey: CryptoKey;

  beforeAll(async () => {
    const pair = await generateKeyPair('EdDSA');
    privateKey = pair.privateKey as CryptoKey;
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'EdDSA', use: 'sig' };
    jwks = createHttpServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const port = (jwks.address() as { port: number }).port;
    server = await startTestServer('pglite', { auth: { jwksUrl: `http://127.0.0.1:${port}/jwks.json` } as never });
  });
  afterAll(async () => {
    await server?.close();
    jwks?.close();
  });

  it('accepts a token signed by a JWKS key with the tenant and role claims, for a known user', async () => {
    const user = await server.signIn({ role: 'user' });
    const token = await new SignJWT({ tid: user.tenantId, role: 'user' })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'idp-1' })
      .setSubject(user.userId)
      .setIssuer('omega-control-plane')
      .setAudience('omega-api')
      .setExpirationTime('5m')
      .sign(privateKey);
    const me = await server.withHeaders({ authorization: `Bearer ${token}` }).request(MeDocument);
    expect(me.errors).toBeUndefined();
    expect(me.data!.me.user!.id).toBeDefined();
    expect(me.data!.me.tenant.id).toBe(encodeGlobalID('Tenant', user.tenantId));
  });
});

describe('asymmetric signing keys', () => {
  let server: TestServer;

  beforeAll(async () => {
    const pair = await generateKeyPair('EdDSA', { extractable: true });
    const { exportPKCS8, exportSPKI } = await import('jose');
    server = await startTestServer('pglite', {
      auth: { jwtAlgorithm: 'EdDSA', jwtPrivateKey: await exportPKCS8(pair.privateKey), jwtPublicKey: await exportSPKI(pair.publicKey) } as never,
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('issues EdDSA tokens at login and refuses HS256 ones signed with the old shared secret', async () => {
    const admin = await server.signIn({ role: 'admin' });
    expect(JSON.parse(Buffer.from(admin.token.split('.')[0]!, 'base64url').toString())).toMatchObject({ alg: 'EdDSA' });
    const user = await aUserWithPassword(admin);
    const { tokens } = await login(server, user.username, STRONG_PASSWORD);
    expect((await server.withHeaders({ authorization: `Bearer ${tokens!.accessToken}` }).request(MeDocument)).errors).toBeUndefined();
    const hs256 = await new SignJWT({ tid: admin.tenantId, role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(admin.userId)
      .setIssuer('omega-control-plane')
      .setAudience('omega-api')
      .setExpirationTime('5m')
      .sign(secret);
    expect((await server.withHeaders({ authorization: `Bearer ${hs256}` }).request(MeDocument)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
