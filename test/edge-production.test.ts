import type { ExecutionResult } from 'graphql';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { bearer, wsClient } from './helpers/realtime.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const production = loadConfig({ NODE_ENV: 'production' }).edge;

describe('production defaults at the edge', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer('pglite', { edge: production });
  });
  afterAll(async () => {
    await server?.close();
  });

  const post = (body: string, headers: Record<string, string>) => fetch(server.url, { method: 'POST', headers, body });

  it('turns introspection and field suggestions off for anonymous callers, and CORS to same-origin', () => {
    expect(production).toMatchObject({ anonymousIntrospection: false, fieldSuggestions: false, corsOrigins: [] });
  });

  it('refuses anonymous introspection but answers a signed-in caller', async () => {
    const query = JSON.stringify({ query: '{ __schema { queryType { name } } }' });
    const anonymous = await (await post(query, { 'content-type': 'application/json' })).json();
    expect(JSON.stringify(anonymous)).not.toContain('"queryType"');
    expect(anonymous.errors?.length).toBeGreaterThan(0);
    const admin = await server.signIn({ role: 'readonly' });
    const signedIn = await (await post(query, { 'content-type': 'application/json', ...admin.headers })).json();
    expect(signedIn.data.__schema.queryType.name).toBe('Query');
  });

  it('suggests no names to anonymous callers, nor with refused credentials, but does to signed-in ones', async () => {
    const typo = JSON.stringify({ query: '{ nodez }' });
    const anonymous = await (await post(typo, { 'content-type': 'application/json' })).json();
    expect(anonymous.errors).toEqual([expect.objectContaining({ message: 'Cannot query field "nodez" on type "Query".' })]);
    const forged = await (await post(typo, { 'content-type': 'application/json', authorization: 'Bearer not-a-token' })).json();
    expect(JSON.stringify(forged)).not.toMatch(/Did you mean/);
    const enumTypo = JSON.stringify({ query: 'mutation($s: NodeStatus!) { setNodeStatus(id: "x", status: $s) { __typename } }', variables: { s: 'ACTIV' } });
    expect(JSON.stringify(await (await post(enumTypo, { 'content-type': 'application/json' })).json())).not.toMatch(/Did you mean/);

    const user = await server.signIn({ role: 'readonly' });
    const signedIn = await (await post(typo, { 'content-type': 'application/json', ...user.headers })).json();
    expect(signedIn.errors[0].message).toMatch(/Did you mean "node", "nodes"/);
    const again = await (await post(typo, { 'content-type': 'application/json' })).json();
    expect(JSON.stringify(again)).not.toMatch(/Did you mean/);
  });

  it('over graphql-ws too: no suggestions and no introspection for an anonymous socket, both for a signed-in one', async () => {
    const anonymous = wsClient(server.url, {});
    const user = await server.signIn({ role: 'readonly' });
    const signedIn = wsClient(server.url, bearer(user.token));
    const first = (client: Client, query: string) => client.iterate({ query }).next().then((step) => step.value as ExecutionResult, (errors: unknown) => ({ errors }) as ExecutionResult);
    try {
      expect(JSON.stringify(await first(anonymous, '{ nodez }'))).not.toMatch(/Did you mean/);
      expect(JSON.stringify(await first(anonymous, '{ __schema { queryType { name } } }'))).not.toContain('"queryType"');
      expect(JSON.stringify(await first(signedIn, '{ nodez }'))).toMatch(/Did you mean/);
      expect((await first(signedIn, '{ __schema { queryType { name } } }')).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    } finally {
      await anonymous.dispose();
      await signedIn.dispose();
    }
  });

  it('grants no other origin, and refuses a form post that a browser sends without preflight', async () => {
    const crossOrigin = await post(JSON.stringify({ query: '{ __typename }' }), { 'content-type': 'application/json', origin: 'http://elsewhere.example' });
    expect(crossOrigin.headers.get('access-control-allow-origin')).toBeNull();
    const form = await post('query=mutation%7Blogin(input%3A%7Blogin%3A%22a%22%2Cpassword%3A%22b%22%7D)%7B__typename%7D%7D', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(403);
  });
});
