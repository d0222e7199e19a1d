import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import {
  CreateRegionDocument,
  DeleteRegionDocument,
  RegisterMachineDocument,
  ScheduleSessionDocument,
  UpdateNodeDocument,
  UpdateRegionDocument,
} from './generated/graphql.js';
import { aComputeNode, aGpuNode, aPendingSession, aRegisteredNode } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { expectResult, startTestServer, TEST_JWT_SECRET, type SignedInUser, type TestServer } from './helpers/server.js';

describe('node registry on the embedded database', () => {
  let server: TestServer;
  let operator: SignedInUser;

  beforeAll(async () => {
    server = await startTestServer('pglite', { jobsEnabled: false });
    operator = await server.signIn({ role: 'operator' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('registers a machine once: registering it again returns its node with the inventory refreshed', async () => {
    const first = expectResult(
      await operator.request(RegisterMachineDocument, { input: aComputeNode({ hostname: 'agent-a.test', machineId: 'machine-a', totalCpuCores: 8 }) }),
      'RegisterNodeSuccess',
    ).node;
    const again = expectResult(
      await operator.request(RegisterMachineDocument, { input: aComputeNode({ hostname: 'agent-a.test', machineId: 'machine-a', totalCpuCores: 16 }) }),
      'RegisterNodeSuccess',
    ).node;
    expect(again.id).toBe(first.id);
    expect(again).toMatchObject({ machineId: 'machine-a', totalCpuCores: 16 });
    expect(again.resources.find((r) => r.resourceType === 'CPU')?.totalCapacity).toBe(16);
    expect(await server.db.system.node.count({ where: { tenantId: operator.tenantId, machineId: 'machine-a' } })).toBe(1);
  });

  it('refuses a second node with a hostname the tenant already has', async () => {
    await aRegisteredNode(operator, aComputeNode({ hostname: 'taken.test' }));
    const result = await operator.request(RegisterMachineDocument, { input: aComputeNode({ hostname: 'taken.test', machineId: 'machine-other' }) });
    expect(result.data?.registerNode).toMatchObject({ __typename: 'ConflictError', field: 'hostname' });
    const other = await server.signIn({ role: 'operator' });
    await aRegisteredNode(other, aComputeNode({ hostname: 'taken.test' }));
  });

  it('resizes resources and replaces interfaces, but never below what sessions hold', async () => {
    const node = await aRegisteredNode(operator, aComputeNode({ hostname: 'resizable.test', totalCpuCores: 8, totalMemoryGb: 32 }));
    const session = await aPendingSession(operator, { sessionName: 'holder', cpuRequest: 6, memoryRequestGb: 8 });
    expectResult(await operator.request(ScheduleSessionDocument, { id: session.id }), 'ScheduleSessionSuccess');

    const shrunk = await operator.request(UpdateNodeDocument, { id: node.id, input: { resources: [{ resourceType: 'CPU', totalCapacity: 4 }] } });
    expect(shrunk.data?.updateNode).toMatchObject({ __typename: 'InsufficientCapacityError', reasons: ['cpu: 6 cores allocated, 0 reserved'] });
    const reserved = await operator.request(UpdateNodeDocument, { id: node.id, input: { resources: [{ resourceType: 'CPU', totalCapacity: 8, reservationCapacity: 3 }] } });
    expect(reserved.data?.updateNode.__typename).toBe('InsufficientCapacityError');

    const grown = expectResult(
      await operator.request(UpdateNodeDocument, {
        id: node.id,
        input: {
          resources: [{ resourceType: 'CPU', totalCapacity: 6 }, { resourceType: 'GPU', totalCapacity: 2 }],
          interfaces: [{ interfaceName: 'eth0', macAddress: '02:00:00:00:10:01', interfaceType: 'DATA', speedMbps: 25_000 }],
        },
      }),
      'UpdateNodeSuccess',
    ).node;
    expect(grown.resources.map((r) => [r.resourceType, r.totalCapacity, r.allocatedCapacity])).toEqual([
      ['CPU', 6, 6],
      ['GPU', 2, 0],
      ['MEMORY', 32, 8],
      ['STORAGE', 2048, 0],
    ]);
    expect(grown.networkInterfaces.map((i) => i.interfaceName)).toEqual(['eth0']);
  });

  it('lets administrators of the platform tenant create, change and remove regions, and nobody else', async () => {
    const platform = await server.db.system.tenant.create({ data: { name: 'Platform', slug: `platform-${Date.now()}`, isPlatform: true } });
    const admin = await server.signIn({ role: 'admin', tenantId: platform.id });
    const tenantAdmin = await server.signIn({ role: 'admin' });
    const code = `test-${Date.now()}`;

    const refused = await tenantAdmin.request(CreateRegionDocument, { input: { code, name: 'Test', provider: 'omega' } });
    expect(refused.data?.createRegion.__typename).toBe('ForbiddenError');
    const invalid = await admin.request(CreateRegionDocument, { input: { code: 'Not A Code', name: 'Test', provider: 'omega' } });
    expect(invalid.data?.createRegion.__typename).toBe('ValidationError');

    const region = expectResult(await admin.request(CreateRegionDocument, { input: { code, name: 'Test', provider: 'omega' } }), 'CreateRegionSuccess').region;
    expect(region).toMatchObject({ code, status: 'ACTIVE' });
    const duplicate = await admin.request(CreateRegionDocument, { input: { code, name: 'Again', provider: 'omega' } });
    expect(duplicate.data?.createRegion).toMatchObject({ __typename: 'ConflictError', field: 'code' });

    const changed = expectResult(await admin.request(UpdateRegionDocument, { id: region.id, input: { status: 'DEGRADED', location: 'Basement' } }), 'UpdateRegionSuccess').region;
    expect(changed).toMatchObject({ status: 'DEGRADED', location: 'Basement' });

    const node = await aRegisteredNode(operator, aGpuNode({ hostname: 'in-region.test', regionId: region.id }));
    const inUse = await admin.request(DeleteRegionDocument, { id: region.id });
    expect(inUse.data?.deleteRegion).toMatchObject({ __typename: 'ResourceInUseError', usedBy: 'nodes', count: 1 });
    expectResult(await operator.request(UpdateNodeDocument, { id: node.id, input: { regionId: null } }), 'UpdateNodeSuccess');
    expect(expectResult(await admin.request(DeleteRegionDocument, { id: region.id }), 'DeleteRegionSuccess').deletedId).toBe(region.id);
  });
});

// PGlite runs one statement at a time, so only PostgreSQL shows that resizes and placements never over-commit together.
describe.runIf(runPostgresTests)('resizing under concurrent placements on PostgreSQL', () => {
  let server: TestServer;
  let operator: SignedInUser;

  beforeAll(async () => {
    const auth = { ...loadConfig({}).auth, jwtSecret: TEST_JWT_SECRET, userRateLimitPerMinute: 1_000_000 };
    server = await startTestServer('postgres', { jobsEnabled: false, dbPoolMax: 16, auth });
    operator = await server.signIn({ role: 'operator' });
    await server.db.system.user.update({ where: { id: operator.userId }, data: { quotaCpuHours: 100_000, quotaMemoryGbHours: 1_000_000 } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('never leaves allocated plus reserved above the total while capacity shrinks and sessions are placed at once', async () => {
    const node = await aRegisteredNode(operator, aComputeNode({ hostname: 'contended.test', totalCpuCores: 40, totalMemoryGb: 1000 }));
    const sessions = await Promise.all(Array.from({ length: 40 }, (_, i) => aPendingSession(operator, { sessionName: `c-${i}`, cpuRequest: 1, memoryRequestGb: 1 })));
    const shrinks = Array.from({ length: 20 }, (_, i) =>
      operator.request(UpdateNodeDocument, { id: node.id, input: { resources: [{ resourceType: 'CPU', totalCapacity: 40 - i, reservationCapacity: i % 3 }] } }),
    );
    const placements = sessions.map((session) => operator.request(ScheduleSessionDocument, { id: session.id }));
    const results = await Promise.all([...shrinks, ...placements]);
    expect(results.flatMap((result) => result.errors ?? [])).toEqual([]);

    const [cpu] = await server.db.system.$queryRaw<{ total: number; allocated: number; reserved: number }[]>`
      SELECT total_capacity::float8 AS total, allocated_capacity::float8 AS allocated, reservation_capacity::float8 AS reserved
      FROM node_resources WHERE node_id = (SELECT node_id FROM nodes WHERE hostname = 'contended.test') AND resource_type = 'cpu'`;
    expect(cpu!.allocated + cpu!.reserved).toBeLessThanOrEqual(cpu!.total);
    const placed = await server.db.system.session.count({ where: { tenantId: operator.tenantId, status: 'scheduled' } });
    expect(placed).toBe(cpu!.allocated);
  });
});
