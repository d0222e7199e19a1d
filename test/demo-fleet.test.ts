import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ClusterNodesDocument, SessionDocument } from './generated/graphql.js';
import { aPendingSession, aRegisteredNode, rawId } from './helpers/builders.js';
import { failNode } from './helpers/cluster.js';
import { eventually } from './helpers/realtime.js';
import { startTestServer, type SignedInUser, type TestServer } from './helpers/server.js';

/** Short, yet several fleet periods long: a loaded machine may stall one tick for a second or two. */
const TIMEOUT_SECONDS = 5;

/** The demo server as `npm start` runs it on the embedded default, with the fleet on, on short clocks. */
describe('the demo fleet (embedded default)', () => {
  let server: TestServer;
  let demo: SignedInUser;
  let other: SignedInUser;

  beforeAll(async () => {
    server = await startTestServer(
      'pglite',
      { seedOnStart: true, demoFleet: { ...loadConfig({}).demoFleet, intervalMs: 300, sessionSeconds: 1 } },
      {
        env: {
          HEARTBEAT_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS),
          LIVENESS_SWEEP_INTERVAL_MS: '200',
          HEARTBEAT_FLUSH_INTERVAL_MS: '100',
          SCHEDULER_PASS_INTERVAL_MS: '200',
        },
      },
    );
    const tenant = await server.db.system.tenant.findUniqueOrThrow({ where: { slug: 'demo' } });
    demo = await server.signIn({ role: 'admin', tenantId: tenant.id });
    other = await server.signIn({ role: 'admin' });
  }, 120_000);

  afterAll(async () => server?.close());

  const statuses = async (client: SignedInUser) => {
    const result = await client.request(ClusterNodesDocument, { first: 100 });
    return result.data!.nodes.edges.map((edge) => edge.node.status);
  };

  it('is on by default for the embedded database and off with DATABASE_URL', () => {
    expect(loadConfig({}).demoFleet.enabled).toBe(true);
    expect(loadConfig({ DATABASE_URL: 'postgresql://127.0.0.1/omega' }).demoFleet.enabled).toBe(false);
    expect(loadConfig({ DEMO_FLEET: 'false' }).demoFleet.enabled).toBe(false);
  });

  it('keeps the demo nodes active past the heartbeat timeout, while a silent node of another tenant fails', async () => {
    // Start-up (migrations, seeding) can outlast the timeout, so the demo nodes may have failed before the first tick: the fleet brings them back.
    await eventually(async () => ((await statuses(demo)).filter((status) => status === 'ACTIVE').length === 18 ? true : undefined), 'the demo nodes active', 600, 100);
    const silent = await aRegisteredNode(other);
    // The silent node failing shows the sweeper ran after the timeout; the demo nodes must not have failed with it.
    await eventually(async () => ((await statuses(other)).includes('FAILED') ? true : undefined), `silent node ${silent.id} failed`, 600, 100);
    const demoStatuses = await statuses(demo);
    expect(demoStatuses).toHaveLength(20);
    expect(demoStatuses.filter((status) => status === 'ACTIVE')).toHaveLength(18);
    expect(demoStatuses.filter((status) => status === 'FAILED')).toHaveLength(0);
  });

  it('brings a failed demo node back (as after a restart) with its next heartbeat', async () => {
    const result = await demo.request(ClusterNodesDocument, { first: 100, filter: { status: ['ACTIVE'] } });
    const node = result.data!.nodes.edges[0]!.node;
    await failNode(server, node.id);
    await eventually(async () => ((await statuses(demo)).filter((status) => status === 'ACTIVE').length === 18 ? true : undefined), 'the failed demo node active again', 600, 100);
  });

  it('runs a demo session to COMPLETED', async () => {
    const session = await aPendingSession(demo, { cpuRequest: 2, memoryRequestGb: 4, maxRuntimeMinutes: 30 });
    await eventually(
      async () => ((await demo.request(SessionDocument, { id: session.id })).data?.session?.status === 'COMPLETED' ? true : undefined),
      'the demo session completed',
      600,
      100,
    );
    const events = await server.db.system.systemEvent.findMany({ where: { sessionId: rawId(session.id), eventType: 'session.state_changed' }, select: { message: true } });
    expect(events.map((event) => event.message).join('\n')).toMatch(/running -> completed: simulated work done/);
  });
});
