import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/infra/db.js';
import { runInTenant } from '../src/infra/tenant-scope.js';
import { DashboardNodesDocument, DashboardSessionsDocument } from './generated/graphql.js';
import { globalId } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const NODES_PER_TENANT = 12;
const ROUNDS = 40;

interface TenantRows {
  user: SignedInUser;
  nodeIds: Set<string>;
  resourceIds: Set<string>;
  sessionIds: Set<string>;
  allocationIds: Set<string>;
}

/** A tenant with nodes of two resources, and a session on each node holding one allocation. */
async function aTenantWithNodes(server: TestServer, prefix: string): Promise<TenantRows> {
  const user = await server.signIn({ role: 'admin' });
  const rows: TenantRows = { user, nodeIds: new Set(), resourceIds: new Set(), sessionIds: new Set(), allocationIds: new Set() };
  for (let i = 0; i < NODES_PER_TENANT; i += 1) {
    const node = await server.db.system.node.create({
      data: {
        tenantId: user.tenantId,
        hostname: `${prefix}-${i}`,
        ipAddress: `10.0.0.${i + 1}`,
        nodeType: 'compute',
        status: 'active',
        totalCpuCores: 8,
        totalMemoryGb: 32,
        totalStorageGb: 100,
        resources: {
          create: [
            { tenantId: user.tenantId, resourceType: 'cpu', totalCapacity: 8, unit: 'cores' },
            { tenantId: user.tenantId, resourceType: 'memory', totalCapacity: 32, unit: 'GB' },
          ],
        },
      },
      include: { resources: true },
    });
    rows.nodeIds.add(globalId('ClusterNode', node.id));
    for (const resource of node.resources) rows.resourceIds.add(resource.id);
    const session = await server.db.system.session.create({
      data: {
        tenantId: user.tenantId,
        userId: user.userId,
        sessionName: `${prefix}-session-${i}`,
        sessionType: 'batch',
        status: 'running',
        cpuRequest: 1,
        memoryRequestGb: 1,
        scheduledNodeId: node.id,
        allocations: { create: [{ tenantId: user.tenantId, nodeId: node.id, resourceType: 'cpu', allocatedAmount: 1, unit: 'cores' }] },
      },
      include: { allocations: true },
    });
    rows.sessionIds.add(globalId('Session', session.id));
    for (const allocation of session.allocations) rows.allocationIds.add(allocation.id);
  }
  return rows;
}

describe.each(kinds)('tenant isolation on a pool of two connections on %s', (kind) => {
  let server: TestServer;
  let tenants: TenantRows[];

  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false, dbPoolMax: 2 });
    tenants = [await aTenantWithNodes(server, 'alpha'), await aTenantWithNodes(server, 'beta')];
  });

  afterAll(async () => {
    await server?.close();
  });

  it("returns only the caller's rows while two tenants' requests interleave on the same connections", async () => {
    const requests = Array.from({ length: ROUNDS }, async (_, i) => {
      const tenant = tenants[i % 2]!;
      if (i % 4 < 2) {
        const result = await tenant.user.request(DashboardNodesDocument, { first: 50 });
        expect(result.errors).toBeUndefined();
        const nodes = result.data!.nodes.edges.map((edge) => edge.node);
        expect(nodes).toHaveLength(NODES_PER_TENANT);
        for (const node of nodes) {
          expect(tenant.nodeIds.has(node.id)).toBe(true);
          expect(node.resources).toHaveLength(2);
          for (const resource of node.resources) expect(tenant.resourceIds.has(resource.id)).toBe(true);
        }
      } else {
        const result = await tenant.user.request(DashboardSessionsDocument, { first: 50 });
        expect(result.errors).toBeUndefined();
        const sessions = result.data!.sessions.edges.map((edge) => edge.node);
        expect(sessions).toHaveLength(NODES_PER_TENANT);
        for (const session of sessions) {
          expect(tenant.sessionIds.has(session.id)).toBe(true);
          for (const allocation of session.allocations) expect(tenant.allocationIds.has(allocation.id)).toBe(true);
        }
      }
    });
    await Promise.all(requests);
  });

  it('switches one connection between tenants and the owner without carrying a scope over', async () => {
    const db = createDatabase(server.rawDatabaseUrl, 1, { embedded: kind === 'pglite' });
    try {
      const [alpha, beta] = tenants.map((tenant) => tenant.user.tenantId) as [string, string];
      const tenantIds = [alpha, beta];
      const hostnamesIn = async (tenantId: string | undefined) => {
        // Prisma queries run when awaited, so the await sits inside the scope.
        const read = async () => await db.prisma.node.findMany({ where: { tenantId: { in: tenantIds } }, select: { tenantId: true } });
        const rows = tenantId ? await runInTenant(tenantId, read) : await read();
        return new Set(rows.map((row) => row.tenantId));
      };
      const ownerCount = async () => {
        const { rows } = await db.pool.query<{ count: string }>('SELECT count(*) FROM nodes WHERE tenant_id = ANY($1::uuid[])', [tenantIds]);
        return Number(rows[0]!.count);
      };
      expect(await hostnamesIn(alpha)).toEqual(new Set([alpha]));
      expect(await db.system.node.count({ where: { tenantId: { in: tenantIds } } })).toBe(2 * NODES_PER_TENANT);
      expect(await hostnamesIn(beta)).toEqual(new Set([beta]));
      expect(await ownerCount()).toBe(2 * NODES_PER_TENANT);
      expect(await hostnamesIn(beta)).toEqual(new Set([beta]));
      expect(await hostnamesIn(undefined)).toEqual(new Set());
      expect(await hostnamesIn(alpha)).toEqual(new Set([alpha]));
    } finally {
      await db.close();
    }
  });

  it.runIf(kind === 'postgres')("plans the prepared list statements once per connection and every other statement for its values", async () => {
    const db = createDatabase(server.rawDatabaseUrl, 2, { preparedStatements: 10 });
    try {
      const MODE = "SELECT current_setting('plan_cache_mode') AS mode";
      const tenantMode = async () => (await runInTenant(tenants[0]!.user.tenantId, () => db.tenantRows<{ mode: string }>(MODE, [])))[0]!.mode;
      // A statement text is prepared the second time it runs: only then on the connections that plan generically.
      expect(await tenantMode()).toBe('auto');
      expect(await tenantMode()).toBe('force_generic_plan');
      expect(await tenantMode()).toBe('force_generic_plan');
      const ormMode = await runInTenant(tenants[0]!.user.tenantId, async () => await db.prisma.$queryRawUnsafe<{ mode: string }[]>(MODE));
      expect(ormMode[0]!.mode).toBe('auto');
      expect((await db.system.$queryRawUnsafe<{ mode: string }[]>(MODE))[0]!.mode).toBe('auto');
      expect((await db.pool.query<{ mode: string }>(MODE)).rows[0]!.mode).toBe('auto');
      expect(db.ormConnections).toBe(1);
    } finally {
      await db.close();
    }
  });
});
