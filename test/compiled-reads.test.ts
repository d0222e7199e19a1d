import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompiledNodesDocument,
  CompiledSessionsDocument,
  CompiledSystemEventsDocument,
  PrismaNodesDocument,
  PrismaSessionsDocument,
  PrismaSystemEventsDocument,
  RecordSystemEventDocument,
  ResolveEventDocument,
  ScheduleSessionDocument,
} from './generated/graphql.js';
import { aComputeNode, aPendingSession, aRegisteredNode } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { expectResult, startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

/** A page's data without the one field that sent the read through Prisma. */
function withoutField<T extends { edges: { node: object }[] }>(page: T, field: string): T {
  return { ...page, edges: page.edges.map((edge) => ({ ...edge, node: Object.fromEntries(Object.entries(edge.node).filter(([key]) => key !== field)) })) };
}

describe.each(kinds)('list pages read in one statement answer as the Prisma reads do, on %s', (kind) => {
  let server: TestServer;
  let operator: SignedInUser;

  /** List pages of a type this process read so far, compiled and through the ORM, from /metrics. */
  const listReads = async (type: string) => {
    const text = await (await fetch(new URL('/metrics', server.url))).text();
    const count = (outcome: string) => Number(new RegExp(`^omega_list_reads_total\\{type="${type}",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    return { compiled: count('compiled'), fallback: count('fallback') };
  };

  beforeAll(async () => {
    // No background jobs: a liveness sweep between the two reads of a pair would change what they compare.
    server = await startTestServer(kind, { jobsEnabled: false });
    operator = await server.signIn({ role: 'admin' });
    await aRegisteredNode(operator, { pricePerHour: 12.3456, osVersion: 'Ubuntu 24.04' });
    await aRegisteredNode(operator, { status: 'DRAINING', labels: { zone: 'c', "it's": 'quoted "too"' } });
    await aRegisteredNode(operator, aComputeNode({ status: 'MAINTENANCE' }));
    for (const cpuRequest of [1.25, 2, 3.5]) {
      const session = await aPendingSession(operator, { cpuRequest, cpuLimit: cpuRequest * 2, environmentVariables: { MODE: 'x' } });
      if (cpuRequest !== 2) expectResult(await operator.request(ScheduleSessionDocument, { id: session.id }), 'ScheduleSessionSuccess');
    }
    for (const [message, severity] of [['first', 'INFO'], ['second', 'ERROR'], ['third', 'CRITICAL']] as const) {
      expectResult(
        await operator.request(RecordSystemEventDocument, { input: { eventType: 'probe', severity, sourceComponent: 'compiled-reads', message, details: { n: message } } }),
        'RecordSystemEventSuccess',
      );
    }
  });
  afterAll(async () => {
    await server?.close();
  });

  it('nodes with their resources: every field, aliases and fragments, filters, orders and page ends alike', async () => {
    for (const variables of [{ first: 10 }, { first: 2 }, { first: 10, orderBy: { field: 'HOSTNAME' as const, direction: 'ASC' as const } }, { first: 10, filter: { status: ['ACTIVE' as const, 'DRAINING' as const] } }]) {
      const compiled = await operator.request(CompiledNodesDocument, variables);
      const prisma = await operator.request(PrismaNodesDocument, variables);
      expect(compiled.errors).toBeUndefined();
      expect(compiled.data!.nodes.edges.length).toBeGreaterThan(0);
      expect(compiled.data!.nodes.edges[0]!.node.resources.length).toBeGreaterThan(0);
      expect(compiled.data!.nodes).toEqual(withoutField(prisma.data!.nodes, 'region'));
    }
  });

  it('cursors of a compiled page continue where that page ended', async () => {
    const all = (await operator.request(CompiledNodesDocument, { first: 3 })).data!.nodes.edges.map((edge) => edge.node.id);
    const first = (await operator.request(CompiledNodesDocument, { first: 1 })).data!.nodes;
    const rest = (await operator.request(CompiledNodesDocument, { first: 2, after: first.pageInfo.endCursor })).data!.nodes;
    expect([...first.edges, ...rest.edges].map((edge) => edge.node.id)).toEqual(all);

    const filter = { sourceComponent: 'compiled-reads' };
    const events = (await operator.request(CompiledSystemEventsDocument, { first: 1, filter })).data!.systemEvents;
    const older = (await operator.request(CompiledSystemEventsDocument, { first: 5, after: events.pageInfo.endCursor, filter })).data!.systemEvents;
    expect([...events.edges, ...older.edges].map((edge) => edge.node.message)).toEqual(['third', 'second', 'first']);
  });

  it('pages after and before a cursor alike, forwards and backwards, nulls and ties included', async () => {
    const before = await listReads('ClusterNode');
    await operator.request(CompiledNodesDocument, { last: 1, before: (await operator.request(CompiledNodesDocument, { first: 1 })).data!.nodes.pageInfo.endCursor });
    // Both pages, the second one before a cursor, were read in one statement each.
    expect(await listReads('ClusterNode')).toEqual({ compiled: before.compiled + 2, fallback: before.fallback });
    const orders = [undefined, { field: 'HOSTNAME' as const, direction: 'ASC' as const }, { field: 'LAST_HEARTBEAT' as const }, { field: 'STATUS' as const, direction: 'ASC' as const }];
    for (const orderBy of orders) {
      const whole = (await operator.request(CompiledNodesDocument, { first: 10, orderBy })).data!.nodes.edges;
      expect(whole.length).toBe(3);
      for (const [index, edge] of whole.entries()) {
        const pages = [
          { variables: { first: 1, after: edge.cursor, orderBy }, expected: whole.slice(index + 1, index + 2) },
          { variables: { first: 5, after: edge.cursor, orderBy }, expected: whole.slice(index + 1) },
          { variables: { last: 1, before: edge.cursor, orderBy }, expected: whole.slice(Math.max(0, index - 1), index) },
          { variables: { last: 5, before: edge.cursor, orderBy }, expected: whole.slice(0, index) },
        ];
        for (const { variables, expected } of pages) {
          const compiled = await operator.request(CompiledNodesDocument, variables);
          const prisma = await operator.request(PrismaNodesDocument, variables);
          expect(compiled.errors).toBeUndefined();
          expect(compiled.data!.nodes).toEqual(withoutField(prisma.data!.nodes, 'region'));
          expect(compiled.data!.nodes.edges.map((e) => e.node.id)).toEqual(expected.map((e) => e.node.id));
        }
      }
      const last = await operator.request(CompiledNodesDocument, { last: 2, orderBy });
      expect(last.data!.nodes).toEqual(withoutField((await operator.request(PrismaNodesDocument, { last: 2, orderBy })).data!.nodes, 'region'));
    }
    const filter = { sourceComponent: 'compiled-reads' };
    const events = (await operator.request(CompiledSystemEventsDocument, { first: 10, filter })).data!.systemEvents.edges;
    const eventPages = [
      { variables: { first: 2, after: events[0]!.cursor, filter }, expected: ['second', 'first'] },
      { variables: { last: 2, before: events[2]!.cursor, filter }, expected: ['third', 'second'] },
    ];
    for (const { variables, expected } of eventPages) {
      const compiled = await operator.request(CompiledSystemEventsDocument, variables);
      expect(compiled.data!.systemEvents).toEqual(withoutField((await operator.request(PrismaSystemEventsDocument, variables)).data!.systemEvents, 'sourceNode'));
      expect(compiled.data!.systemEvents.edges.map((e) => e.node.message)).toEqual(expected);
    }
    const sessions = (await operator.request(CompiledSessionsDocument, { first: 10, orderBy: { field: 'PRIORITY' } })).data!.sessions.edges;
    const afterFirst = { first: 5, after: sessions[0]!.cursor, orderBy: { field: 'PRIORITY' as const } };
    expect((await operator.request(CompiledSessionsDocument, afterFirst)).data!.sessions).toEqual(
      withoutField((await operator.request(PrismaSessionsDocument, afterFirst)).data!.sessions, 'user'),
    );
  });

  it('sessions with their allocations alike, on every order', async () => {
    for (const variables of [{ first: 10 }, { first: 2 }, { first: 10, orderBy: { field: 'PRIORITY' as const } }, { first: 10, filter: { status: ['SCHEDULED' as const] } }]) {
      const compiled = await operator.request(CompiledSessionsDocument, variables);
      const prisma = await operator.request(PrismaSessionsDocument, variables);
      expect(compiled.errors).toBeUndefined();
      expect(compiled.data!.sessions.edges.length).toBeGreaterThan(0);
      expect(compiled.data!.sessions).toEqual(withoutField(prisma.data!.sessions, 'user'));
    }
    const scheduled = (await operator.request(CompiledSessionsDocument, { first: 10, filter: { status: ['SCHEDULED'] } })).data!.sessions.edges;
    expect(scheduled.every((edge) => edge.node.allocations.length > 0)).toBe(true);
  });

  it('system events alike, and their IDs resolve the events they name', async () => {
    const filter = { sourceComponent: 'compiled-reads' };
    const page = (await operator.request(CompiledSystemEventsDocument, { first: 10, filter })).data!.systemEvents;
    expect(page.edges.map((edge) => edge.node.message)).toEqual(['third', 'second', 'first']);
    expectResult(await operator.request(ResolveEventDocument, { id: page.edges[1]!.node.id }), 'ResolveEventSuccess');
    for (const variables of [{ first: 10, filter }, { first: 2, filter }, { first: 10, filter: { ...filter, resolved: true } }]) {
      const compiled = await operator.request(CompiledSystemEventsDocument, variables);
      const prisma = await operator.request(PrismaSystemEventsDocument, variables);
      expect(compiled.errors).toBeUndefined();
      expect(compiled.data!.systemEvents).toEqual(withoutField(prisma.data!.systemEvents, 'sourceNode'));
    }
    const resolved = (await operator.request(CompiledSystemEventsDocument, { first: 10, filter: { ...filter, resolved: true } })).data!.systemEvents.edges;
    expect(resolved.map((edge) => [edge.node.message, edge.node.resolvedByUserId])).toEqual([['second', expect.any(String)]]);
  });
});
