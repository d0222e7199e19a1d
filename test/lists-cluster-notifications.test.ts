import { randomUUID } from 'node:crypto';
import type { ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChannelListDocument,
  CreateNetworkTopologyDocument,
  CreateNotificationConfigDocument,
  CreateRegionDocument,
  CreateStoragePoolDocument,
  CreateStorageVolumeDocument,
  DeleteStorageVolumeDocument,
  DeliveryCountsDocument,
  DeliveryListDocument,
  InterfaceListDocument,
  PoolListDocument,
  RegionListDocument,
  TopologyListDocument,
  VolumeListDocument,
  type CreateNetworkTopologyInput,
  type ChannelListQueryVariables,
  type CreateNotificationConfigInput,
  type NotificationDeliveryFilter,
  type PageInfoFieldsFragment,
  type PoolListQueryVariables,
} from './generated/graphql.js';
import { aComputeNode, aNetworkInterface, aPendingSession, aRegisteredNode, globalId, rawId } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { expectResult, servicesOf, startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

interface Page<T> {
  edges: { node: T }[];
  pageInfo: PageInfoFieldsFragment;
}

/** Every row of a list read two at a time, each page after the previous page's end cursor. */
async function everyPage<T>(read: (after: string | null) => Promise<Page<T> | undefined>): Promise<T[]> {
  const rows: T[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 50; pages += 1) {
    const page = await read(after);
    if (!page) throw new Error('the list answered no page');
    rows.push(...page.edges.map((edge) => edge.node));
    if (!page.pageInfo.hasNextPage) return rows;
    after = page.pageInfo.endCursor ?? null;
  }
  throw new Error('the list never ended');
}

/** The issues of the one BAD_USER_INPUT error a refused list argument gives. */
function refused(result: ExecutionResult<unknown>) {
  expect(result.errors, JSON.stringify(result)).toHaveLength(1);
  expect(result.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
  return result.errors![0]!.extensions?.issues;
}

const aTopology = (topologyName: string, subnet: string, overrides: Partial<CreateNetworkTopologyInput> = {}): CreateNetworkTopologyInput => ({
  topologyName,
  networkType: 'ETHERNET',
  subnet,
  bandwidthMbps: 10_000,
  ...overrides,
});

/** A generic webhook on a public address; jobs are off, so nothing is ever sent to it. */
const aWebhook = (name: string, eventTypes: CreateNotificationConfigInput['eventTypes']): CreateNotificationConfigInput => ({
  name,
  channelType: 'WEBHOOK',
  targetUrl: 'https://93.184.215.14/omega/events',
  secret: 'whsec-test-0123456789abcdef',
  eventTypes,
});

describe.each(kinds)('dashboard lists of regions, network, storage and notifications over HTTP on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('searches regions case-insensitively with % and _ matched as themselves, composes or / not, orders and counts', async () => {
    const platform = await server.db.system.tenant.create({ data: { name: 'Platform', slug: `platform-${randomUUID()}`, isPlatform: true } });
    const admin = await server.signIn({ role: 'admin', tenantId: platform.id });
    const provider = `lists-${randomUUID().slice(0, 8)}`;
    const regions = [
      ['Lab 100% green', 'Oslo'],
      ['Lab 1000 green', 'Bergen'],
      ['under_score', 'Tromso'],
      ['underXscore', 'Oslo'],
    ] as const;
    for (const [index, [name, location]] of regions.entries()) {
      const input = { code: `${provider}-${index}`, name, provider, location };
      expectResult(await admin.request(CreateRegionDocument, { input }), 'CreateRegionSuccess');
    }
    const names = async (search: string) =>
      (await admin.request(RegionListDocument, { filter: { providerIn: [provider], search } })).data!.regions.edges.map((edge) => edge.node.name);

    expect(await names('100%')).toEqual(['Lab 100% green']);
    expect(await names('under_')).toEqual(['under_score']);
    expect(await names('LAB')).toEqual(['Lab 100% green', 'Lab 1000 green']);
    expect(await names('oslo')).toEqual(['Lab 100% green', 'underXscore']);

    const composed = await admin.request(RegionListDocument, {
      filter: { provider, or: [{ search: 'oslo' }, { search: 'bergen' }], not: { search: '%' } },
      orderBy: [{ field: 'NAME', direction: 'DESC' }],
    });
    expect(composed.data!.regions.edges.map((edge) => edge.node.name)).toEqual(['underXscore', 'Lab 1000 green']);
    expect(composed.data!.regions.totalCount).toBe(2);

    const byCode = await everyPage(async (after) => (await admin.request(RegionListDocument, { first: 3, after, filter: { providerIn: [provider] } })).data?.regions);
    expect(byCode.map((region) => region.code)).toEqual(regions.map((_, index) => `${provider}-${index}`));
  });

  it('finds topologies by the addresses their subnets hold inside and / or / not, and refuses an address that is none', async () => {
    const operator = await server.signIn({ role: 'operator' });
    for (const [name, subnet, overrides] of [
      ['fabric', '10.8.0.0/16', { networkType: 'INFINIBAND', bandwidthMbps: 200_000 }],
      ['management', '192.168.10.0/24', { bandwidthMbps: 1_000 }],
      ['storage-net', '172.20.0.0/16', { networkType: 'ROCE', bandwidthMbps: 100_000, mtu: 9_000 }],
    ] as const) {
      expectResult(await operator.request(CreateNetworkTopologyDocument, { input: aTopology(name, subnet, overrides) }), 'CreateNetworkTopologySuccess');
    }

    const either = await operator.request(TopologyListDocument, {
      filter: { or: [{ containsAddress: '10.8.3.4' }, { networkType: ['ETHERNET'] }] },
      orderBy: [{ field: 'BANDWIDTH_MBPS', direction: 'ASC' }],
    });
    expect(either.data!.networkTopologies.edges.map((edge) => edge.node.topologyName)).toEqual(['management', 'fabric']);
    expect(either.data!.networkTopologies.totalCount).toBe(2);
    const outside = await operator.request(TopologyListDocument, { filter: { not: { containsAddress: '10.8.3.4' }, minBandwidthMbps: 50_000 } });
    expect(outside.data!.networkTopologies.edges.map((edge) => edge.node)).toEqual([{ topologyName: 'storage-net', subnet: '172.20.0.0/16' }]);

    expect(refused(await operator.request(TopologyListDocument, { filter: { containsAddress: 'x' } }))).toEqual([
      { path: 'filter.containsAddress', message: 'must be an IPv4 or IPv6 address' },
    ]);
    const nested = await operator.request(TopologyListDocument, { filter: { and: [{ or: [{ networkType: ['ROCE'] }, { containsAddress: '10.8.0.0/16' }] }] } });
    expect(refused(nested)).toEqual([{ path: 'filter.and.0.or.1.containsAddress', message: 'must be an IPv4 or IPv6 address' }]);
    const backwards = await operator.request(TopologyListDocument, { filter: { minBandwidthMbps: 1_000, maxBandwidthMbps: 10 } });
    expect(refused(backwards)).toEqual([{ path: 'filter.maxBandwidthMbps', message: 'is before filter.minBandwidthMbps' }]);
  });

  it('lists interfaces of any of several nodes by name and speed, and refuses an ID of another type naming its place in the list', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const first = await aRegisteredNode(operator, aComputeNode({
      hostname: 'nic-a.test',
      interfaces: [aNetworkInterface({ interfaceName: 'eth0', speedMbps: 25_000 }), aNetworkInterface({ interfaceName: 'ib0', speedMbps: 200_000 })],
    }));
    const second = await aRegisteredNode(operator, aComputeNode({
      hostname: 'nic-b.test',
      interfaces: [aNetworkInterface({ interfaceName: 'eth0', speedMbps: 25_000 }), aNetworkInterface({ interfaceName: 'eth1', speedMbps: 10_000 })],
    }));
    await aRegisteredNode(operator, aComputeNode({ hostname: 'nic-c.test', interfaces: [aNetworkInterface({ interfaceName: 'eth0' })] }));

    const ethernet = await operator.request(InterfaceListDocument, { filter: { nodeIdIn: [first.id, second.id], interfaceName: 'ETH' } });
    const byNodeThenName = ([[first, 'eth0'], [second, 'eth0'], [second, 'eth1']] as const)
      .map(([node, name]) => ({ key: `${rawId(node.id)}/${name}`, shown: `${node.hostname}/${name}` }))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
    expect(ethernet.data!.networkInterfaces.edges.map((edge) => `${edge.node.node.hostname}/${edge.node.interfaceName}`)).toEqual(byNodeThenName.map((entry) => entry.shown));
    expect(ethernet.data!.networkInterfaces.totalCount).toBe(3);
    const slow = await operator.request(InterfaceListDocument, { filter: { nodeIdIn: [first.id, second.id], maxSpeedMbps: 20_000 } });
    expect(slow.data!.networkInterfaces.edges.map((edge) => `${edge.node.node.hostname}/${edge.node.interfaceName}`)).toEqual(['nic-b.test/eth1']);

    const mixed = await operator.request(InterfaceListDocument, { filter: { nodeIdIn: [first.id, globalId('Session', randomUUID())] } });
    expect(refused(mixed)).toEqual([{ path: 'filter.nodeIdIn.1', message: 'must be the ID of a ClusterNode' }]);
  });

  it('ranges pools by free capacity, orders them by it, finds the pools a node serves, and refuses a range that ends before it starts', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const node = await aRegisteredNode(operator, aComputeNode());
    for (const [poolName, totalCapacityGb, nodeIds] of [['alpha', 100, []], ['beta', 500, [node.id]], ['gamma', 50, []]] as const) {
      const input = { poolName, poolType: 'LOCAL' as const, totalCapacityGb, nodeIds: [...nodeIds] };
      expectResult(await operator.request(CreateStoragePoolDocument, { input }), 'CreateStoragePoolSuccess');
    }
    const names = async (variables: PoolListQueryVariables) =>
      (await operator.request(PoolListDocument, variables)).data!.storagePools.edges.map((edge) => edge.node.poolName);

    expect(await names({ filter: { minAvailableGb: 60, maxAvailableGb: 400 } })).toEqual(['alpha']);
    expect(await names({ orderBy: [{ field: 'AVAILABLE_CAPACITY_GB' }] })).toEqual(['beta', 'alpha', 'gamma']);
    expect(await names({ filter: { nodeId: node.id } })).toEqual(['beta']);
    expect(await names({ filter: { or: [{ poolName: 'ALP' }, { minTotalCapacityGb: 400 }], not: { nodeId: node.id } } })).toEqual(['alpha']);
    expect((await operator.request(PoolListDocument, { filter: { maxTotalCapacityGb: 100 } })).data!.storagePools.totalCount).toBe(2);

    const backwards = await operator.request(PoolListDocument, { filter: { minAvailableGb: 400, maxAvailableGb: 60 } });
    expect(refused(backwards)).toEqual([{ path: 'filter.maxAvailableGb', message: 'is before filter.minAvailableGb' }]);
    const notANode = await operator.request(PoolListDocument, { filter: { nodeId: globalId('StoragePool', randomUUID()) } });
    expect(refused(notANode)).toEqual([{ path: 'filter.nodeId', message: 'must be the ID of a ClusterNode' }]);
  });

  it('pages volumes of equal size without repeating or skipping one, composes filters, counts them, and refuses IDs of the wrong type', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const pool = expectResult(
      await operator.request(CreateStoragePoolDocument, { input: { poolName: 'volumes', poolType: 'DISTRIBUTED', totalCapacityGb: 1_000 } }),
      'CreateStoragePoolSuccess',
    ).pool;
    const session = await aPendingSession(operator);
    const volumes = [];
    for (let index = 0; index < 7; index += 1) {
      const input = {
        poolId: pool.id,
        volumeName: `v${index}`,
        sizeGb: index === 6 ? 20 : 10,
        ...(index === 1 ? { accessMode: 'READ_WRITE_MANY' as const, sessionId: session.id } : {}),
      };
      volumes.push(expectResult(await operator.request(CreateStorageVolumeDocument, { input }), 'CreateStorageVolumeSuccess').volume);
    }

    for (const direction of ['ASC', 'DESC'] as const) {
      const paged = await everyPage(async (after) =>
        (await operator.request(VolumeListDocument, { first: 2, after, orderBy: [{ field: 'SIZE_GB', direction }] })).data?.storageVolumes,
      );
      expect(paged.map((volume) => volume.volumeName).sort()).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6']);
      expect(paged.map((volume) => volume.sizeGb)).toEqual(direction === 'ASC' ? [10, 10, 10, 10, 10, 10, 20] : [20, 10, 10, 10, 10, 10, 10]);
    }

    const composed = await operator.request(VolumeListDocument, {
      filter: { or: [{ volumeName: 'V1' }, { minSizeGb: 15 }, { mounted: true }], not: { accessMode: ['READ_WRITE_MANY'] } },
    });
    expect(composed.data!.storageVolumes.edges.map((edge) => edge.node.volumeName)).toEqual(['v6']);
    expect(composed.data!.storageVolumes.totalCount).toBe(1);
    const bySession = await operator.request(VolumeListDocument, { filter: { sessionIdIn: [session.id] } });
    expect(bySession.data!.storageVolumes.edges.map((edge) => edge.node)).toEqual([{ volumeName: 'v1', sizeGb: 10, accessMode: 'READ_WRITE_MANY' }]);

    expectResult(await operator.request(DeleteStorageVolumeDocument, { id: volumes[0]!.id }), 'DeleteStorageVolumeSuccess');
    expect((await operator.request(VolumeListDocument, { filter: { poolId: pool.id } })).data!.storageVolumes.totalCount).toBe(6);
    expect((await operator.request(VolumeListDocument, { filter: { poolId: pool.id, includeDeleted: true } })).data!.storageVolumes.totalCount).toBe(7);

    const node = await aRegisteredNode(operator, aComputeNode());
    expect(refused(await operator.request(VolumeListDocument, { filter: { sessionId: node.id } }))).toEqual([
      { path: 'filter.sessionId', message: 'must be the ID of a Session' },
    ]);
    // Refused at the edge, before the list reads it: a global id whose key is no UUID.
    expect(refused(await operator.request(VolumeListDocument, { filter: { sessionId: globalId('Session', 'not-a-uuid') } }))).toEqual([
      { path: 'storageVolumes.filter.sessionId', message: 'is not a global id' },
    ]);
    expect(refused(await operator.request(VolumeListDocument, { filter: { or: [{ includeDeleted: true }] } }))).toEqual([
      { path: 'filter.or.0.includeDeleted', message: 'is only allowed at the top level of the filter' },
    ]);
    refused(await operator.request(VolumeListDocument, { first: 2, after: 'junk' }));
  });

  it('finds channels by name with _ matched as itself and by the event types they want, in the order asked', async () => {
    const admin = await server.signIn({ role: 'admin' });
    for (const [name, eventTypes] of [
      ['ops-alerts', ['NODE_FAILED']],
      ['ops_billing', ['QUOTA_EXCEEDED']],
      ['sessions', ['SESSION_FAILED', 'NODE_FAILED']],
    ] as const) {
      const result = await admin.request(CreateNotificationConfigDocument, { input: aWebhook(name, [...eventTypes]) });
      expect(result.data!.createNotificationConfig.__typename).toBe('CreateNotificationConfigSuccess');
    }
    const names = async (variables: ChannelListQueryVariables) => (await admin.request(ChannelListDocument, variables)).data!.notificationConfigs.edges.map((edge) => edge.node.name);

    expect(await names({ filter: { name: 'ops_' } })).toEqual(['ops_billing']);
    expect(await names({ filter: { eventType: ['NODE_FAILED'] } })).toEqual(['ops-alerts', 'sessions']);
    expect(await names({ filter: { eventType: ['NODE_FAILED'], not: { name: 'OPS' } } })).toEqual(['sessions']);
    expect(await names({ orderBy: [{ field: 'NAME', direction: 'DESC' }] })).toEqual(['sessions', 'ops_billing', 'ops-alerts']);
    expect((await admin.request(ChannelListDocument, { filter: { channelType: ['WEBHOOK'], enabled: true } })).data!.notificationConfigs.totalCount).toBe(3);
  });

  it('counts deliveries by status and event type, pages them by status stably, and refuses malformed ids and backwards ranges', async () => {
    const admin = await server.signIn({ role: 'admin' });
    const channel = async (name: string, eventTypes: CreateNotificationConfigInput['eventTypes']) => {
      const result = await admin.request(CreateNotificationConfigDocument, { input: aWebhook(name, eventTypes) });
      if (result.data?.createNotificationConfig.__typename !== 'CreateNotificationConfigSuccess') throw new Error(JSON.stringify(result));
      return result.data.createNotificationConfig.notificationConfig;
    };
    const wide = await channel('wide', ['NODE_FAILED', 'QUOTA_EXCEEDED']);
    const narrow = await channel('narrow', ['NODE_FAILED']);
    const { notifications } = servicesOf(server);
    for (let index = 0; index < 3; index += 1) await notifications.enqueueEvent(admin.tenantId, { eventId: randomUUID(), eventType: 'node.failed', payload: {} });
    await notifications.enqueueEvent(admin.tenantId, { eventId: randomUUID(), eventType: 'quota.exceeded', payload: {} });
    await server.db.system.notificationDelivery.updateMany({
      where: { configId: rawId(wide.id), eventType: 'node.failed' },
      data: { status: 'delivered', deliveredAt: new Date() },
    });

    const counts = async (by: 'STATUS' | 'EVENT_TYPE', filter?: NotificationDeliveryFilter) =>
      (await admin.request(DeliveryCountsDocument, { by, filter })).data!.notificationDeliveryCounts;
    expect(await counts('STATUS')).toEqual([
      { key: 'PENDING', count: 4 },
      { key: 'DELIVERED', count: 3 },
    ]);
    expect(await counts('EVENT_TYPE')).toEqual([
      { key: 'NODE_FAILED', count: 6 },
      { key: 'QUOTA_EXCEEDED', count: 1 },
    ]);
    expect(await counts('STATUS', { configIdIn: [narrow.id] })).toEqual([{ key: 'PENDING', count: 3 }]);

    const byStatus = await everyPage(async (after) =>
      (await admin.request(DeliveryListDocument, { first: 2, after, orderBy: [{ field: 'STATUS', direction: 'ASC' }] })).data?.notificationDeliveries,
    );
    expect(new Set(byStatus.map((delivery) => delivery.id)).size).toBe(7);
    expect(byStatus.map((delivery) => delivery.status)).toEqual(['DELIVERED', 'DELIVERED', 'DELIVERED', 'PENDING', 'PENDING', 'PENDING', 'PENDING']);

    const either = await admin.request(DeliveryListDocument, { filter: { or: [{ eventType: ['QUOTA_EXCEEDED'] }, { status: ['DELIVERED'] }] } });
    expect(either.data!.notificationDeliveries.totalCount).toBe(4);
    expect(either.data!.notificationDeliveries.edges.every((edge) => edge.node.config.name === 'wide')).toBe(true);
    const event = byStatus[0]!.eventId;
    expect((await admin.request(DeliveryListDocument, { filter: { eventId: event } })).data!.notificationDeliveries.totalCount).toBe(2);

    expect(refused(await admin.request(DeliveryListDocument, { filter: { eventId: 'nope' } }))).toEqual([{ path: 'filter.eventId', message: 'must be a UUID' }]);
    const backwards = await admin.request(DeliveryListDocument, { filter: { createdAfter: '2026-02-01T00:00:00Z', createdBefore: '2026-01-01T00:00:00Z' } });
    expect(refused(backwards)).toEqual([{ path: 'filter.createdBefore', message: 'is before filter.createdAfter' }]);
    const tooDeep = await admin.request(DeliveryListDocument, { filter: { not: { not: { not: { not: { not: { not: { status: ['DEAD'] } } } } } } } });
    expect(refused(tooDeep)).toEqual([{ path: 'filter.not.not.not.not.not', message: 'nests and / or / not deeper than 5 levels' }]);
    expect(refused(await admin.request(DeliveryListDocument, { filter: { configId: byStatus[0]!.id } }))).toEqual([
      { path: 'notificationDeliveries.filter.configId', message: 'is a NotificationDelivery id; expected NotificationConfig' },
    ]);
  });
});
