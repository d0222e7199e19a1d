import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnNodeHeartbeatDocument, RecordHeartbeatDocument } from './generated/graphql.js';
import { aRegisteredNode } from './helpers/builders.js';
import { expectResult, startTestServer, type SignedInUser, type TestServer } from './helpers/server.js';

describe('GraphiQL', () => {
  let server: TestServer;
  let operator: SignedInUser;
  beforeAll(async () => {
    server = await startTestServer('pglite', { jobsEnabled: false, graphiql: true });
    operator = await server.signIn({ role: 'operator' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('is served whole by the server, titled, loading nothing from another host', async () => {
    const response = await fetch(server.url, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('<title>Omega Control Plane</title>');
    expect(html).not.toContain('__TITLE__');
    expect([...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="(https?:)?\/\//g)].map((match) => match[0])).toEqual([]);
  });

  it('subscribes with the credentials GraphiQL sends in the subscribe message, after an empty connection_init', async () => {
    const node = await aRegisteredNode(operator);
    const client = createClient({ url: server.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: {} });
    try {
      const events = client.iterate({ query: print(OnNodeHeartbeatDocument), variables: { nodeId: node.id }, extensions: { headers: operator.headers } });
      const first = events.next();
      // The subscription is live once an event published after it arrives; send until one does.
      let received: Awaited<typeof first> | undefined;
      const settled = first.then((value) => (received = value));
      for (let i = 0; i < 100 && !received; i += 1) {
        expectResult(await operator.request(RecordHeartbeatDocument, { input: { nodeId: node.id, status: 'HEALTHY', load: 0.25 } }), 'RecordHeartbeatSuccess');
        await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 100))]);
      }
      expect(received?.value).toMatchObject({ data: { nodeHeartbeat: { nodeId: node.id, status: 'HEALTHY' } } });
      await events.return?.();
    } finally {
      await client.dispose();
    }
  });

  it('still refuses a subscription with no credentials at all', async () => {
    const client = createClient({ url: server.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0 });
    try {
      const first = await client.iterate({ query: print(OnNodeHeartbeatDocument), variables: {} }).next().then(
        (result) => result.value as { errors?: { extensions?: { code?: string } }[] },
        (errors: { extensions?: { code?: string } }[]) => ({ errors }),
      );
      expect(first.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    } finally {
      await client.dispose();
    }
  });
});
