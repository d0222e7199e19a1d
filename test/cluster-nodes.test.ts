import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AvailableNodesDocument,
  ClusterNodeDocument,
  ClusterNodesDocument,
  DeregisterNodeDocument,
  RegionsDocument,
  RegisterNodeDocument,
  ScheduleSessionDocument,
  SetNodeStatusDocument,
  TransitionSessionDocument,
  UpdateNodeDocument,
  type AvailableNodesQueryVariables,
  type ClusterNodesQueryVariables,
  type RegionFilter,
} from './generated/graphql.js';
import { aComputeNode, aGpuNode, aNetworkInterface, aPendingSession, aRegisteredNode, globalId, rawId } from './helpers/builders.js';
import { listenAsAnotherInstance, setHeartbeat, systemEvents } from './helpers/cluster.js';
import { runPostgresTests, TEST_REDIS_URL } from './helpers/backing-services.js';
import { expectResult, startTestServer, type DatabaseKind, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

describe.each(kinds)('cluster nodes over HTTP on %s', (kind) => {
  let server: TestServer;
  const suffix = randomBytes(3).toString('hex');
  const regionIds: Record<string, string> = {};

  beforeAll(async () => {
    // Redis carries the events when PostgreSQL runs, so the test can watch them as another instance would.
    server = await startTestServer(kind, { jobsEnabled: false, ...(kind === 'postgres' ? { redisUrl: TEST_REDIS_URL } : {}) });
    for (const [code, provider, status] of [
      [`east-${suffix}`, 'aws', 'active'],
      [`west-${suffix}`, 'gcp', 'active'],
      [`north-${suffix}`, 'aws', 'offline'],
    ] as const) {
      const region = await server.db.system.region.create({ data: { code, name: code, provider, status } });
      regionIds[code] = globalId('Region', region.id);
    }
  });
  afterAll(async () => {
    await server?.close();
  });

  it('registers a node with its region, price and network interfaces, and reads them back by id', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const node = await aRegisteredNode(operator, {
      hostname: 'gpu-detail.test',
      regionId: regionIds[`east-${suffix}`],
      pricePerHour: 12.5,
      interfaces: [
        aNetworkInterface({ interfaceName: 'eth0', macAddress: '08:00:2B:01:02:03', ipAddress: '10.1.0.5', interfaceType: 'MANAGEMENT' }),
        aNetworkInterface({ interfaceName: 'ib0', macAddress: '08-00-2b-01-02-04', interfaceType: 'CLUSTER' }),
      ],
    });
    expect(node).toMatchObject({ hostname: 'gpu-detail.test', status: 'ACTIVE', pricePerHour: 12.5, region: { code: `east-${suffix}` } });
    expect(node.lastHeartbeat).not.toBeNull();

    const fetched = (await operator.request(ClusterNodeDocument, { id: node.id })).data!.node!;
    expect(fetched.networkInterfaces).toEqual([
      { interfaceName: 'eth0', macAddress: '08:00:2b:01:02:03', ipAddress: '10.1.0.5', interfaceType: 'MANAGEMENT', topology: null },
      { interfaceName: 'ib0', macAddress: '08:00:2b:01:02:04', ipAddress: null, interfaceType: 'CLUSTER', topology: null },
    ]);
    expect(fetched.resources.map((r) => [r.resourceType, r.totalCapacity, r.availableCapacity])).toEqual([
      ['CPU', 64, 64],
      ['GPU', 8, 8],
      ['MEMORY', 512, 512],
      ['STORAGE', 2048, 2048],
    ]);
    expect(fetched.sessions.edges).toEqual([]);
    const events = await systemEvents(server, operator.tenantId, 'node.registered');
    expect(events).toEqual([expect.objectContaining({ severity: 'info', sourceNodeId: rawId(node.id), message: 'node gpu-detail.test registered as active' })]);
  });

  it('registers a node with the resources it lists, and lists it', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const node = await aRegisteredNode(operator, {
      hostname: 'gpu-a.test',
      resources: [
        { resourceType: 'GPU', totalCapacity: 8, unit: 'devices' },
        { resourceType: 'CPU', totalCapacity: 60, unit: 'cores' },
      ],
    });
    expect(node).toMatchObject({ hostname: 'gpu-a.test', nodeType: 'GPU', status: 'ACTIVE', gpuCount: 8, gpuType: 'H100', labels: { zone: 'a', accelerator: 'h100' } });
    expect(node.resources).toEqual([
      { resourceType: 'CPU', totalCapacity: 60, allocatedCapacity: 0, availableCapacity: 60, unit: 'cores' },
      { resourceType: 'GPU', totalCapacity: 8, allocatedCapacity: 0, availableCapacity: 8, unit: 'devices' },
    ]);
    const listed = await operator.request(ClusterNodesDocument, { first: 10 });
    expect(listed.errors).toBeUndefined();
    expect(listed.data!.nodes.edges.map((edge) => edge.node.id)).toContain(node.id);
  });

  it('derives resources from the totals when none are listed', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const node = await aRegisteredNode(operator, aComputeNode({ totalCpuCores: 32, totalMemoryGb: 128.5 }));
    expect(node.resources.map((r) => [r.resourceType, r.totalCapacity])).toEqual([
      ['CPU', 32],
      ['MEMORY', 128.5],
      ['STORAGE', 2048],
    ]);
  });

  it('returns null for an unknown node id', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const fetched = await operator.request(ClusterNodeDocument, { id: globalId('ClusterNode', '00000000-0000-4000-8000-000000000000') });
    expect(fetched.errors).toBeUndefined();
    expect(fetched.data!.node).toBeNull();
  });

  it('refuses invalid totals and resources with a typed error naming each field', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const result = await operator.request(RegisterNodeDocument, {
      input: aGpuNode({
        hostname: 'not a hostname!',
        ipAddress: '999.1.1.1',
        totalCpuCores: 0,
        resources: [
          { resourceType: 'GPU', totalCapacity: 8, unit: 'devices' },
          { resourceType: 'GPU', totalCapacity: -1, unit: 'devices' },
        ],
      }),
    });
    expect(expectResult(result, 'ValidationError').issues.map((issue) => issue.path).sort()).toEqual(
      ['hostname', 'ipAddress', 'resources.1.resourceType', 'resources.1.totalCapacity', 'totalCpuCores'].sort(),
    );
  });

  it('refuses bad interfaces and unknown regions with typed errors naming each field', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const result = await operator.request(RegisterNodeDocument, {
      input: aGpuNode({
        regionId: globalId('Region', '00000000-0000-4000-8000-000000000001'),
        interfaces: [
          aNetworkInterface({ interfaceName: 'eth0', macAddress: 'not-a-mac' }),
          aNetworkInterface({ interfaceName: 'eth0', speedMbps: 0 }),
        ],
      }),
    });
    const error = expectResult(result, 'ValidationError');
    expect(error.issues.map((issue) => issue.path).sort()).toEqual(['interfaces.0.macAddress', 'interfaces.1.interfaceName', 'interfaces.1.speedMbps']);

    const unknownRegion = await operator.request(RegisterNodeDocument, { input: aGpuNode({ regionId: globalId('Region', '00000000-0000-4000-8000-000000000001') }) });
    expect(expectResult(unknownRegion, 'ValidationError').issues).toEqual([{ path: 'regionId', message: 'no such region' }]);
  });

  it('filters nodes by status, type, region, GPU type, contained labels and heartbeat age, and orders them', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const a = await aRegisteredNode(operator, { hostname: 'a.test', gpuType: 'H100', labels: { zone: 'a', team: { name: 'ml', tier: 1 } }, regionId: regionIds[`east-${suffix}`] });
    const b = await aRegisteredNode(operator, { hostname: 'b.test', gpuType: 'A100', labels: { zone: 'a', team: { name: 'ml', tier: 2 } }, regionId: regionIds[`west-${suffix}`] });
    const c = await aRegisteredNode(operator, aComputeNode({ hostname: 'c.test', status: 'MAINTENANCE', labels: { zone: 'b' } }));
    await setHeartbeat(server, a.id, new Date(Date.now() - 3_600_000));

    const hostnames = async (variables: ClusterNodesQueryVariables) => {
      const result = await operator.request(ClusterNodesDocument, { first: 50, ...variables });
      expect(result.errors).toBeUndefined();
      return result.data!.nodes.edges.map((edge) => edge.node.hostname);
    };
    expect(await hostnames({ filter: { status: ['MAINTENANCE'] } })).toEqual(['c.test']);
    expect(await hostnames({ filter: { nodeType: ['GPU'] }, orderBy: { field: 'HOSTNAME', direction: 'ASC' } })).toEqual(['a.test', 'b.test']);
    expect(await hostnames({ filter: { regionId: regionIds[`west-${suffix}`] } })).toEqual(['b.test']);
    expect(await hostnames({ filter: { gpuType: ['H100'] } })).toEqual(['a.test']);
    expect(await hostnames({ filter: { labels: { team: { name: 'ml' } } }, orderBy: { field: 'HOSTNAME', direction: 'DESC' } })).toEqual(['b.test', 'a.test']);
    expect(await hostnames({ filter: { labels: { zone: 'a', team: { tier: 2 } } } })).toEqual(['b.test']);
    expect(await hostnames({ filter: { heartbeatAfter: new Date(Date.now() - 60_000).toISOString() }, orderBy: { field: 'HOSTNAME', direction: 'ASC' } })).toEqual(['b.test']);
    expect(await hostnames({ orderBy: { field: 'LAST_HEARTBEAT', direction: 'DESC' } })).toEqual(['b.test', 'a.test', 'c.test']);
    expect(await hostnames({ orderBy: { field: 'CREATED_AT', direction: 'ASC' } })).toEqual(['a.test', 'b.test', 'c.test']);

    const page = await operator.request(ClusterNodesDocument, { first: 2, orderBy: { field: 'HOSTNAME', direction: 'ASC' } });
    expect(page.data!.nodes.totalCount).toBe(3);
    expect(page.data!.nodes.pageInfo.hasNextPage).toBe(true);
    const rest = await operator.request(ClusterNodesDocument, { first: 2, after: page.data!.nodes.pageInfo.endCursor, orderBy: { field: 'HOSTNAME', direction: 'ASC' } });
    expect(rest.data!.nodes.edges.map((edge) => edge.node.id)).toEqual([c.id]);
    expect(rest.data!.nodes.pageInfo.hasNextPage).toBe(false);
    expect([a.id, b.id]).toEqual(page.data!.nodes.edges.map((edge) => edge.node.id));
  });

  it('updates descriptive fields and refuses what it must', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const node = await aRegisteredNode(operator, { regionId: regionIds[`east-${suffix}`] });
    const updated = await operator.request(UpdateNodeDocument, { id: node.id, input: { labels: { zone: 'c' }, regionId: null, pricePerHour: 3.25, gpuType: 'H200' } });
    expect(expectResult(updated, 'UpdateNodeSuccess').node).toMatchObject({ labels: { zone: 'c' }, region: null, pricePerHour: 3.25, gpuType: 'H200' });

    expect(expectResult(await operator.request(UpdateNodeDocument, { id: node.id, input: {} }), 'ValidationError').issues).toEqual([
      { path: '(input)', message: 'names no field to change' },
    ]);
    expect(expectResult(await operator.request(UpdateNodeDocument, { id: node.id, input: { ipAddress: '300.1.1.1' } }), 'ValidationError').issues[0]!.path).toBe('ipAddress');
    const missing = globalId('ClusterNode', '00000000-0000-4000-8000-000000000002');
    expect(expectResult(await operator.request(UpdateNodeDocument, { id: missing, input: { labels: {} } }), 'NotFoundError')).toMatchObject({ resource: 'Node' });
  });

  it('moves nodes between states, records each change and publishes it', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const node = await aRegisteredNode(operator);
    const listener =
      kind === 'postgres'
        ? await listenAsAnotherInstance('cluster.node.status_changed', operator.tenantId, {
            tenantId: operator.tenantId,
            nodeId: 'probe',
            previousStatus: 'probe',
            status: 'probe',
            at: new Date(0).toISOString(),
          })
        : undefined;
    try {
      expect(expectResult(await operator.request(SetNodeStatusDocument, { id: node.id, status: 'DRAINING' }), 'SetNodeStatusSuccess').node.status).toBe('DRAINING');
      expect(expectResult(await operator.request(SetNodeStatusDocument, { id: node.id, status: 'DRAINING' }), 'SetNodeStatusSuccess').node.status).toBe('DRAINING');
      expect(expectResult(await operator.request(SetNodeStatusDocument, { id: node.id, status: 'MAINTENANCE' }), 'SetNodeStatusSuccess').node.status).toBe('MAINTENANCE');
      expect(expectResult(await operator.request(SetNodeStatusDocument, { id: node.id, status: 'FAILED' }), 'ValidationError').issues).toEqual([
        { path: 'status', message: 'must be one of active, inactive, draining, maintenance' },
      ]);
      const missing = globalId('ClusterNode', '00000000-0000-4000-8000-000000000003');
      expect(expectResult(await operator.request(SetNodeStatusDocument, { id: missing, status: 'ACTIVE' }), 'NotFoundError').resource).toBe('Node');

      const events = await systemEvents(server, operator.tenantId, 'node.status_changed');
      expect(events.map((event) => [event.severity, event.details])).toEqual([
        ['warning', { nodeId: rawId(node.id), previousStatus: 'active', status: 'draining' }],
        ['warning', { nodeId: rawId(node.id), previousStatus: 'draining', status: 'maintenance' }],
      ]);
      if (listener) {
        const published = await listener.waitFor((event) => event.nodeId === rawId(node.id), 2);
        expect(published.map((event) => [event.tenantId, event.previousStatus, event.status])).toEqual([
          [operator.tenantId, 'active', 'draining'],
          [operator.tenantId, 'draining', 'maintenance'],
        ]);
      }
    } finally {
      await listener?.close();
    }
  });

  it('refuses to deregister a node while a session holds resources on it, then deregisters it', async () => {
    const operator = await server.signIn({ role: 'operator' });
    const node = await aRegisteredNode(operator, aComputeNode());
    const session = await aPendingSession(operator);
    expectResult(await operator.request(ScheduleSessionDocument, { id: session.id }), 'ScheduleSessionSuccess');

    const refused = expectResult(await operator.request(DeregisterNodeDocument, { id: node.id }), 'ResourceInUseError');
    expect(refused).toMatchObject({ resource: 'Node', usedBy: 'sessions', count: 1 });

    expectResult(await operator.request(TransitionSessionDocument, { id: session.id, status: 'CANCELLED' }), 'TransitionSessionSuccess');
    expect(expectResult(await operator.request(DeregisterNodeDocument, { id: node.id }), 'DeregisterNodeSuccess').deregisteredId).toBe(node.id);
    expect((await operator.request(ClusterNodeDocument, { id: node.id })).data!.node).toBeNull();
    expect(expectResult(await operator.request(DeregisterNodeDocument, { id: node.id }), 'NotFoundError').resource).toBe('Node');
    expect((await systemEvents(server, operator.tenantId, 'node.deregistered')).map((e) => e.details)).toEqual([{ nodeId: rawId(node.id), hostname: node.hostname }]);
  });

  it('lists available nodes as get_available_nodes does: active, recent heartbeat, enough free capacity, best fit first', async () => {
    const operator = await server.signIn({ role: 'operator' });
    await aRegisteredNode(operator, aComputeNode({ hostname: 'big.test', totalCpuCores: 64, totalMemoryGb: 256 }));
    const small = await aRegisteredNode(operator, aComputeNode({ hostname: 'small.test', totalCpuCores: 16, totalMemoryGb: 64 }));
    await aRegisteredNode(operator, aComputeNode({ hostname: 'tiny.test', totalCpuCores: 4, totalMemoryGb: 16 }));
    await aRegisteredNode(operator, { hostname: 'gpu.test', gpuType: 'H100', labels: { zone: 'a', accelerator: 'h100' } });
    await aRegisteredNode(operator, aComputeNode({ hostname: 'drained.test', status: 'DRAINING' }));
    const stale = await aRegisteredNode(operator, aComputeNode({ hostname: 'stale.test' }));
    await setHeartbeat(server, stale.id, new Date(Date.now() - 120_000));

    const available = async (variables: AvailableNodesQueryVariables) =>
      (await operator.request(AvailableNodesDocument, variables)).data!.availableNodes.edges.map((edge) => edge.node.node.hostname);
    // Work without GPUs goes to GPU-less nodes first, then the tightest fit.
    expect(await available({ cpu: 8, memoryGb: 32 })).toEqual(['small.test', 'big.test', 'gpu.test']);
    expect(await available({ cpu: 2, memoryGb: 4 })).toEqual(['tiny.test', 'small.test', 'big.test', 'gpu.test']);
    expect(await available({ cpu: 8, memoryGb: 32, gpuCount: 2, gpuType: 'H100' })).toEqual(['gpu.test']);
    expect(await available({ cpu: 1, memoryGb: 1, gpuCount: 1, gpuType: 'A100' })).toEqual([]);
    expect(await available({ cpu: 1, memoryGb: 1, labels: { zone: 'a' } })).toEqual(['gpu.test']);
    const first = (await operator.request(AvailableNodesDocument, { cpu: 8, memoryGb: 32 })).data!.availableNodes.edges[0]!.node;
    expect(first).toEqual({ freeCpu: 16, freeMemoryGb: 64, freeGpus: 0, freeStorageGb: 2048, node: { id: small.id, hostname: 'small.test' } });
  });

  it('lists regions with filters', async () => {
    const operator = await server.signIn({ role: 'readonly' });
    const codes = async (filter?: RegionFilter) =>
      (await operator.request(RegionsDocument, { filter })).data!.regions.edges.map((edge) => edge.node.code).filter((code) => code.endsWith(suffix));
    expect(await codes()).toEqual([`east-${suffix}`, `north-${suffix}`, `west-${suffix}`]);
    expect(await codes({ provider: 'aws' })).toEqual([`east-${suffix}`, `north-${suffix}`]);
    expect(await codes({ status: ['OFFLINE'] })).toEqual([`north-${suffix}`]);
  });

  it("keeps each tenant's nodes to itself", async () => {
    const owner = await server.signIn({ role: 'operator' });
    const stranger = await server.signIn({ role: 'admin' });
    const node = await aRegisteredNode(owner, { labels: { secret: 'yes' } });

    expect((await stranger.request(ClusterNodeDocument, { id: node.id })).data!.node).toBeNull();
    expect((await stranger.request(ClusterNodesDocument, { first: 50, filter: { labels: { secret: 'yes' } } })).data!.nodes.edges).toEqual([]);
    expect((await stranger.request(AvailableNodesDocument, { cpu: 1, memoryGb: 1 })).data!.availableNodes.edges).toEqual([]);
    expect(expectResult(await stranger.request(UpdateNodeDocument, { id: node.id, input: { labels: {} } }), 'NotFoundError').resource).toBe('Node');
    expect(expectResult(await stranger.request(SetNodeStatusDocument, { id: node.id, status: 'DRAINING' }), 'NotFoundError').resource).toBe('Node');
    expect(expectResult(await stranger.request(DeregisterNodeDocument, { id: node.id }), 'NotFoundError').resource).toBe('Node');
    expect((await owner.request(ClusterNodeDocument, { id: node.id })).data!.node).toMatchObject({ status: 'ACTIVE', labels: { secret: 'yes' } });
  });

  it('serves the same operations over graphql-ws', async () => {
    const operator = await server.signIn({ role: 'operator' });
    await aRegisteredNode(operator);
    const result = await operator.requestOverWebSocket(ClusterNodesDocument, { first: 1 });
    expect(result.errors).toBeUndefined();
    expect(result.data!.nodes.edges).toHaveLength(1);
  });

  it('answers health and readiness probes', async () => {
    expect((await server.get('/healthz')).status).toBe(200);
    expect((await server.get('/readyz')).status).toBe(200);
  });

  it('lets only cluster writers change nodes', async () => {
    const reader = await server.signIn({ role: 'user' });
    const result = await reader.request(RegisterNodeDocument, { input: aGpuNode() });
    expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
