import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateNetworkTopologyDocument,
  CreateStoragePoolDocument,
  CreateStorageVolumeDocument,
  DeleteNetworkTopologyDocument,
  DeleteStoragePoolDocument,
  DeleteStorageVolumeDocument,
  NetworkInterfacesDocument,
  NetworkTopologiesDocument,
  NetworkTopologyDocument,
  RegisterNodeDocument,
  StoragePoolDocument,
  StoragePoolsDocument,
  StorageVolumesDocument,
  UpdateNetworkTopologyDocument,
  UpdateStoragePoolDocument,
  type CreateNetworkTopologyInput,
  type NetworkInterfaceFilter,
  type StoragePoolFilter,
  type CreateStorageVolumeInput,
} from './generated/graphql.js';
import { aGpuNode, aNetworkInterface, aPendingSession, aRegisteredNode, globalId } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { expectResult, startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

const aTopology = (overrides: Partial<CreateNetworkTopologyInput> = {}): CreateNetworkTopologyInput => ({
  topologyName: 'fabric-a',
  networkType: 'INFINIBAND',
  subnet: '10.8.0.0/16',
  vlanId: 100,
  bandwidthMbps: 200_000,
  latencyMs: 0.002,
  mtu: 4092,
  ...overrides,
});

describe.each(kinds)('network topologies and storage over HTTP on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false });
  });
  afterAll(async () => {
    await server?.close();
  });

  const createTopology = async (client: SignedInUser, overrides: Partial<CreateNetworkTopologyInput> = {}) =>
    expectResult(await client.request(CreateNetworkTopologyDocument, { input: aTopology(overrides) }), 'CreateNetworkTopologySuccess').topology;

  it('creates topologies with their subnets and refuses invalid, duplicate or overlapping ones', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const fabric = await createTopology(operator);
    expect(fabric).toMatchObject({ topologyName: 'fabric-a', networkType: 'INFINIBAND', subnet: '10.8.0.0/16', vlanId: 100, latencyMs: 0.002, mtu: 4092, interfaces: [] });
    const v6 = await createTopology(operator, { topologyName: 'v6', networkType: 'ETHERNET', subnet: '2001:db8::/32', vlanId: null });
    expect(v6.subnet).toBe('2001:db8::/32');

    const invalid = await operator.request(CreateNetworkTopologyDocument, { input: aTopology({ topologyName: 'x', subnet: '10.9.0.1/16', vlanId: 5000, mtu: 100 }) });
    expect(expectResult(invalid, 'ValidationError').issues).toEqual([
      { path: 'subnet', message: 'has bits set to the right of the prefix (give the network address)' },
      { path: 'vlanId', message: expect.any(String) },
      { path: 'mtu', message: expect.any(String) },
    ]);
    const notCidr = await operator.request(CreateNetworkTopologyDocument, { input: aTopology({ topologyName: 'y', subnet: '10.9.0.0' }) });
    expect(expectResult(notCidr, 'ValidationError').issues).toEqual([{ path: 'subnet', message: 'must be a network in CIDR notation, e.g. 10.0.0.0/24' }]);
    const overlapping = await operator.request(CreateNetworkTopologyDocument, { input: aTopology({ topologyName: 'fabric-b', subnet: '10.8.4.0/24' }) });
    expect(expectResult(overlapping, 'ConflictError')).toMatchObject({ field: 'subnet', message: 'subnet 10.8.4.0/24 overlaps 10.8.0.0/16 of fabric-a' });
    const duplicate = await operator.request(CreateNetworkTopologyDocument, { input: aTopology({ subnet: '10.20.0.0/16' }) });
    expect(expectResult(duplicate, 'ConflictError').field).toBe('topologyName');
  });

  it('attaches node interfaces to topologies, filters them, and detaches them when the topology goes', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const fabric = await createTopology(operator);
    const management = await createTopology(operator, { topologyName: 'mgmt', networkType: 'ETHERNET', subnet: '192.168.10.0/24', vlanId: null });
    const node = await aRegisteredNode(operator, {
      hostname: 'ib-node.test',
      interfaces: [
        aNetworkInterface({ interfaceName: 'ib0', macAddress: '02:00:00:00:00:01', ipAddress: '10.8.1.7', interfaceType: 'CLUSTER', topologyId: fabric.id }),
        aNetworkInterface({ interfaceName: 'eth0', macAddress: '02:00:00:00:00:02', ipAddress: '192.168.10.7', interfaceType: 'MANAGEMENT', topologyId: management.id }),
      ],
    });
    await aRegisteredNode(operator, { hostname: 'other.test', interfaces: [aNetworkInterface({ interfaceName: 'ib0', macAddress: '02:00:00:00:00:03', interfaceType: 'CLUSTER', topologyId: fabric.id })] });

    const fetched = (await operator.request(NetworkTopologyDocument, { id: fabric.id })).data!.networkTopology!;
    expect(fetched.interfaces.map((i) => i.macAddress).sort()).toEqual(['02:00:00:00:00:01', '02:00:00:00:00:03']);

    const interfaces = async (filter: NetworkInterfaceFilter) =>
      (await operator.request(NetworkInterfacesDocument, { filter })).data!.networkInterfaces.edges.map((edge) => `${edge.node.node.hostname}/${edge.node.interfaceName}`);
    expect((await interfaces({ nodeId: node.id })).sort()).toEqual(['ib-node.test/eth0', 'ib-node.test/ib0']);
    expect((await interfaces({ topologyId: fabric.id })).sort()).toEqual(['ib-node.test/ib0', 'other.test/ib0']);
    expect(await interfaces({ interfaceType: ['MANAGEMENT'] })).toEqual(['ib-node.test/eth0']);
    const wrongType = await operator.request(NetworkInterfacesDocument, { filter: { nodeId: fabric.id } });
    expect(wrongType.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: 'filter.nodeId', message: 'must be the ID of a ClusterNode' }] });

    const containing = await operator.request(NetworkTopologiesDocument, { filter: { containsAddress: '192.168.10.200' } });
    expect(containing.data!.networkTopologies.edges.map((edge) => edge.node.topologyName)).toEqual(['mgmt']);
    const infiniband = await operator.request(NetworkTopologiesDocument, { filter: { networkType: ['INFINIBAND'] } });
    expect(infiniband.data!.networkTopologies.totalCount).toBe(1);

    const updated = await operator.request(UpdateNetworkTopologyDocument, { id: management.id, input: { subnet: '192.168.0.0/16', vlanId: 42, topologyName: 'mgmt-wide' } });
    expect(expectResult(updated, 'UpdateNetworkTopologySuccess').topology).toMatchObject({ topologyName: 'mgmt-wide', subnet: '192.168.0.0/16', vlanId: 42 });
    const cleared = await operator.request(UpdateNetworkTopologyDocument, { id: management.id, input: { vlanId: null } });
    expect(expectResult(cleared, 'UpdateNetworkTopologySuccess').topology.vlanId).toBeNull();
    const clash = await operator.request(UpdateNetworkTopologyDocument, { id: management.id, input: { subnet: '10.0.0.0/8' } });
    expect(expectResult(clash, 'ConflictError').field).toBe('subnet');

    expect(expectResult(await operator.request(DeleteNetworkTopologyDocument, { id: fabric.id }), 'DeleteNetworkTopologySuccess').deletedId).toBe(fabric.id);
    expect(expectResult(await operator.request(DeleteNetworkTopologyDocument, { id: fabric.id }), 'NotFoundError').resource).toBe('NetworkTopology');
    const detached = (await operator.request(NetworkInterfacesDocument, { filter: { nodeId: node.id, interfaceType: ['CLUSTER'] } })).data!.networkInterfaces.edges;
    expect(detached.map((edge) => [edge.node.macAddress, edge.node.topology])).toEqual([['02:00:00:00:00:01', null]]);
  });

  it('creates volumes only within their pool\'s free capacity and gives it back on delete', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const node = await aRegisteredNode(operator);
    const created = await operator.request(CreateStoragePoolDocument, {
      input: { poolName: 'fast', poolType: 'REPLICATED', totalCapacityGb: 100, performanceTier: 'NVME', nodeIds: [node.id] },
    });
    const pool = expectResult(created, 'CreateStoragePoolSuccess').pool;
    expect(pool).toMatchObject({ poolName: 'fast', totalCapacityGb: 100, usedCapacityGb: 0, availableCapacityGb: 100, performanceTier: 'NVME', nodeIds: [node.id] });

    const volume = async (name: string, sizeGb: number, extra: Partial<CreateStorageVolumeInput> = {}) =>
      operator.request(CreateStorageVolumeDocument, { input: { poolId: pool.id, volumeName: name, sizeGb, ...extra } });
    const session = await aPendingSession(operator);
    const first = expectResult(await volume('data', 60, { sessionId: session.id, mountPath: '/data', accessMode: 'READ_WRITE_MANY' }), 'CreateStorageVolumeSuccess').volume;
    expect(first).toMatchObject({ sizeGb: 60, accessMode: 'READ_WRITE_MANY', mountPath: '/data', session: { id: session.id }, pool: { usedCapacityGb: 60, availableCapacityGb: 40 } });
    const tooBig = expectResult(await volume('big', 50), 'InsufficientCapacityError');
    expect(tooBig.reasons).toEqual(['storage pool fast: 40 GB free, 50 GB requested']);
    expect(expectResult(await volume('data', 10), 'ConflictError').field).toBe('volumeName');
    expect(expectResult(await volume('bad', -1, { mountPath: 'relative' }), 'ValidationError').issues.map((i) => i.path)).toEqual(['sizeGb', 'mountPath']);
    expectResult(await volume('rest', 40), 'CreateStorageVolumeSuccess');

    const full = (await operator.request(StoragePoolDocument, { id: pool.id })).data!.storagePool!;
    expect(full).toMatchObject({ usedCapacityGb: 100, availableCapacityGb: 0 });
    expect(full.volumes.edges.map((edge) => edge.node.volumeName)).toEqual(['data', 'rest']);

    const shrink = await operator.request(UpdateStoragePoolDocument, { id: pool.id, input: { totalCapacityGb: 90 } });
    expect(expectResult(shrink, 'ValidationError').issues).toEqual([{ path: 'totalCapacityGb', message: 'is below the capacity its volumes use' }]);
    expect(expectResult(await operator.request(DeleteStoragePoolDocument, { id: pool.id }), 'ResourceInUseError')).toMatchObject({ usedBy: 'volumes', count: 2 });

    const deleted = expectResult(await operator.request(DeleteStorageVolumeDocument, { id: first.id }), 'DeleteStorageVolumeSuccess').volume;
    expect(deleted.pool.usedCapacityGb).toBe(40);
    expect(deleted.deletedAt).not.toBeNull();
    expect(expectResult(await operator.request(DeleteStorageVolumeDocument, { id: first.id }), 'NotFoundError').resource).toBe('StorageVolume');
    const live = await operator.request(StorageVolumesDocument, { filter: { poolId: pool.id } });
    expect(live.data!.storageVolumes.edges.map((edge) => edge.node.volumeName)).toEqual(['rest']);
    const all = await operator.request(StorageVolumesDocument, { filter: { poolId: pool.id, includeDeleted: true } });
    expect(all.data!.storageVolumes.edges.map((edge) => edge.node.volumeName).sort()).toEqual(['data', 'rest']);
    const bySession = await operator.request(StorageVolumesDocument, { filter: { sessionId: session.id, includeDeleted: true } });
    expect(bySession.data!.storageVolumes.edges.map((edge) => edge.node.volumeName)).toEqual(['data']);

    const grown = await operator.request(UpdateStoragePoolDocument, { id: pool.id, input: { totalCapacityGb: 500, poolName: 'fast-2' } });
    expect(expectResult(grown, 'UpdateStoragePoolSuccess').pool).toMatchObject({ poolName: 'fast-2', totalCapacityGb: 500, availableCapacityGb: 460 });
  });

  it('never lets concurrent volumes exceed the pool', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const pool = expectResult(await operator.request(CreateStoragePoolDocument, { input: { poolName: 'race', poolType: 'LOCAL', totalCapacityGb: 100 } }), 'CreateStoragePoolSuccess').pool;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => operator.request(CreateStorageVolumeDocument, { input: { poolId: pool.id, volumeName: `v${i}`, sizeGb: 20 } })),
    );
    const outcomes = results.map((result) => result.data!.createStorageVolume.__typename);
    expect(outcomes.filter((name) => name === 'CreateStorageVolumeSuccess')).toHaveLength(5);
    expect(outcomes.filter((name) => name === 'InsufficientCapacityError')).toHaveLength(7);
    const [row] = await server.db.system.$queryRaw<{ used: number }[]>`SELECT used_capacity_gb::float8 AS used FROM storage_pools WHERE pool_name = 'race' AND tenant_id = ${operator.tenantId}::uuid`;
    expect(row!.used).toBe(100);
  });

  it('validates pools and lists them with filters', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const unknownNode = globalId('ClusterNode', '00000000-0000-4000-8000-000000000009');
    const refused = await operator.request(CreateStoragePoolDocument, { input: { poolName: 'p', poolType: 'LOCAL', totalCapacityGb: 0, nodeIds: [unknownNode] } });
    expect(expectResult(refused, 'ValidationError').issues.map((issue) => issue.path)).toEqual(['totalCapacityGb']);
    const unknown = await operator.request(CreateStoragePoolDocument, { input: { poolName: 'p', poolType: 'LOCAL', totalCapacityGb: 10, nodeIds: [unknownNode] } });
    expect(expectResult(unknown, 'ValidationError').issues).toEqual([{ path: 'nodeIds.0', message: 'no such node' }]);
    for (const [poolName, poolType, totalCapacityGb] of [['cold', 'ERASURE_CODED', 1000], ['hot', 'LOCAL', 50]] as const) {
      expectResult(await operator.request(CreateStoragePoolDocument, { input: { poolName, poolType, totalCapacityGb } }), 'CreateStoragePoolSuccess');
    }
    expect(expectResult(await operator.request(CreateStoragePoolDocument, { input: { poolName: 'hot', poolType: 'LOCAL', totalCapacityGb: 5 } }), 'ConflictError').field).toBe('poolName');
    const names = async (filter: StoragePoolFilter) => (await operator.request(StoragePoolsDocument, { filter })).data!.storagePools.edges.map((edge) => edge.node.poolName);
    expect(await names({})).toEqual(['cold', 'hot']);
    expect(await names({ poolType: ['LOCAL'] })).toEqual(['hot']);
    expect(await names({ minAvailableGb: 100 })).toEqual(['cold']);
  });

  it("keeps each tenant's topologies, interfaces, pools and volumes to itself", async () => {
    const owner = await server.signIn({ role: 'operator' });
    const stranger = await server.signIn({ role: 'operator' });
    const topology = await createTopology(owner);
    const pool = expectResult(await owner.request(CreateStoragePoolDocument, { input: { poolName: 'mine', poolType: 'LOCAL', totalCapacityGb: 10 } }), 'CreateStoragePoolSuccess').pool;
    await aRegisteredNode(owner, { interfaces: [aNetworkInterface({ topologyId: topology.id })] });

    expect((await stranger.request(NetworkTopologyDocument, { id: topology.id })).data!.networkTopology).toBeNull();
    expect((await stranger.request(NetworkTopologiesDocument, {})).data!.networkTopologies.edges).toEqual([]);
    expect((await stranger.request(NetworkInterfacesDocument, { filter: { topologyId: topology.id } })).data!.networkInterfaces.edges).toEqual([]);
    expect(expectResult(await stranger.request(UpdateNetworkTopologyDocument, { id: topology.id, input: { mtu: 9000 } }), 'NotFoundError').resource).toBe('NetworkTopology');
    expect(expectResult(await stranger.request(DeleteNetworkTopologyDocument, { id: topology.id }), 'NotFoundError').resource).toBe('NetworkTopology');
    // The other tenant's subnet neither clashes with nor is visible to this one.
    expectResult(await stranger.request(CreateNetworkTopologyDocument, { input: aTopology() }), 'CreateNetworkTopologySuccess');
    const borrowed = await stranger.request(RegisterNodeDocument, { input: aGpuNode({ interfaces: [aNetworkInterface({ topologyId: topology.id })] }) });
    expect(expectResult(borrowed, 'ValidationError').issues).toEqual([{ path: 'interfaces.0.topologyId', message: 'no such network topology' }]);

    expect((await stranger.request(StoragePoolDocument, { id: pool.id })).data!.storagePool).toBeNull();
    expect((await stranger.request(StoragePoolsDocument, {})).data!.storagePools.edges).toEqual([]);
    expect(expectResult(await stranger.request(UpdateStoragePoolDocument, { id: pool.id, input: { totalCapacityGb: 1 } }), 'NotFoundError').resource).toBe('StoragePool');
    expect(expectResult(await stranger.request(DeleteStoragePoolDocument, { id: pool.id }), 'NotFoundError').resource).toBe('StoragePool');
    const intrusion = await stranger.request(CreateStorageVolumeDocument, { input: { poolId: pool.id, volumeName: 'x', sizeGb: 1 } });
    expect(expectResult(intrusion, 'NotFoundError').resource).toBe('StoragePool');
    expect((await owner.request(StoragePoolDocument, { id: pool.id })).data!.storagePool!.usedCapacityGb).toBe(0);
  });
});
