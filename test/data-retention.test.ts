import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/infra/logger.js';
import { withExclusiveLock } from '../src/infra/locks.js';
import { RetentionService, type RetentionPass } from '../src/modules/lifecycle/retention.service.js';
import { MonthlyPartitions } from '../src/modules/telemetry/partitions.js';
import { ArchivedSessionsDocument, ArchivedSystemEventsDocument } from './generated/graphql.js';
import { aRunningSession } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000);
const monthPartitionOf = (time: Date) => `system_events_p${time.toISOString().slice(0, 7).replace('-', '')}`;

describe.each(kinds)('retention of growing tables on %s', (kind) => {
  let server: TestServer;
  let admin: SignedInUser;
  let pass: RetentionPass;
  let partitioned: boolean;
  const kept: Record<string, string[]> = {};
  const eventPartitions = () =>
    server.db.system
      .$queryRaw<{ name: string }[]>`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'public.system_events'::regclass`
      .then((rows) => rows.map((row) => row.name));

  const retention = () => new RetentionService(server.db.system, createLogger('silent'), { ...server.config.retention, batchSize: 2 });

  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false });
    admin = await server.signIn({ role: 'admin' });
    const system = server.db.system;
    const tenantId = admin.tenantId;

    const tool = await system.toolSession.create({ data: { tenantId, toolId: 'omnimemory' } });
    const operation = (createdAt: Date, toolName: string) =>
      system.toolOperation.create({ data: { tenantId, sessionId: tool.id, toolName, operationMode: 'full', toolId: 'omnimemory', createdAt } });
    for (const days of [31, 40, 45]) await operation(daysAgo(days), `old-${days}`);
    kept.toolOperations = [(await operation(daysAgo(29), 'recent')).id];

    const attempt = (timestamp: Date) => system.loginAttempt.create({ data: { tenantId, username: 'someone', ipAddress: '127.0.0.1', success: false, timestamp } });
    await attempt(daysAgo(366));
    kept.loginAttempts = [(await attempt(daysAgo(300))).id];

    const securityEvent = (timestamp: Date) => system.securityEvent.create({ data: { tenantId, eventType: 'login_failed', timestamp } });
    await securityEvent(daysAgo(400));
    kept.securityEvents = [(await securityEvent(daysAgo(10))).id];

    const config = await system.notificationConfig.create({ data: { tenantId, name: 'ops hook', channelType: 'webhook', targetUrl: 'https://hooks.example.test/x' } });
    const delivery = (status: string, finishedAt: Date) =>
      system.notificationDelivery.create({
        data: {
          tenantId,
          configId: config.id,
          eventId: randomUUID(),
          eventType: 'node.failed',
          payload: {},
          status,
          lastAttemptAt: finishedAt,
          deliveredAt: status === 'delivered' ? finishedAt : null,
        },
      });
    await delivery('delivered', daysAgo(91));
    await delivery('dead', daysAgo(95));
    kept.deliveries = [(await delivery('failed', daysAgo(100))).id, (await delivery('delivered', daysAgo(10))).id];

    const refreshToken = (expiresAt: Date, revokedAt: Date | null) =>
      system.userSession.create({ data: { tenantId, userId: admin.userId, refreshTokenHash: randomUUID(), expiresAt, revokedAt } });
    await refreshToken(daysAgo(31), null);
    await refreshToken(daysAgo(-10), daysAgo(35));
    kept.userSessions = [(await refreshToken(daysAgo(5), null)).id, (await refreshToken(daysAgo(-20), daysAgo(2))).id];

    const session = async (name: string, status: string, endTime: Date | null) => {
      const id = await aRunningSession(system, tenantId, admin.userId);
      await system.session.update({ where: { id }, data: { sessionName: name, status, endTime } });
      return id;
    };
    await session('finished long ago', 'completed', daysAgo(100));
    await session('failed long ago', 'failed', daysAgo(120));
    await session('cancelled long ago', 'cancelled', daysAgo(91));
    kept.sessions = [await session('still running', 'running', null), await session('finished lately', 'completed', daysAgo(30))];

    // Where system_events is partitioned by month, the oldest event's month gets its partition, as the month's job would have made it.
    partitioned = await new MonthlyPartitions(system).isPartitioned('system_events');
    if (partitioned) {
      for (const days of [300, 20]) await system.$queryRaw`SELECT ensure_month_partition('public.system_events'::regclass, ${daysAgo(days)}::timestamptz)`;
    }
    const event = (message: string, timestamp: Date) =>
      system.systemEvent.create({ data: { tenantId, eventType: 'node.failed', severity: 'error', sourceComponent: 'retention-test', message, timestamp } });
    await event('old failure', daysAgo(200));
    await event('older failure', daysAgo(300));
    kept.systemEvents = [(await event('recent failure', daysAgo(20))).id];

    pass = await retention().applyRetention();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('removes rows past each period in batches and keeps the rest', async () => {
    const system = server.db.system;
    const tenantId = admin.tenantId;
    expect(pass.complete).toBe(true);
    expect(pass.removed).toMatchObject({ tool_operations: 3, notification_deliveries: 2, user_sessions: 2, sessions: 3, system_events: 2 });
    expect(pass.removed.login_attempts).toBeGreaterThanOrEqual(1);
    expect(pass.removed.security_events).toBeGreaterThanOrEqual(1);
    const ids = (rows: { id: string }[]) => rows.map((row) => row.id).sort();
    expect(ids(await system.toolOperation.findMany({ where: { tenantId } }))).toEqual([...kept.toolOperations!].sort());
    expect(ids(await system.loginAttempt.findMany({ where: { tenantId } }))).toEqual(kept.loginAttempts);
    expect(ids(await system.securityEvent.findMany({ where: { tenantId } }))).toEqual(kept.securityEvents);
    expect(ids(await system.notificationDelivery.findMany({ where: { tenantId } }))).toEqual([...kept.deliveries!].sort());
    expect(ids(await system.userSession.findMany({ where: { tenantId } }))).toEqual([...kept.userSessions!].sort());
    expect(ids(await system.session.findMany({ where: { tenantId } }))).toEqual([...kept.sessions!].sort());
    expect(ids(await system.systemEvent.findMany({ where: { tenantId } }))).toEqual(kept.systemEvents);
  });

  it('drops the month partitions of system_events that archiving emptied, and keeps later months', async () => {
    if (kind === 'pglite') expect(partitioned).toBe(true);
    if (!partitioned) {
      expect(pass.emptyPartitionsDropped).toBe(0);
      return;
    }
    expect(pass.emptyPartitionsDropped).toBe(1);
    const left = await eventPartitions();
    expect(left).not.toContain(monthPartitionOf(daysAgo(300)));
    expect(left).toContain(monthPartitionOf(daysAgo(20)));
  });

  it('lets admins page through archived sessions and events, filtered', async () => {
    const first = (await admin.request(ArchivedSessionsDocument, { first: 2 })).data!.archivedSessions;
    expect(first.edges.map((edge) => edge.node.sessionName)).toEqual(['cancelled long ago', 'finished long ago']);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = (await admin.request(ArchivedSessionsDocument, { first: 2, after: first.pageInfo.endCursor })).data!.archivedSessions;
    expect(rest.edges.map((edge) => edge.node.sessionName)).toEqual(['failed long ago']);
    const failed = (await admin.request(ArchivedSessionsDocument, { first: 10, filter: { status: ['FAILED'] } })).data!.archivedSessions;
    expect(failed.edges.map((edge) => edge.node.status)).toEqual(['FAILED']);

    const events = (await admin.request(ArchivedSystemEventsDocument, { first: 10 })).data!.archivedSystemEvents;
    expect(events.edges.map((edge) => edge.node.message)).toEqual(['old failure', 'older failure']);
    const older = (await admin.request(ArchivedSystemEventsDocument, { first: 10, filter: { to: daysAgo(250).toISOString() } })).data!.archivedSystemEvents;
    expect(older.edges.map((edge) => edge.node.message)).toEqual(['older failure']);
  });

  it('shows archives to admins only, and each tenant only its own', async () => {
    const operator = await server.signIn({ role: 'operator', tenantId: admin.tenantId });
    const refused = await operator.request(ArchivedSessionsDocument, { first: 10 });
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const otherAdmin = await server.signIn({ role: 'admin' });
    expect((await otherAdmin.request(ArchivedSessionsDocument, { first: 10 })).data!.archivedSessions.edges).toEqual([]);
    expect((await otherAdmin.request(ArchivedSystemEventsDocument, { first: 10 })).data!.archivedSystemEvents.edges).toEqual([]);
  });

  it('rejects a period that ends before it starts as a validation error', async () => {
    const result = await admin.request(ArchivedSessionsDocument, { first: 5, filter: { from: daysAgo(1).toISOString(), to: daysAgo(2).toISOString() } });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  // The embedded database serves one connection at a time, so two instances never contend on it.
  it.runIf(kind === 'postgres')('leaves the pass to the instance holding the retention lock', async () => {
    const other = await withExclusiveLock(server.db.system, 'lifecycle.retention', () => retention().applyRetention());
    expect(other?.complete).toBe(false);
  });
});
