import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordSystemEventDocument, ResolveEventDocument, SystemEventsDocument, type RecordSystemEventInput } from './generated/graphql.js';
import { aRunningSession, aRegisteredNode, globalId } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const PROBE = 'event-probe';
const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

describe.each(kinds)('system events over HTTP on %s', (kind) => {
  let server: TestServer;
  let operator: SignedInUser;
  let nodeId: string;
  let sessionId: string;

  const record = async (input: Partial<RecordSystemEventInput>, as: SignedInUser = operator) => {
    const result = await as.request(RecordSystemEventDocument, {
      input: { eventType: 'node.heartbeat_missed', severity: 'WARNING', sourceComponent: PROBE, message: 'no heartbeat for 30s', ...input },
    });
    const outcome = result.data?.recordSystemEvent;
    if (outcome?.__typename !== 'RecordSystemEventSuccess') throw new Error(`event not recorded: ${JSON.stringify(result)}`);
    return outcome.event;
  };
  // Other modules record events too (a node's registration, say); these tests read their own.
  const list = async (filter: Record<string, unknown> = {}, as: SignedInUser = operator) =>
    (await as.request(SystemEventsDocument, { first: 50, filter: { sourceComponent: PROBE, ...filter } })).data!.systemEvents.edges.map((edge) => edge.node.message);

  beforeAll(async () => {
    server = await startTestServer(kind);
    operator = await server.signIn({ role: 'operator' });
    nodeId = (await aRegisteredNode(operator)).id;
    sessionId = globalId('Session', await aRunningSession(server.db.system, operator.tenantId, operator.userId));
    await record({ message: 'e1', severity: 'INFO', eventType: 'node.registered', sourceNodeId: nodeId, timestamp: minutesAgo(50) });
    await record({ message: 'e2', severity: 'ERROR', eventType: 'session.failed', sessionId, timestamp: minutesAgo(40) });
    await record({ message: 'e3', severity: 'CRITICAL', eventType: 'node.failed', sourceNodeId: nodeId, timestamp: minutesAgo(30), details: { gpu: 3 } });
    await record({ message: 'e4', severity: 'WARNING', timestamp: minutesAgo(20) });
    await record({ message: 'e5', severity: 'ERROR', eventType: 'node.failed', sourceNodeId: nodeId, timestamp: minutesAgo(10) });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('lists events newest first and filters by severity, type, node, session and time range', async () => {
    expect(await list()).toEqual(['e5', 'e4', 'e3', 'e2', 'e1']);
    expect(await list({ severity: ['ERROR', 'CRITICAL'] })).toEqual(['e5', 'e3', 'e2']);
    expect(await list({ eventType: 'node.failed' })).toEqual(['e5', 'e3']);
    expect(await list({ nodeId })).toEqual(['e5', 'e3', 'e1']);
    expect(await list({ sessionId })).toEqual(['e2']);
    expect(await list({ from: minutesAgo(45), to: minutesAgo(15) })).toEqual(['e4', 'e3', 'e2']);
    expect(await list({ severity: ['ERROR'], nodeId })).toEqual(['e5']);
  });

  it('pages through events with cursors', async () => {
    const filter = { sourceComponent: PROBE };
    const first = (await operator.request(SystemEventsDocument, { first: 2, filter })).data!.systemEvents;
    expect(first.edges.map((e) => e.node.message)).toEqual(['e5', 'e4']);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = (await operator.request(SystemEventsDocument, { first: 2, after: first.pageInfo.endCursor, filter })).data!.systemEvents;
    expect(second.edges.map((e) => e.node.message)).toEqual(['e3', 'e2']);
    const third = (await operator.request(SystemEventsDocument, { first: 2, after: second.pageInfo.endCursor, filter })).data!.systemEvents;
    expect(third.edges.map((e) => e.node.message)).toEqual(['e1']);
    expect(third.pageInfo.hasNextPage).toBe(false);
  });

  it('records who resolved an event and when, once', async () => {
    const event = await record({ message: 'to resolve', severity: 'ERROR' });
    const before = Date.now();
    const resolved = await operator.request(ResolveEventDocument, { id: event.id });
    const outcome = resolved.data!.resolveEvent;
    if (outcome.__typename !== 'ResolveEventSuccess') throw new Error(`unexpected ${outcome.__typename}`);
    expect(outcome.event.resolvedByUserId).toBe(globalId('User', operator.userId));
    expect(Date.parse(outcome.event.resolvedAt!)).toBeGreaterThanOrEqual(before - 1000);
    expect(await list({ resolved: true })).toEqual(['to resolve']);
    expect(await list({ resolved: false })).not.toContain('to resolve');

    const again = await operator.request(ResolveEventDocument, { id: event.id });
    expect(again.data?.resolveEvent).toMatchObject({ __typename: 'ConflictError', field: 'id' });
  });

  it('keeps other tenants out of events by listing, filter and id', async () => {
    const stranger = await server.signIn({ role: 'admin' });
    expect(await list({}, stranger)).toEqual([]);
    expect(await list({ nodeId }, stranger)).toEqual([]);
    const event = await record({ message: 'private' });
    const resolved = await stranger.request(ResolveEventDocument, { id: event.id });
    expect(resolved.data?.resolveEvent.__typename).toBe('NotFoundError');
    const refused = await stranger.request(RecordSystemEventDocument, {
      input: { eventType: 'x', severity: 'INFO', sourceComponent: 'y', message: 'z', sourceNodeId: nodeId },
    });
    expect(refused.data?.recordSystemEvent).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'sourceNodeId' }] });
  });

  it('treats malicious filter strings as data', async () => {
    expect(await list({ eventType: "node.failed' OR '1'='1" })).toEqual([]);
    expect(await list({ sourceComponent: "scheduler'; DROP TABLE system_events; --" })).toEqual([]);
    const forged = await operator.request(ResolveEventDocument, { id: globalId('SystemEvent', "x'); UPDATE system_events SET resolved_at = now(); --") });
    // Refused at the edge, before any resolver: a global id whose key is no record key.
    expect(forged.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await list({ resolved: true })).toEqual(['to resolve']);
    const badSeverity = await operator.request(SystemEventsDocument, { first: 5, filter: { severity: ["ERROR' OR 1=1 --" as never] } });
    expect(badSeverity.errors?.[0]?.message).toMatch(/EventSeverity/);
    expect((await list()).length).toBeGreaterThanOrEqual(5);
  });

  it('lets readers list but only operators record or resolve', async () => {
    const user = await server.signIn({ role: 'user', tenantId: operator.tenantId });
    expect(await list({ eventType: 'session.failed' }, user)).toEqual(['e2']);
    const refused = await user.request(RecordSystemEventDocument, { input: { eventType: 'x', severity: 'INFO', sourceComponent: 'y', message: 'z' } });
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
