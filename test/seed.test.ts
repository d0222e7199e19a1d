import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoData } from '../src/seed.js';
import { ClusterNodesDocument } from './generated/graphql.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('demo seed', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('pglite', { seedOnStart: true });
  });
  afterAll(async () => {
    await server?.close();
  });

  async function counts() {
    const [tenants, regions, nodes, resources, users, models, environments] = await Promise.all([
      server.db.system.tenant.count(),
      server.db.system.region.count(),
      server.db.system.node.count(),
      server.db.system.nodeResource.count(),
      server.db.system.user.groupBy({ by: ['role'], _count: true }),
      server.db.system.model.count(),
      server.db.system.environment.count(),
    ]);
    return { tenants, regions, nodes, resources, roles: users.map((u) => u.role).sort(), models, environments };
  }

  it('fills an empty database at start, and a second seed changes nothing', async () => {
    const first = await counts();
    expect(first).toMatchObject({ tenants: 1, regions: 3, nodes: 20, models: 4, environments: 3 });
    expect(first.roles).toEqual(['admin', 'operator', 'readonly', 'user']);
    expect(first.resources).toBeGreaterThanOrEqual(60);
    await seedDemoData(server.db.system);
    expect(await counts()).toEqual(first);
  });

  it('lets a new user see nodes at once', async () => {
    const demo = await server.db.system.tenant.findUniqueOrThrow({ where: { slug: 'demo' } });
    const viewer = await server.signIn({ role: 'readonly', tenantId: demo.id });
    const result = await viewer.request(ClusterNodesDocument, { first: 5 });
    expect(result.errors).toBeUndefined();
    expect(result.data!.nodes.edges).toHaveLength(5);
    expect(result.data!.nodes.edges[0]!.node.hostname).toMatch(/\.omega\.internal$/);
  });
});
