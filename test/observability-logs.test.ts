import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/infra/logger.js';
import { ClusterNodesDocument, LoginDocument, MeDocument } from './generated/graphql.js';
import { STRONG_PASSWORD, aUserWithPassword } from './helpers/identity.js';
import { startTestServer, type SignedInUser, type TestServer } from './helpers/server.js';

interface LogLine {
  level: string;
  msg: string;
  requestId?: string;
  [field: string]: unknown;
}

describe('request logs', () => {
  const logLines: string[] = [];
  let server: TestServer;
  let admin: SignedInUser;

  beforeAll(async () => {
    server = await startTestServer('pglite', { jobsEnabled: false }, { logLines });
    admin = await server.signIn({ role: 'admin' });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** Posts one operation with these headers and returns the response and the lines logged while it ran. */
  const send = async (query: string, variables: Record<string, unknown>, headers: Record<string, string>) => {
    const before = logLines.length;
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { errors?: { extensions?: Record<string, unknown> }[]; data?: Record<string, unknown> };
    return { response, body, lines: logLines.slice(before).join('').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as LogLine) };
  };

  it('echoes the request id and marks every line of the request with it, with one access line', async () => {
    const { response, lines } = await send(print(ClusterNodesDocument), { first: 5 }, { ...admin.headers, 'x-request-id': 'req-nodes-1' });
    expect(response.headers.get('x-request-id')).toBe('req-nodes-1');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((line) => line.requestId !== 'req-nodes-1')).toEqual([]);
    expect(lines.filter((line) => line.msg === 'operation')).toEqual([
      expect.objectContaining({ operationName: 'ClusterNodes', operationType: 'query', outcome: 'ok', principalId: admin.userId, durationMs: expect.any(Number) }),
    ]);
  });

  it('makes up an id when the client sends none or an unsafe one, and puts it in error extensions', async () => {
    const { response, body, lines } = await send(print(MeDocument), {}, { authorization: 'Bearer not-a-token', 'x-request-id': 'spaces are not allowed' });
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', requestId });
    expect(lines.filter((line) => line.requestId !== requestId)).toEqual([]);
  });

  it('logs no password, token or key, signing in right or wrong', async () => {
    const user = await aUserWithPassword(admin);
    const right = await send(print(LoginDocument), { input: { login: user.username, password: STRONG_PASSWORD } }, { 'x-request-id': 'req-login-1' });
    const tokens = (right.body.data as unknown as { login: { tokens: { accessToken: string; refreshToken: string } } }).login.tokens;
    const wrong = await send(print(LoginDocument), { input: { login: user.username, password: 'definitely-wrong-password' } }, { 'x-request-id': 'req-login-2' });
    const lines = [...right.lines, ...wrong.lines];
    expect(lines.filter((line) => line.msg === 'operation').map((line) => [line.requestId, line.operationName, line.operationType])).toEqual([
      ['req-login-1', 'Login', 'mutation'],
      ['req-login-2', 'Login', 'mutation'],
    ]);
    const text = logLines.join('');
    for (const secret of [STRONG_PASSWORD, 'definitely-wrong-password', tokens.accessToken, tokens.refreshToken, admin.token]) expect(text).not.toContain(secret);
  });
});

describe('log redaction', () => {
  it('replaces credentials by field name, and the fields configuration names', () => {
    const lines: string[] = [];
    const log = createLogger('info', (line) => lines.push(line), { redact: ['card.number'] });
    log.info('request', {
      headers: { authorization: 'Bearer abc.def.ghi', 'x-api-key': 'omega_live_key' },
      input: { password: 'hunter2-hunter2', token: 'reset-token-1' },
      apiKey: 'omega_key_2',
      card: { number: '4111111111111111', brand: 'visa' },
    });
    const text = lines.join('');
    for (const secret of ['abc.def.ghi', 'omega_live_key', 'hunter2-hunter2', 'reset-token-1', 'omega_key_2', '4111111111111111']) expect(text).not.toContain(secret);
    expect(JSON.parse(text)).toMatchObject({ msg: 'request', level: 'info', card: { brand: 'visa', number: '[redacted]' } });
  });
});
