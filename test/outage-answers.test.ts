import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterStateNowDocument, CreateSessionDocument, RecordHeartbeatDocument, RegisterNodeDocument, SetNodeStatusDocument } from './generated/graphql.js';
import { aGpuNode, aSession, rawId } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { createServerDatabase } from './helpers/run-databases.js';
import { freePort } from './helpers/realtime.js';
import { startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

/** A TCP relay to PostgreSQL that a test can cut and restore, as an outage would. */
function aRelay(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let listener: Server | undefined;
  let port = 0;
  const start = () =>
    new Promise<number>((resolve) => {
      if (listener?.listening) return resolve(port);
      listener = createServer((client) => {
        const upstream = connect(target.port, target.host);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
      });
      listener.listen(port, '127.0.0.1', () => {
        port = (listener!.address() as { port: number }).port;
        resolve(port);
      });
    });
  const cut = async () => {
    const closed = new Promise<void>((resolve) => listener!.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  const stop = async () => {
    if (listener?.listening) await cut();
  };
  return { start, cut, stop };
}

describe.runIf(runPostgresTests)('a database outage is answered honestly', () => {
  let scratch: Awaited<ReturnType<typeof createServerDatabase>>;
  let relay: ReturnType<typeof aRelay>;
  let server: TestServer;
  let admin: SignedInUser;
  const logLines: string[] = [];

  beforeAll(async () => {
    scratch = await createServerDatabase();
    const direct = new URL(scratch.url);
    relay = aRelay({ host: direct.hostname, port: Number(direct.port || 5432) });
    direct.port = String(await relay.start());
    server = await startTestServer('postgres', { databaseUrl: direct.toString() }, { logLines });
    admin = await server.signIn({ role: 'admin' });
  });
  afterAll(async () => {
    await server?.close();
    await relay?.stop();
    await scratch?.drop();
  });

  const ask = () =>
    fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...admin.headers },
      body: JSON.stringify({ query: '{ nodes(first: 1) { totalCount } }' }),
    });

  it('answers 503 SERVICE_UNAVAILABLE with Retry-After, logs one line, and /readyz names the database', async () => {
    expect((await ask()).status).toBe(200);
    // A connection checked out when the database goes away (a statement or transaction in flight)
    // fails its own work; the process goes on (an unhandled client error would end the test run).
    const held = await server.db.pool.connect();
    await relay.cut();
    await expect(held.query('SELECT 1')).rejects.toThrow();
    held.release(true);
    const answers = [];
    for (let attempt = 0; attempt < 10; attempt++) {
      const response = await ask();
      answers.push({ status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as { errors?: { extensions?: Record<string, unknown> }[] } });
    }
    for (const answer of answers) {
      expect(answer).toMatchObject({ status: 503, retryAfter: '5' });
      expect(answer.body.errors![0]!.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', dependency: 'database', retryable: true });
    }
    const logged = logLines.filter((line) => /"level":"(error|warn)"/.test(line));
    expect(logged.filter((line) => line.includes('dependency unavailable'))).toHaveLength(1);
    expect(logged.filter((line) => line.includes('unexpected error'))).toEqual([]);

    const ready = await server.get('/readyz');
    expect(ready.status).toBe(503);
    const text = await ready.text();
    expect(JSON.parse(text)).toEqual({ ready: false, failing: ['database'] });

    await relay.start();
    await expect.poll(async () => (await ask()).status, { timeout: 10_000, interval: 200 }).toBe(200);
    expect((await server.get('/readyz')).status).toBe(200);
  });
});

describe('a Redis outage is answered honestly', () => {
  let server: TestServer;
  let admin: SignedInUser;
  const logLines: string[] = [];
  const kind: DatabaseKind = runPostgresTests ? 'postgres' : 'pglite';

  beforeAll(async () => {
    // A Redis URL where nothing listens: the deployment's Redis is down from the start.
    server = await startTestServer(kind, { redisUrl: `redis://127.0.0.1:${await freePort()}` }, { logLines });
    admin = await server.signIn({ role: 'admin' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('commits and answers mutations that publish, never INTERNAL_SERVER_ERROR, and /readyz names redis', async () => {
    const registered = await admin.request(RegisterNodeDocument, { input: aGpuNode() });
    expect(registered.errors).toBeUndefined();
    const nodeId = (registered.data!.registerNode as { node: { id: string } }).node.id;
    const mutations = [
      registered,
      await admin.request(SetNodeStatusDocument, { id: nodeId, status: 'MAINTENANCE' }),
      await admin.request(RecordHeartbeatDocument, { input: { nodeId, status: 'HEALTHY', load: 0.5 } }),
      await admin.request(CreateSessionDocument, { input: aSession() }),
    ];
    for (const answer of mutations) {
      expect(answer.errors ?? []).toEqual([]);
      expect(Object.values(answer.data ?? {}).map((result) => (result as { __typename: string }).__typename)).toEqual([expect.stringMatching(/Success$/)]);
    }
    const state = await admin.request(ClusterStateNowDocument);
    expect(state.errors ?? []).toEqual([]);
    expect(state.data?.clusterState).toBeDefined();
    const node = await server.db.system.node.findUniqueOrThrow({ where: { id: rawId(nodeId) } });
    expect(node.status).toBe('maintenance');
    expect(await server.db.system.session.count({ where: { tenantId: admin.tenantId } })).toBe(1);

    const ready = await server.get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toBe('5');
    expect(await ready.json()).toEqual({ ready: false, failing: ['redis'] });
    expect(logLines.filter((line) => line.includes('unexpected error'))).toEqual([]);
  });
});
