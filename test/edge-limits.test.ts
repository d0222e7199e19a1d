import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startTestServer, type SignedInUser, type TestServer } from './helpers/server.js';

interface Answer {
  status: number;
  body: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

const edge = loadConfig({}).edge;

describe('operation limits and input bounds over HTTP', () => {
  let server: TestServer;
  let admin: SignedInUser;
  const logLines: string[] = [];

  const post = async (body: unknown, headers: Record<string, string> = admin.headers): Promise<Answer> => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Answer['body'] };
  };
  const codes = (answer: Answer) => answer.body.errors?.map((error) => error.extensions?.code) ?? [];
  const limitOf = (answer: Answer) => answer.body.errors?.[0]?.extensions?.limit;

  beforeAll(async () => {
    server = await startTestServer('pglite', {}, { logLines });
    admin = await server.signIn({ role: 'admin' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('refuses a query nested deeper than MAX_QUERY_DEPTH, at 50 and 200 levels', async () => {
    for (const levels of [50, 200]) {
      const answer = await post({ query: `{ nodes(first: 1) { ${nestedSelection(levels)} } }` });
      expect(codes(answer)).toEqual(['QUERY_LIMIT_EXCEEDED']);
      expect(limitOf(answer)).toBe('MAX_QUERY_DEPTH');
    }
    const answer = await post({ query: `{ nodes(first: 1) { ${nestedSelection(edge.maxQueryDepth + 1)} } }` });
    expect(limitOf(answer)).toBe('MAX_QUERY_DEPTH');
    expect(answer.status).toBe(400);
  });

  it('refuses more aliases than MAX_QUERY_ALIASES, as in 5,000 aliases of a cheap list', async () => {
    const aliases = (count: number) => Array.from({ length: count }, (_, index) => `a${index}: nodes(first: 1) { totalCount }`).join(' ');
    const many = await post({ query: `{ ${aliases(5_000)} }` });
    expect(codes(many)).toEqual(['QUERY_LIMIT_EXCEEDED']);
    const over = await post({ query: `{ ${aliases(edge.maxQueryAliases + 1)} }` });
    expect(limitOf(over)).toBe('MAX_QUERY_ALIASES');
    const within = await post({ query: `{ ${aliases(edge.maxQueryAliases)} }` });
    expect(within.body.errors).toBeUndefined();
  });

  it('refuses more tokens than MAX_QUERY_TOKENS and more directives than MAX_QUERY_DIRECTIVES', async () => {
    const tokens = await post({ query: `{ me { ${'__typename '.repeat(edge.maxQueryTokens)}} }` });
    expect(limitOf(tokens)).toBe('MAX_QUERY_TOKENS');
    const directives = await post({ query: `{ me { __typename ${'@include(if: true) '.repeat(edge.maxQueryDirectives + 1)}} }` });
    expect(limitOf(directives)).toBe('MAX_QUERY_DIRECTIVES');
  });

  it('multiplies the cost of nested lists by their page size, over MAX_QUERY_COST refused', async () => {
    const wide = `n: nodes(first: 100) { edges { node { id sessions(first: 100) { edges { node { id status } } } } } }`;
    const aliases = Array.from({ length: 10 }, (_, index) => wide.replace('n:', `n${index}:`)).join(' ');
    const answer = await post({ query: `{ ${aliases} }` });
    expect(limitOf(answer)).toBe('MAX_QUERY_COST');
    expect(answer.body.errors![0]!.extensions!.found).toBeGreaterThan(edge.maxQueryCost);
    const cheap = await post({ query: `{ ${wide} }` });
    expect(cheap.body.errors).toBeUndefined();
  });

  it('refuses a page larger than MAX_PAGE_SIZE or negative, as a literal or a variable', async () => {
    const literal = await post({ query: '{ nodes(first: 2147483647) { totalCount } }' });
    expect(limitOf(literal)).toBe('MAX_PAGE_SIZE');
    const variable = await post({ query: 'query($n: Int) { nodes(first: $n) { totalCount } }', variables: { n: edge.maxPageSize + 1 } });
    expect(limitOf(variable)).toBe('MAX_PAGE_SIZE');
    const negative = await post({ query: '{ nodes(last: -1) { totalCount } }' });
    expect(codes(negative)).toEqual(['BAD_USER_INPUT']);
  });

  it('checks a query it passed before again when its variables change', async () => {
    const query = 'query($n: Int, $host: String) { nodes(first: $n, filter: { hostname: $host }) { totalCount } }';
    for (let round = 0; round < 2; round++) {
      expect(codes(await post({ query, variables: { n: 5, host: 'gpu' } }))).toEqual([]);
      expect(limitOf(await post({ query, variables: { n: edge.maxPageSize + 1, host: 'gpu' } }))).toBe('MAX_PAGE_SIZE');
      expect(codes(await post({ query, variables: { n: 5, host: 'a\u0000b' } }))).toEqual(['BAD_USER_INPUT']);
    }
  });

  it('answers a body larger than MAX_REQUEST_BODY_BYTES with 413 before reading it', async () => {
    const answer = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...admin.headers },
      body: JSON.stringify({ query: '{ me { id } }', variables: { pad: 'x'.repeat(edge.maxRequestBodyBytes) } }),
    });
    expect(answer.status).toBe(413);
    await answer.arrayBuffer();
  });

  it('counts a body sent without a length (chunked) as it arrives: over MAX_REQUEST_BODY_BYTES is 413, under it runs', async () => {
    const chunked = (body: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const request = httpRequest(server.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', 'transfer-encoding': 'chunked', ...admin.headers } }, (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
        });
        request.on('error', reject);
        // Several chunks, so the count spans writes.
        for (let at = 0; at < body.length; at += 64 * 1024) request.write(body.slice(at, at + 64 * 1024));
        request.end();
      });
    const small = await chunked(JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(edge.maxRequestBodyBytes - 200) } }));
    expect(small.status).toBe(200);
    expect(JSON.parse(small.text)).toEqual({ data: { __typename: 'Query' } });
    const large = await chunked(JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(edge.maxRequestBodyBytes) } }));
    expect(large.status).toBe(413);
    expect(JSON.parse(large.text).errors[0].extensions.code).toBe('REQUEST_ENTITY_TOO_LARGE');
  });

  it('answers a Content-Length that is not one number with 400', async () => {
    const answer = await new Promise<number>((resolve, reject) => {
      const socket = connect(Number(new URL(server.url).port), '127.0.0.1', () => {
        const body = JSON.stringify({ query: '{ __typename }' });
        socket.write(`POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}, ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      });
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1])));
      socket.on('error', reject);
    });
    expect(answer).toBe(400);
  });

  it('refuses NUL bytes, lone surrogates and over-long strings in arguments, anonymous sign-in included', async () => {
    const login = (name: string) => post({ query: 'mutation($name: String!) { login(input: { login: $name, password: "x" }) { __typename } }', variables: { name } }, {});
    for (const name of ['demo\u0000admin', 'demo\uD800admin', 'x'.repeat(edge.maxStringLength + 1)]) {
      const answer = await login(name);
      expect(codes(answer)).toEqual(['BAD_USER_INPUT']);
      expect(answer.body.errors![0]!.extensions!.issues).toEqual([expect.objectContaining({ path: 'login.input.login' })]);
    }
    const literal = await post({ query: '{ nodes(filter: { gpuType: "a\\u0000b" }) { totalCount } }' });
    expect(codes(literal)).toEqual(['BAD_USER_INPUT']);
  });

  it('refuses a global id of the wrong type or with a malformed id before the database', async () => {
    for (const id of [encodeGlobalID('ClusterNode', 'not-a-uuid'), encodeGlobalID('User', '00000000-0000-4000-8000-000000000000'), 'junk!']) {
      const read = await post({ query: 'query($id: ID!) { node(id: $id) { id } }', variables: { id } });
      expect(codes(read)).toEqual(['BAD_USER_INPUT']);
    }
  });

  it('answers a malformed cursor with BAD_USER_INPUT naming the argument, and logs no unexpected error for it', async () => {
    for (const after of ['not-a-cursor', 'x'.repeat(1_000)]) {
      const answer = await post({ query: 'query($after: String) { models(first: 1, after: $after) { edges { cursor } } }', variables: { after } });
      expect(codes(answer)).toEqual(['BAD_USER_INPUT']);
      expect(answer.body.errors![0]!.extensions!.argument).toBe('after');
      expect(answer.body.errors![0]!.message).not.toContain(after);
    }
    const before = await post({ query: '{ nodes(last: 1, before: "junk") { edges { cursor } } }' });
    expect(before.body.errors?.map((error) => [error.extensions?.code, error.extensions?.argument])).toEqual([['BAD_USER_INPUT', 'before']]);
    expect(logLines.filter((line) => line.includes('unexpected error'))).toEqual([]);
  });

  it('answers a placement request the service refuses with BAD_USER_INPUT, not logged as unexpected', async () => {
    const answer = await post({ query: '{ availableNodes(cpu: -1) { edges { node { freeCpu } } } }' });
    expect(codes(answer)).toEqual(['BAD_USER_INPUT']);
    expect(logLines.filter((line) => line.includes('unexpected error'))).toEqual([]);
  });

  it('refuses JSON variables nested deeper than MAX_JSON_DEPTH, 10,000 levels included', async () => {
    const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    const answer = await post(`{"query": "query($labels: JSON) { availableNodes(labels: $labels) { id } }", "variables": {"labels": ${deep}}}`);
    expect(codes(answer)).toEqual(['BAD_USER_INPUT']);
    const healthy = await server.get('/healthz');
    expect(healthy.status).toBe(200);
  });

  it('answers a variable that does not coerce, or a required one missing, with BAD_USER_INPUT naming it', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['query($since: DateTime) { clusterMetrics(since: $since) { __typename } }', { since: 'not-a-date' }, 'since'],
      ['query($seconds: Int) { clusterMetrics(lastSeconds: $seconds) { __typename } }', { seconds: 1e12 }, 'seconds'],
      ['mutation($id: ID!, $status: NodeStatus!) { setNodeStatus(id: $id, status: $status) { __typename } }', { id: 'x', status: 'BOGUS' }, 'status'],
      ['mutation($id: ID!, $status: NodeStatus!) { setNodeStatus(id: $id, status: $status) { __typename } }', { status: 'ACTIVE' }, 'id'],
    ];
    for (const [query, variables, variable] of cases) {
      const answer = await post({ query, variables });
      expect(answer.status).toBe(400);
      expect(answer.body.errors).toEqual([expect.objectContaining({ message: expect.stringContaining(`$${variable}`), extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', variable }) })]);
    }
    const huge = await post({ query: 'query($seconds: Int) { clusterMetrics(lastSeconds: $seconds) { __typename } }', variables: { seconds: 'x'.repeat(1_000_000) } });
    expect(codes(huge)).toEqual(['BAD_USER_INPUT']);
    expect(huge.body.errors![0]!.message.length).toBeLessThan(1_000);
  });

  it('answers a malformed body with 400 and no internals', async () => {
    const answer = await post('{"query": "{ me { id } ', {});
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body)).not.toMatch(/originalError|stack|JSON at position|Unexpected end/);
  });
});

/** At least `depth` levels of selections, through the cycle node -> sessions -> session -> node. */
function nestedSelection(depth: number): string {
  const rounds = Math.ceil(depth / 5);
  return `${'edges { node { sessions(first: 1) { edges { node { scheduledNode { '.repeat(rounds)}id${' } } } } } } '.repeat(rounds)}`.replace(/^edges \{ node \{ /, 'edges { node { ');
}
