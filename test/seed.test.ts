import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoData } from '../src/seed.js';
import { createDatabase, type Database } from '../src/infra/db.js';
import { NodesDocument } from './generated/graphql.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('demo seed', () => {
  let server: TestServer;
  let db: Database;
  beforeAll(async () => {
    server = await startTestServer('pglite', { seedOnStart: true });
    db = createDatabase(server.rawDatabaseUrl, 2);
  });
  afterAll(async () => {
    await db?.close();
    await server?.close();
  });

  async function counts() {
    const [tenants, regions, nodes, resources, users, models, environments] = await Promise.all([
      db.prisma.tenant.count(),
      db.prisma.region.count(),
      db.prisma.node.count(),
      db.prisma.nodeResource.count(),
      db.prisma.user.groupBy({ by: ['role'], _count: true }),
      db.prisma.model.count(),
      db.prisma.environment.count(),
    ]);
    return { tenants, regions, nodes, resources, roles: users.map((u) => u.role).sort(), models, environments };
  }

  it('fills an empty database at start, and a second seed changes nothing', async () => {
    const first = await counts();
    expect(first).toMatchObject({ tenants: 1, regions: 3, nodes: 20, models: 4, environments: 3 });
    expect(first.roles).toEqual(['admin', 'operator', 'readonly', 'user']);
    expect(first.resources).toBeGreaterThanOrEqual(60);
    await seedDemoData(db.prisma);
    expect(await counts()).toEqual(first);
  });

  it('lets a new user see nodes at once', async () => {
    const result = await server.request(NodesDocument, { first: 5 });
    expect(result.errors).toBeUndefined();
    expect(result.data!.nodes.edges).toHaveLength(5);
    expect(result.data!.nodes.edges[0]!.node.hostname).toMatch(/\.omega\.internal$/);
  });
});
