import { randomBytes } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type ExecutionResult } from 'graphql';
import { createClient } from 'graphql-ws';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../src/config.js';
import { ConfirmTotpDocument, EnrollTotpDocument, LoginDocument } from './generated/graphql.js';
import { aUserWithPassword, login, STRONG_PASSWORD } from './helpers/identity.js';
import { startTestServer, type SignedInUser, type TestServer } from './helpers/server.js';

const FAILURES_PER_ADDRESS = 5;
const edge = { ...loadConfig({}).edge, signInFailuresPerAddress: FAILURES_PER_ADDRESS, trustedProxies: ['127.0.0.1'] };

describe('sign-in protection', () => {
  let server: TestServer;
  let admin: SignedInUser;

  beforeAll(async () => {
    server = await startTestServer('pglite', { edge });
    admin = await server.signIn({ role: 'admin' });
  });
  afterAll(async () => {
    await server?.close();
  });

  const loginFrom = async (address: string, name: string, password = 'wrong password') => {
    const result = await server.withHeaders({ 'x-forwarded-for': address }).request(LoginDocument, { input: { login: name, password } });
    return result.errors?.[0]?.extensions?.code;
  };

  const loginOverSocketFrom = async (address: string, name: string) => {
    const result = await socketWithHeaders(server.url, { 'x-forwarded-for': address }, LoginDocument, { input: { login: name, password: 'wrong password' } });
    return result.errors?.[0]?.extensions?.code;
  };

  it('throttles an address that sprays failed sign-ins over many accounts, and only that address', async () => {
    for (let attempt = 0; attempt < FAILURES_PER_ADDRESS; attempt++) {
      expect(await loginFrom('203.0.113.7', `nobody-${randomBytes(4).toString('hex')}`)).toBe('UNAUTHENTICATED');
    }
    expect(await loginFrom('203.0.113.7', `nobody-${randomBytes(4).toString('hex')}`)).toBe('RATE_LIMITED');
    const user = await aUserWithPassword(admin);
    expect(await loginFrom('203.0.113.7', user.username, STRONG_PASSWORD)).toBe('RATE_LIMITED');
    expect(await loginFrom('203.0.113.8', user.username, STRONG_PASSWORD)).toBeUndefined();
  });

  it('reads the client address of a socket by the same rule, so throttling over graphql-ws is per forwarded client', async () => {
    for (let attempt = 0; attempt < FAILURES_PER_ADDRESS; attempt++) {
      expect(await loginOverSocketFrom('203.0.113.20', `nobody-${randomBytes(4).toString('hex')}`)).toBe('UNAUTHENTICATED');
    }
    expect(await loginOverSocketFrom('203.0.113.20', `nobody-${randomBytes(4).toString('hex')}`)).toBe('RATE_LIMITED');
    expect(await loginFrom('203.0.113.20', `nobody-${randomBytes(4).toString('hex')}`)).toBe('RATE_LIMITED');
    expect(await loginOverSocketFrom('203.0.113.21', `nobody-${randomBytes(4).toString('hex')}`)).toBe('UNAUTHENTICATED');
  });

  it('accepts a TOTP code once', async () => {
    const user = await aUserWithPassword(admin);
    const { tokens } = await login(server, user.username, STRONG_PASSWORD);
    const client = server.withHeaders({ authorization: `Bearer ${tokens!.accessToken}` });
    const enrollment = (await client.request(EnrollTotpDocument)).data!.enrollTotp;
    const totp = new TOTP({ secret: Secret.fromBase32(enrollment.secret), digits: 6, period: 30 });
    expect((await client.request(ConfirmTotpDocument, { code: totp.generate() })).data!.confirmTotp.__typename).toBe('ConfirmTotpSuccess');
    const code = totp.generate();
    expect((await login(server, user.username, STRONG_PASSWORD, code)).tokens).toBeDefined();
    expect((await login(server, user.username, STRONG_PASSWORD, code)).code).toBe('UNAUTHENTICATED');
  });
});

describe('the client address without trusted proxies', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer('pglite', { edge: { ...edge, trustedProxies: [] } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('ignores X-Forwarded-For, so a sprayer cannot rotate it to escape the throttle, over HTTP or graphql-ws', async () => {
    const codes: unknown[] = [];
    for (let attempt = 0; attempt <= FAILURES_PER_ADDRESS; attempt++) {
      const result = await server.withHeaders({ 'x-forwarded-for': `198.51.100.${attempt}` }).request(LoginDocument, { input: { login: `nobody-${attempt}`, password: 'x' } });
      codes.push(result.errors?.[0]?.extensions?.code);
    }
    expect(codes.at(-1)).toBe('RATE_LIMITED');
    const overSocket = await socketWithHeaders(server.url, { 'x-forwarded-for': '198.51.100.99' }, LoginDocument, { input: { login: 'nobody-else', password: 'x' } });
    expect(overSocket.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });
});

/** One operation over graphql-ws on a socket whose upgrade request carries these headers, as a proxy in front would add. */
async function socketWithHeaders<R, V>(url: string, headers: Record<string, string>, document: TypedDocumentNode<R, V>, variables: V): Promise<ExecutionResult<R>> {
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: class extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers });
      }
    },
    retryAttempts: 0,
    lazy: true,
  });
  try {
    const step = await client.iterate({ query: print(document), variables: variables as Record<string, unknown> }).next();
    return step.value as ExecutionResult<R>;
  } finally {
    await client.dispose();
  }
}
