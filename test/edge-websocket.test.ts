import { encodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../src/config.js';
import { startTestServer, type SignedInUser, type TestServer } from './helpers/server.js';

const edge = loadConfig({}).edge;

/** The server's first answer to one subscribe message (its payload given as JSON text), or how it closed the socket. */
type SocketAnswer =
  | { type: 'error'; payload: { message: string; extensions?: Record<string, unknown> }[] }
  | { type: 'next'; payload: { errors?: { message: string; extensions?: Record<string, unknown> }[] } }
  | { type: 'closed'; code: number };

function subscribeOnce(url: string, connectionParams: Record<string, string>, payloadText: string): Promise<SocketAnswer> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const settle = (answer: SocketAnswer) => {
      socket.removeAllListeners('close');
      socket.close();
      resolve(answer);
    };
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: connectionParams })));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; payload?: unknown };
      if (message.type === 'connection_ack') socket.send(`{"id":"1","type":"subscribe","payload":${payloadText}}`);
      else if (message.type === 'error' || message.type === 'next') settle(message as SocketAnswer);
    });
    socket.on('close', (code) => resolve({ type: 'closed', code }));
    socket.on('error', reject);
  });
}

describe('the edge checks over graphql-ws', () => {
  let server: TestServer;
  let admin: SignedInUser;

  beforeAll(async () => {
    server = await startTestServer('pglite');
    admin = await server.signIn({ role: 'admin' });
  });
  afterAll(async () => {
    await server?.close();
  });

  const send = (payload: unknown) => subscribeOnce(server.url, { authorization: admin.headers.authorization! }, typeof payload === 'string' ? payload : JSON.stringify(payload));
  /** The code of a refusal sent as graphql-ws's `error` message, the subscription never started. */
  const refusalOf = (answer: SocketAnswer) => {
    expect(answer.type).toBe('error');
    return answer.type === 'error' ? answer.payload.map((error) => error.extensions?.code) : [];
  };
  const liveMetrics = (metricType: string) => ({ query: 'subscription($types: [String!]) { liveMetrics(metricTypes: $types) { __typename } }', variables: { types: [metricType] } });

  it('refuses variables nested deeper than MAX_JSON_DEPTH, 10,000 levels included, in a query and in a subscription, and keeps serving', async () => {
    const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    const query = await send(`{"query": "query($labels: JSON) { availableNodes(labels: $labels) { edges { cursor } } }", "variables": {"labels": ${deep}}}`);
    expect(refusalOf(query)).toEqual(['BAD_USER_INPUT']);
    const subscription = await send(`{"query": "subscription($types: [String!]) { liveMetrics(metricTypes: $types) { __typename } }", "variables": {"types": ["cpu"], "extra": ${deep}}}`);
    expect(refusalOf(subscription)).toEqual(['BAD_USER_INPUT']);
    const after = await send({ query: '{ me { role } }' });
    expect(after).toMatchObject({ type: 'next', payload: { data: { me: { role: 'ADMIN' } } } });
  });

  it('refuses NUL bytes, lone surrogates and strings over MAX_STRING_LENGTH in a subscription before it starts', async () => {
    for (const bad of ['cpu\u0000usage', 'cpu\uD800usage', 'x'.repeat(edge.maxStringLength + 1)]) {
      const answer = await send(liveMetrics(bad));
      expect(refusalOf(answer)).toEqual(['BAD_USER_INPUT']);
      expect(answer.type === 'error' && answer.payload[0]!.extensions!.issues).toEqual([expect.objectContaining({ path: 'liveMetrics.metricTypes.0' })]);
    }
  });

  it('refuses a malformed global id or one of the wrong type in a subscription, never INTERNAL_SERVER_ERROR', async () => {
    for (const nodeId of [encodeGlobalID('ClusterNode', 'not-a-uuid'), encodeGlobalID('User', '00000000-0000-4000-8000-000000000000'), 'junk!']) {
      const answer = await send({ query: 'subscription($nodeId: ID) { nodeHeartbeat(nodeId: $nodeId) { __typename } }', variables: { nodeId } });
      expect(refusalOf(answer)).toEqual(['BAD_USER_INPUT']);
    }
  });

  it('refuses a variable that does not coerce with BAD_USER_INPUT naming it, in a query and in a subscription', async () => {
    const query = await send({ query: 'query($seconds: Int) { clusterMetrics(lastSeconds: $seconds) { __typename } }', variables: { seconds: 1e12 } });
    expect(refusalOf(query)).toEqual(['BAD_USER_INPUT']);
    expect(query.type === 'error' && query.payload[0]!.extensions!.variable).toBe('seconds');
    const subscription = await send({ query: 'subscription($severity: EventSeverity) { systemEvents(minSeverity: $severity) { __typename } }', variables: { severity: 'BOGUS' } });
    expect(refusalOf(subscription)).toEqual(['BAD_USER_INPUT']);
    expect(subscription.type === 'error' && subscription.payload[0]!.extensions!.variable).toBe('severity');
  });

  it('answers a document that does not parse with an error message, the socket kept', async () => {
    const answer = await send({ query: 'subscription { liveMetrics(' });
    expect(refusalOf(answer)).toEqual(['GRAPHQL_PARSE_FAILED']);
  });

  it('closes a socket whose message is larger than MAX_REQUEST_BODY_BYTES', async () => {
    const answer = await send({ query: '{ me { id } }', variables: { pad: 'x'.repeat(edge.maxRequestBodyBytes) } });
    expect(answer).toEqual({ type: 'closed', code: 1009 });
  });
});
