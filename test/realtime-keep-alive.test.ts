import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { eventually } from './helpers/realtime.js';
import { startTestServer, type SignedInUser, type TestServer } from './helpers/server.js';

/** A graphql-ws socket past its connection_ack, counting the pings it receives; `answers` false leaves them unanswered. */
function acknowledgedSocket(server: TestServer, user: SignedInUser, answers: boolean) {
  const socket = new WebSocket(server.url.replace(/^http/, 'ws'), 'graphql-transport-ws', { autoPong: answers });
  const state = { pings: 0, closedWith: undefined as number | undefined };
  socket.on('ping', () => (state.pings += 1));
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve((state.closedWith = code))));
  const acknowledged = new Promise<void>((resolve, reject) => {
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: user.headers.authorization } })));
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') resolve();
    });
    socket.on('error', reject);
  });
  return { socket, state, closed, acknowledged };
}

describe('keep-alive of graphql-ws sockets', () => {
  let server: TestServer;
  let user: SignedInUser;

  beforeAll(async () => {
    server = await startTestServer('pglite', {}, { env: { WS_KEEPALIVE_MS: '1000' } });
    user = await server.signIn({ role: 'operator' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('drops a socket that does not answer its ping within a period and keeps pinging the ones that do', async () => {
    const answering = acknowledgedSocket(server, user, true);
    const silent = acknowledgedSocket(server, user, false);
    await Promise.all([answering.acknowledged, silent.acknowledged]);

    // Dropped without a close frame: the server ends the connection.
    expect(await silent.closed).toBe(1006);
    expect(silent.state.pings).toBeGreaterThanOrEqual(1);
    // The answering socket outlives several periods' pings.
    await eventually(async () => (answering.state.pings >= 3 ? true : undefined), 'three pings to the answering socket');
    expect(answering.state.closedWith).toBeUndefined();
    expect(answering.socket.readyState).toBe(WebSocket.OPEN);
    answering.socket.close();
    await answering.closed;
  }, 20_000);
});
