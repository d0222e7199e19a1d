import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
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

  it('suggests no field names', async () => {
    const answer = await (await post(JSON.stringify({ query: '{ nodez }' }), { 'content-type': 'application/json' })).json();
    expect(answer.errors.length).toBeGreaterThan(0);
    expect(JSON.stringify(answer)).not.toMatch(/Did you mean/);
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
