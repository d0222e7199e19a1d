import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeByIdDocument, NodesDocument, RegisterNodeDocument } from './generated/graphql.js';
import { aComputeNode, aGpuNode } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

describe.each(kinds)('nodes over HTTP on %s', (kind) => {
  let server: TestServer;
  let admin: SignedInUser;
  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = await server.signIn({ role: 'operator' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('registers a node with its resources, then lists and fetches it', async () => {
    const registered = await admin.request(RegisterNodeDocument, {
      input: aGpuNode({
        hostname: 'gpu-a.test',
        resources: [
          { resourceType: 'GPU', totalCapacity: 8, unit: 'devices' },
          { resourceType: 'CPU', totalCapacity: 60, unit: 'cores' },
        ],
      }),
    });
    expect(registered.errors).toBeUndefined();
    const result = registered.data!.registerNode;
    expect(result.__typename).toBe('RegisterNodeSuccess');
    if (result.__typename !== 'RegisterNodeSuccess') throw new Error('unreachable');
    expect(result.node).toMatchObject({ hostname: 'gpu-a.test', nodeType: 'GPU', status: 'ACTIVE', gpuCount: 8, gpuType: 'H100' });
    expect(result.node.resources).toEqual([
      { resourceType: 'CPU', totalCapacity: 60, allocatedCapacity: 0, availableCapacity: 60, unit: 'cores' },
      { resourceType: 'GPU', totalCapacity: 8, allocatedCapacity: 0, availableCapacity: 8, unit: 'devices' },
    ]);

    const listed = await admin.request(NodesDocument, { first: 10 });
    expect(listed.errors).toBeUndefined();
    expect(listed.data!.nodes.edges.map((edge) => edge.node.id)).toContain(result.node.id);

    const fetched = await admin.request(NodeByIdDocument, { id: result.node.id });
    expect(fetched.data!.node).toMatchObject({ id: result.node.id, hostname: 'gpu-a.test', labels: { zone: 'a', accelerator: 'h100' } });
  });

  it('derives resources from the totals when none are listed', async () => {
    const registered = await admin.request(RegisterNodeDocument, { input: aComputeNode({ totalCpuCores: 32, totalMemoryGb: 128.5 }) });
    const result = registered.data!.registerNode;
    if (result.__typename !== 'RegisterNodeSuccess') throw new Error(`unexpected ${result.__typename}`);
    expect(result.node.resources.map((r) => [r.resourceType, r.totalCapacity])).toEqual([
      ['CPU', 32],
      ['MEMORY', 128.5],
      ['STORAGE', 2048],
    ]);
  });

  it('refuses invalid input with a typed error naming each field', async () => {
    const registered = await admin.request(RegisterNodeDocument, {
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
    expect(registered.errors).toBeUndefined();
    const result = registered.data!.registerNode;
    if (result.__typename !== 'ValidationError') throw new Error(`unexpected ${result.__typename}`);
    expect(result.issues.map((issue) => issue.path).sort()).toEqual(
      ['hostname', 'ipAddress', 'resources.1.resourceType', 'resources.1.totalCapacity', 'totalCpuCores'].sort(),
    );
  });

  it('filters by status and paginates with cursors', async () => {
    for (let i = 0; i < 3; i += 1) {
      await admin.request(RegisterNodeDocument, { input: aComputeNode({ status: 'MAINTENANCE', hostname: `maint-${i}.test` }) });
    }
    const firstPage = await admin.request(NodesDocument, { first: 2, filter: { status: ['MAINTENANCE'] } });
    expect(firstPage.data!.nodes.edges).toHaveLength(2);
    expect(firstPage.data!.nodes.pageInfo.hasNextPage).toBe(true);
    const secondPage = await admin.request(NodesDocument, {
      first: 2,
      after: firstPage.data!.nodes.pageInfo.endCursor,
      filter: { status: ['MAINTENANCE'] },
    });
    const hostnames = [...firstPage.data!.nodes.edges, ...secondPage.data!.nodes.edges].map((edge) => edge.node.hostname);
    expect(hostnames.sort()).toEqual(['maint-0.test', 'maint-1.test', 'maint-2.test']);
    expect(secondPage.data!.nodes.pageInfo.hasNextPage).toBe(false);
    expect([...hostnames].every((h) => h.startsWith('maint-'))).toBe(true);
  });

  it('returns null for an unknown node id', async () => {
    const fetched = await admin.request(NodeByIdDocument, { id: Buffer.from('ClusterNode:00000000-0000-4000-8000-000000000000').toString('base64') });
    expect(fetched.errors).toBeUndefined();
    expect(fetched.data!.node).toBeNull();
  });

  it('serves the same operations over graphql-ws', async () => {
    const result = await admin.requestOverWebSocket(NodesDocument, { first: 1 });
    expect(result.errors).toBeUndefined();
    expect(result.data!.nodes.edges).toHaveLength(1);
  });

  it('answers health and readiness probes', async () => {
    expect((await server.get('/healthz')).status).toBe(200);
    const ready = await server.get('/readyz');
    expect(ready.status).toBe(200);
  });
});
