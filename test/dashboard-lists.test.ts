import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClusterNodesDocument,
  NodeCountsDocument,
  OrderedSystemEventsDocument,
  RecordSystemEventDocument,
  SessionCountsDocument,
  SessionsDocument,
  SystemEventCountsDocument,
  type ClusterNodesQueryVariables,
  type SessionsQueryVariables,
} from './generated/graphql.js';
import { aComputeNode, aPendingSession, aRegisteredNode, globalId } from './helpers/builders.js';
import { everyPage } from './helpers/list-paging.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { expectResult, startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

describe.each(kinds)('dashboard lists: filters, orders, counts and refused arguments, on %s', (kind) => {
  let server: TestServer;
  let admin: SignedInUser;

  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false });
    admin = await server.signIn({ role: 'admin' });
    await aRegisteredNode(admin, { hostname: 'gpu-a1.rack', gpuCount: 8, labels: { zone: 'a', team: { name: 'ml' } } });
    await aRegisteredNode(admin, { hostname: 'gpu-b2.rack', gpuCount: 4, gpuType: 'A100', labels: { zone: 'b' } });
    await aRegisteredNode(admin, { hostname: 'gpu-c3.rack', gpuCount: 2, status: 'MAINTENANCE', labels: { zone: 'a' } });
    for (let index = 0; index < 4; index += 1) await aRegisteredNode(admin, aComputeNode({ hostname: `cpu-${index}.rack` }));
  });
  afterAll(async () => {
    await server?.close();
  });

  const nodeNames = async (variables: ClusterNodesQueryVariables) => {
    const result = await admin.request(ClusterNodesDocument, { first: 50, orderBy: [{ field: 'HOSTNAME', direction: 'ASC' }], ...variables });
    expect(result.errors).toBeUndefined();
    return result.data!.nodes.edges.map((edge) => edge.node.hostname);
  };

  it('searches text ignoring case, with % and _ matching only themselves', async () => {
    expect(await nodeNames({ filter: { hostname: 'GPU' } })).toEqual(['gpu-a1.rack', 'gpu-b2.rack', 'gpu-c3.rack']);
    expect(await nodeNames({ filter: { hostname: 'C3.R' } })).toEqual(['gpu-c3.rack']);
    for (const sessionName of ['load-100%', 'load_b', 'loadXb', 'load\\x']) await aPendingSession(admin, { sessionName });
    const names = async (search: string) => {
      const result = await admin.request(SessionsDocument, { first: 50, filter: { sessionName: search }, orderBy: [{ field: 'SESSION_NAME', direction: 'ASC' }] });
      expect(result.errors).toBeUndefined();
      return result.data!.sessions.edges.map((edge) => edge.node.sessionName).sort();
    };
    expect(await names('load')).toEqual(['load-100%', 'load\\x', 'loadXb', 'load_b'].sort());
    expect(await names('_')).toEqual(['load_b']);
    expect(await names('D_B')).toEqual(['load_b']);
    expect(await names('%')).toEqual(['load-100%']);
    expect(await names('\\')).toEqual(['load\\x']);
  });

  it('composes conditions with and, or and not, and checks ranges and JSON containment', async () => {
    expect(await nodeNames({ filter: { or: [{ status: ['MAINTENANCE'] }, { gpuType: ['A100'] }] } })).toEqual(['gpu-b2.rack', 'gpu-c3.rack']);
    expect(await nodeNames({ filter: { nodeType: ['GPU'], not: { status: ['MAINTENANCE'] } } })).toEqual(['gpu-a1.rack', 'gpu-b2.rack']);
    expect(await nodeNames({ filter: { and: [{ minGpuCount: 3 }, { or: [{ labels: { zone: 'b' } }, { labels: { team: { name: 'ml' } } }] }] } })).toEqual([
      'gpu-a1.rack',
      'gpu-b2.rack',
    ]);
    expect(await nodeNames({ filter: { minGpuCount: 4, not: { minGpuCount: 8 } } })).toEqual(['gpu-b2.rack']);
    // Rows without a value are not excluded by a not: the CPU nodes have no GPU type.
    const cpuNodes = ['cpu-0.rack', 'cpu-1.rack', 'cpu-2.rack', 'cpu-3.rack'];
    expect(await nodeNames({ filter: { not: { gpuType: ['A100'] } } })).toEqual([...cpuNodes, 'gpu-a1.rack', 'gpu-c3.rack']);
    expect(await nodeNames({ filter: { not: { or: [{ gpuType: ['A100'] }, { status: ['MAINTENANCE'] }] } } })).toEqual([...cpuNodes, 'gpu-a1.rack']);
    expect(await nodeNames({ filter: { not: { not: { gpuType: ['A100', 'H100'] } } } })).toEqual(['gpu-a1.rack', 'gpu-b2.rack', 'gpu-c3.rack']);
    expect(await nodeNames({ filter: { createdFrom: new Date(Date.now() + 60_000).toISOString() } })).toEqual([]);
    expect(await nodeNames({ filter: { labels: { zone: 'a' }, nodeType: ['GPU'] } })).toEqual(['gpu-a1.rack', 'gpu-c3.rack']);
  });

  it('pages through rows with equal sort keys without repeating or skipping one, and counts them', async () => {
    const all = await admin.request(ClusterNodesDocument, { first: 50, orderBy: [{ field: 'STATUS', direction: 'ASC' }] });
    const seen = (
      await everyPage(async (after) => {
        const page = await admin.request(ClusterNodesDocument, { first: 2, after, orderBy: [{ field: 'STATUS', direction: 'ASC' }] });
        expect(page.errors).toBeUndefined();
        expect(page.data!.nodes.totalCount).toBe(7);
        return page.data!.nodes;
      })
    ).map((node) => node.id);
    expect(seen).toEqual(all.data!.nodes.edges.map((edge) => edge.node.id));
    expect(new Set(seen).size).toBe(7);
    const filtered = await admin.request(ClusterNodesDocument, { first: 1, filter: { nodeType: ['COMPUTE'] } });
    expect(filtered.data!.nodes.totalCount).toBe(4);
  });

  it('counts nodes and sessions by a field, under the same filter', async () => {
    const byStatus = await admin.request(NodeCountsDocument, { by: 'STATUS' });
    expect(byStatus.errors).toBeUndefined();
    expect(byStatus.data!.nodeCounts).toEqual([
      { key: 'ACTIVE', count: 6 },
      { key: 'MAINTENANCE', count: 1 },
    ]);
    const byType = await admin.request(NodeCountsDocument, { by: 'NODE_TYPE', filter: { status: ['ACTIVE'] } });
    expect(byType.data!.nodeCounts).toEqual([
      { key: 'COMPUTE', count: 4 },
      { key: 'GPU', count: 2 },
    ]);

    await aPendingSession(admin, { sessionName: 'train-100%', priority: 5 });
    await aPendingSession(admin, { sessionName: 'train_b', priority: 2, sessionType: 'INTERACTIVE' });
    const bySessionType = await admin.request(SessionCountsDocument, { by: 'SESSION_TYPE', filter: { sessionName: 'train' } });
    expect(bySessionType.data!.sessionCounts).toEqual([
      { key: 'BATCH', count: 1 },
      { key: 'INTERACTIVE', count: 1 },
    ]);
    const byUser = await admin.request(SessionCountsDocument, { by: 'USER', filter: { sessionName: 'train-100%' } });
    expect(byUser.data!.sessionCounts).toEqual([{ key: admin.userId, count: 1 }]);
  });

  it('filters sessions by user, priority range and name, ordered by priority then age', async () => {
    const names = async (variables: SessionsQueryVariables) => {
      const result = await admin.request(SessionsDocument, { first: 50, ...variables });
      expect(result.errors).toBeUndefined();
      return result.data!.sessions.edges.map((edge) => edge.node.sessionName);
    };
    await aPendingSession(admin, { sessionName: 'eval-a', priority: 5 });
    expect(await names({ filter: { sessionName: 'train', userIdIn: [admin.userId] }, orderBy: [{ field: 'PRIORITY', direction: 'DESC' }] })).toEqual([
      'train-100%',
      'train_b',
    ]);
    expect(await names({ filter: { sessionName: 'train' }, orderBy: [{ field: 'STARTED_AT' }] })).toHaveLength(2);
    expect(await names({ filter: { minPriority: 5, maxPriority: 5 }, orderBy: [{ field: 'PRIORITY' }, { field: 'CREATED_AT', direction: 'ASC' }] })).toEqual([
      'train-100%',
      'eval-a',
    ]);
  });

  it('orders events of one second by their write order and counts them by severity', async () => {
    for (const [message, severity] of [['e1', 'INFO'], ['e2', 'ERROR'], ['e3', 'INFO']] as const) {
      expectResult(await admin.request(RecordSystemEventDocument, { input: { eventType: 'probe.lists', severity, sourceComponent: 'lists', message } }), 'RecordSystemEventSuccess');
    }
    const events = await admin.request(OrderedSystemEventsDocument, { first: 10, filter: { eventTypeIn: ['probe.lists'] }, orderBy: [{ field: 'SEVERITY', direction: 'DESC' }] });
    expect(events.errors).toBeUndefined();
    expect(events.data!.systemEvents.totalCount).toBe(3);
    expect(events.data!.systemEvents.edges.map((edge) => edge.node.message)).toEqual(['e3', 'e1', 'e2']);
    const counts = await admin.request(SystemEventCountsDocument, { by: 'SEVERITY', filter: { message: 'e', eventType: 'probe.lists' } });
    expect(counts.data!.systemEventCounts).toEqual([
      { key: 'INFO', count: 2 },
      { key: 'ERROR', count: 1 },
    ]);
  });

  it('refuses malformed ids, ids of another type, reversed ranges and deep nesting with a typed error naming the argument', async () => {
    const refused = async (result: Promise<{ errors?: readonly { extensions?: Record<string, unknown>; message: string }[] }>, path: string) => {
      const { errors } = await result;
      expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(JSON.stringify(errors)).toContain(path);
    };
    await refused(admin.request(SessionsDocument, { first: 5, filter: { userId: 'x' } }), 'filter.userId');
    await refused(admin.request(SessionsDocument, { first: 5, filter: { userIdIn: [admin.userId, 'nope'] } }), 'filter.userIdIn.1');
    await refused(admin.request(SessionsDocument, { first: 5, filter: { nodeId: globalId('Session', admin.userId) } }), 'nodeId');
    await refused(
      admin.request(SessionsDocument, { first: 5, filter: { createdAfter: '2026-02-01T00:00:00Z', createdBefore: '2026-01-01T00:00:00Z' } }),
      'filter.createdBefore',
    );
    await refused(admin.request(ClusterNodesDocument, { first: 5, filter: { labels: [1, 2] } }), 'filter.labels');
    const deep = { not: { not: { not: { not: { not: { not: { status: ['ACTIVE' as const] } } } } } } };
    await refused(admin.request(ClusterNodesDocument, { first: 5, filter: deep }), 'filter.not.not.not.not.not');
    await refused(admin.request(ClusterNodesDocument, { first: 5, after: 'junk' }), 'cursor');
  });
});

