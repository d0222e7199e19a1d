import { randomBytes, randomUUID } from 'node:crypto';
import type { ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newApiKey, hashSecret } from '../src/modules/identity/secrets.js';
import {
  ApiKeyListDocument,
  ArchivedSessionListDocument,
  ArchivedSystemEventListDocument,
  BillingEventListDocument,
  LoginAttemptListDocument,
  SecurityEventListDocument,
  UsageRecordListDocument,
  UserCountsDocument,
  UserListDocument,
} from './generated/graphql.js';
import { globalId } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';
import { everyPage } from './helpers/list-paging.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000);
/** Letters only, so no digit of a suffix can match what a search looks for. */
const letters = () => randomBytes(4).toString('hex').replace(/[0-9]/g, (digit) => 'ghijklmnop'[Number(digit)]!);

/** Asserts a typed refusal naming the argument (as the resolver names it, or prefixed by the field at the edge). */
function expectRefused(result: ExecutionResult<unknown>, argument: string): void {
  const error = result.errors?.[0];
  expect(error?.extensions?.code, JSON.stringify(result.errors)).toBe('BAD_USER_INPUT');
  const paths = ((error?.extensions?.issues ?? []) as { path: string }[]).map((issue) => issue.path);
  expect(paths.some((path) => path === argument || path.endsWith(`.${argument}`)), `issues ${paths.join(', ')}`).toBe(true);
}

describe.each(kinds)('identity, billing and archive lists on %s', (kind) => {
  let server: TestServer;
  let admin: SignedInUser;
  let member: SignedInUser;
  let other: SignedInUser;
  const users: Record<string, string> = {};
  let prodId: string;
  let models: { a: { id: string; modelId: string }; b: { id: string; modelId: string } };
  const suffix = letters();

  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false });
    admin = await server.signIn({ role: 'admin' });
    member = await server.signIn({ role: 'user', tenantId: admin.tenantId });
    other = await server.signIn({ role: 'admin' });
    const system = server.db.system;
    const tenantId = admin.tenantId;

    const aUser = async (name: string, role: string, status: string, fullName: string | null) => {
      const user = await system.user.create({ data: { tenantId, username: `${name}-${suffix}`, email: `${name}-${suffix}@example.test`, role, status, fullName } });
      users[name] = user.id;
    };
    await aUser('opone', 'operator', 'active', 'Grace 100% Hopper');
    await aUser('optwo', 'operator', 'active', 'Grace 100x Hopper');
    await aUser('dev_one', 'user', 'active', null);
    await aUser('devXone', 'user', 'suspended', null);
    await aUser('viewer', 'readonly', 'inactive', null);

    const prod = await system.environment.upsert({ where: { tenantId_name: { tenantId, name: 'prod' } }, create: { tenantId, name: 'prod' }, update: {} });
    prodId = prod.id;
    const aKey = async (name: string, createdById: string, status = 'active') => {
      const { key, prefix } = newApiKey();
      return system.apiKey.create({
        data: { tenantId, environmentId: prod.id, createdById, name, keyPrefix: prefix, keyHash: hashSecret(key), scopes: ['usage:read'], status },
      });
    };
    await aKey('deploy bot', admin.userId);
    await aKey('old bot', admin.userId, 'revoked');
    await aKey('my key', member.userId);

    const securityEvent = (eventType: string, hours: number, data: { userId?: string; username?: string; ipAddress?: string; details?: object }) =>
      system.securityEvent.create({ data: { tenantId, eventType, timestamp: hoursAgo(hours), ...data } });
    await securityEvent('login_failed', 3, { userId: users.opone, username: 'opone', ipAddress: '10.0.0.1', details: { reason: 'bad_password', attempt: 1 } });
    await securityEvent('login_failed', 2, { userId: users.opone, username: 'opone', ipAddress: '10.0.0.2', details: { reason: 'bad_password' } });
    await securityEvent('account_locked', 1, { userId: users.opone, username: 'opone', details: { failures: 5 } });
    await securityEvent('api_key_created', 0.5, { userId: admin.userId });

    const attempt = (username: string, success: boolean, ipAddress: string, hours: number, failureReason: string | null = null) =>
      system.loginAttempt.create({ data: { tenantId, username, success, ipAddress, failureReason, timestamp: hoursAgo(hours) } });
    await attempt('opone', false, '10.0.0.1', 3, 'bad_password');
    await attempt('opone', false, '10.0.0.1', 2, 'bad_password');
    await attempt('opone', true, '10.0.0.2', 1);
    await attempt('someone', false, '10.0.0.3', 0.5, 'unknown_user');

    const billingEvent = (month: string, amountUsd: string, status: string, attempts: number) =>
      system.billingEvent.create({
        data: {
          tenantId,
          eventType: 'monthly_invoice',
          periodStart: new Date(`${month}-01T00:00:00Z`),
          periodEnd: new Date(`${month}-28T00:00:00Z`),
          amountUsd,
          idempotencyKey: `test:${tenantId}:${month}`,
          status,
          attempts,
        },
      });
    await billingEvent('2026-01', '10.500000', 'sent', 1);
    await billingEvent('2026-02', '3.000000', 'pending', 0);
    await billingEvent('2026-03', '7.250000', 'failed', 2);

    const aModel = async () => {
      const modelId = `test/list-${letters()}`;
      const model = await system.model.create({ data: { modelId, name: modelId, contextLength: 8192, priceInputPerMillion: '1.000000', priceOutputPerMillion: '1.000000' } });
      return { id: model.id, modelId };
    };
    models = { a: await aModel(), b: await aModel() };
    const usage = (requestId: string, model: { id: string }, totalTokens: number, hours: number, environmentId: string | null) =>
      system.usageRecord.create({
        data: { tenantId, modelId: model.id, requestId, promptTokens: totalTokens, totalTokens, recordedAt: hoursAgo(hours), environmentId },
      });
    await usage('r1', models.a, 100, 5, prod.id);
    await usage('r2', models.a, 100, 4, prod.id);
    await usage('r3', models.b, 100, 3, null);
    await usage('r4', models.b, 50, 2, null);
    await usage('r5', models.a, 200, 1, prod.id);

    // Archived rows keep the write order they had in the live table; these never were in it.
    let written = 0n;
    const archivedSession = (sessionName: string, status: string, priority: number, days: number, userId: string) =>
      system.sessionArchive.create({
        data: {
          id: randomUUID(),
          tenantId,
          userId,
          sessionName,
          sessionType: 'batch',
          status,
          priority,
          cpuRequest: 1,
          memoryRequestGb: 1,
          gpuRequest: 0,
          storageRequestGb: 1,
          networkPolicy: 'default',
          environmentVariables: {},
          resourceConstraints: {},
          placementPreferences: {},
          endTime: hoursAgo(days * 24),
          createdAt: hoursAgo(days * 24 + 1),
          updatedAt: hoursAgo(days * 24),
          seq: ++written,
        },
      });
    await archivedSession('render 50% done', 'completed', 5, 100, users.opone!);
    await archivedSession('render 50x done', 'failed', 5, 101, users.optwo!);
    await archivedSession('train_a', 'cancelled', 1, 102, users.opone!);
    await archivedSession('trainxa', 'completed', 5, 103, users.optwo!);

    const archivedEvent = (message: string, severity: string, eventType: string, days: number, resolved: boolean) =>
      system.systemEventArchive.create({
        data: {
          id: randomUUID(),
          tenantId,
          timestamp: hoursAgo(days * 24),
          eventType,
          severity,
          sourceComponent: 'lists-test',
          message,
          details: {},
          resolvedAt: resolved ? hoursAgo(days * 24 - 1) : null,
          seq: ++written,
        },
      });
    await archivedEvent('disk 90% full', 'warning', 'node.disk', 200, true);
    await archivedEvent('disk 90x full', 'warning', 'node.disk', 201, false);
    await archivedEvent('node lost', 'error', 'node.failed', 202, false);
  });
  afterAll(async () => {
    await server?.close();
  });

  describe('users', () => {
    it('searches names case-insensitively, with % and _ matched as themselves', async () => {
      const byText = async (search: string) =>
        (await admin.request(UserListDocument, { first: 50, filter: { search } })).data!.users.edges.map((edge) => edge.node.username);
      expect(await byText('100%')).toEqual([`opone-${suffix}`]);
      expect(await byText('DEV_ONE')).toEqual([`dev_one-${suffix}`]);
    });

    it('composes or and not, and counts what the filter selects', async () => {
      const filter = { or: [{ role: ['READONLY' as const] }, { status: ['SUSPENDED' as const] }], not: { search: 'viewer' } };
      const result = (await admin.request(UserListDocument, { first: 50, filter })).data!.users;
      expect(result.edges.map((edge) => edge.node.username)).toEqual([`devXone-${suffix}`]);
      expect(result.totalCount).toBe(1);
      expect((await admin.request(UserListDocument, { first: 1 })).data!.users.totalCount).toBe(7);
    });

    it('counts users by role and by status', async () => {
      const counts = async (by: 'ROLE' | 'STATUS', filter?: { status: ('ACTIVE' | 'SUSPENDED')[] }) => (await admin.request(UserCountsDocument, { by, filter })).data!.userCounts;
      expect(await counts('ROLE')).toEqual([
        { key: 'USER', count: 3 },
        { key: 'OPERATOR', count: 2 },
        { key: 'ADMIN', count: 1 },
        { key: 'READONLY', count: 1 },
      ]);
      expect(await counts('STATUS')).toEqual([
        { key: 'ACTIVE', count: 5 },
        { key: 'INACTIVE', count: 1 },
        { key: 'SUSPENDED', count: 1 },
      ]);
      expect(await counts('ROLE', { status: ['SUSPENDED'] })).toEqual([{ key: 'USER', count: 1 }]);
      expect((await other.request(UserCountsDocument, { by: 'ROLE' })).data!.userCounts).toEqual([{ key: 'ADMIN', count: 1 }]);
    });

    it('pages through rows with equal sort keys without repeating or skipping one', async () => {
      for (const direction of ['ASC', 'DESC'] as const) {
        const orderBy = [{ field: 'ROLE' as const, direction }];
        const whole = (await admin.request(UserListDocument, { first: 50, orderBy })).data!.users.edges.map((edge) => edge.node);
        const paged = await everyPage(async (after) => (await admin.request(UserListDocument, { first: 2, after, orderBy })).data!.users);
        expect(paged.map((user) => user.id)).toEqual(whole.map((user) => user.id));
        expect(new Set(paged.map((user) => user.id)).size).toBe(7);
        const roles = paged.map((user) => user.role);
        expect(roles).toEqual([...roles].sort((a, b) => (direction === 'ASC' ? a.localeCompare(b) : b.localeCompare(a))));
      }
    });

    it('keeps the oldest-first order unless asked otherwise', async () => {
      const listed = (await admin.request(UserListDocument, { first: 50 })).data!.users.edges.map((edge) => edge.node.username);
      expect(listed.slice(0, 2).map((name) => name.split('-')[0])).toEqual(['admin', 'user']);
      expect(listed.slice(2)).toEqual(['opone', 'optwo', 'dev_one', 'devXone', 'viewer'].map((name) => `${name}-${suffix}`));
      const byName = (await admin.request(UserListDocument, { first: 50, orderBy: [{ field: 'USERNAME', direction: 'ASC' }] })).data!.users.edges;
      const names = byName.map((edge) => edge.node.username);
      expect(names).toEqual([...names].sort());
    });

    it('refuses a global id of another type, a range ending before it starts, and a junk cursor', async () => {
      expectRefused(await admin.request(UserListDocument, { first: 5, filter: { idIn: [globalId('User', users.opone!), globalId('ApiKey', randomUUID())] } }), 'filter.idIn.1');
      expectRefused(await admin.request(UserListDocument, { first: 5, filter: { createdAfter: hoursAgo(1).toISOString(), createdBefore: hoursAgo(2).toISOString() } }), 'filter.createdBefore');
      const junk = await admin.request(UserListDocument, { first: 5, after: 'junk' });
      expect(junk.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    });
  });

  describe('API keys', () => {
    it("lists the tenant's keys to an admin and only their own to anyone else, filtered and counted", async () => {
      const names = async (client: SignedInUser, filter?: object) => {
        const keys = (await client.request(ApiKeyListDocument, { first: 50, filter })).data!.apiKeys;
        return { names: keys.edges.map((edge) => edge.node.name), total: keys.totalCount };
      };
      expect(await names(admin)).toEqual({ names: ['my key', 'old bot', 'deploy bot'], total: 3 });
      expect(await names(admin, { status: ['ACTIVE'], search: 'BOT' })).toEqual({ names: ['deploy bot'], total: 1 });
      expect(await names(admin, { createdBy: globalId('User', member.userId) })).toEqual({ names: ['my key'], total: 1 });
      expect(await names(member)).toEqual({ names: ['my key'], total: 1 });
      expect(await names(member, { search: 'bot' })).toEqual({ names: [], total: 0 });
      expect(await names(other)).toEqual({ names: [], total: 0 });
      const byName = await admin.request(ApiKeyListDocument, { first: 50, filter: { environmentIdIn: [globalId('Environment', prodId)] }, orderBy: [{ field: 'NAME', direction: 'ASC' }] });
      expect(byName.data!.apiKeys.edges.map((edge) => edge.node.name)).toEqual(['deploy bot', 'my key', 'old bot']);
    });

    it('refuses an environment id of another type', async () => {
      expectRefused(await admin.request(ApiKeyListDocument, { first: 5, filter: { environmentId: globalId('User', admin.userId) } }), 'filter.environmentId');
    });
  });

  describe('security events and login attempts', () => {
    it('refuses a malformed user UUID, IP address or period, naming the argument', async () => {
      expectRefused(await admin.request(SecurityEventListDocument, { first: 5, filter: { userId: 'x' } }), 'filter.userId');
      expectRefused(await admin.request(SecurityEventListDocument, { first: 5, filter: { userIdIn: [users.opone!, 'nope'] } }), 'filter.userIdIn.1');
      expectRefused(await admin.request(SecurityEventListDocument, { first: 5, filter: { ipAddress: '10.0.0.300' } }), 'filter.ipAddress');
      expectRefused(await admin.request(SecurityEventListDocument, { first: 5, filter: { from: hoursAgo(1).toISOString(), to: hoursAgo(2).toISOString() } }), 'filter.to');
      expectRefused(await admin.request(LoginAttemptListDocument, { first: 5, filter: { userId: 'x' } }), 'filter.userId');
    });

    it('filters events by user, address, JSON details and composition', async () => {
      const types = async (filter: object) => {
        const events = (await admin.request(SecurityEventListDocument, { first: 50, filter })).data!.securityEvents;
        expect(events.totalCount).toBe(events.edges.length);
        return events.edges.map((edge) => edge.node.eventType);
      };
      expect(await types({ userId: users.opone })).toEqual(['account_locked', 'login_failed', 'login_failed']);
      expect(await types({ ipAddress: '10.0.0.1' })).toEqual(['login_failed']);
      expect(await types({ details: { reason: 'bad_password' } })).toEqual(['login_failed', 'login_failed']);
      expect(await types({ userIdIn: [users.opone, admin.userId], not: { eventType: ['login_failed'] } })).toEqual(['api_key_created', 'account_locked']);
      expect(await types({ eventType: ['login_failed'], not: { ipAddress: '10.0.0.2' } })).toEqual(['login_failed']);
      expect(await types({ or: [{ usernameContains: 'ONE', from: hoursAgo(1.5).toISOString() }, { userIdIn: [admin.userId] }] })).toEqual(['api_key_created', 'account_locked']);
      const byType = (await admin.request(SecurityEventListDocument, { first: 50, orderBy: [{ field: 'EVENT_TYPE', direction: 'ASC' }] })).data!.securityEvents;
      expect(byType.edges.map((edge) => edge.node.eventType)).toEqual(['account_locked', 'api_key_created', 'login_failed', 'login_failed']);
    });

    it('filters sign-in attempts by exact and partial login name, outcome, reason and address', async () => {
      const attempts = async (filter: object) => {
        const list = (await admin.request(LoginAttemptListDocument, { first: 50, filter })).data!.loginAttempts;
        expect(list.totalCount).toBe(list.edges.length);
        return list.edges.map((edge) => `${edge.node.username}:${edge.node.success}`);
      };
      expect(await attempts({ username: 'opone', success: false })).toEqual(['opone:false', 'opone:false']);
      expect(await attempts({ username: 'OPONE' })).toEqual([]);
      expect(await attempts({ usernameContains: 'ONE' })).toEqual(['someone:false', 'opone:true', 'opone:false', 'opone:false']);
      expect(await attempts({ failureReason: ['unknown_user'] })).toEqual(['someone:false']);
      expect(await attempts({ ipAddress: '10.0.0.2' })).toEqual(['opone:true']);
      const byName = (await admin.request(LoginAttemptListDocument, { first: 50, orderBy: [{ field: 'USERNAME', direction: 'DESC' }, { field: 'SUCCESS', direction: 'DESC' }] })).data!.loginAttempts;
      expect(byName.edges.map((edge) => `${edge.node.username}:${edge.node.success}`)).toEqual(['someone:false', 'opone:true', 'opone:false', 'opone:false']);
    });
  });

  describe('billing events', () => {
    it('refuses a month that is not YYYY-MM and amounts whose range ends before it starts', async () => {
      expectRefused(await admin.request(BillingEventListDocument, { first: 5, filter: { month: 'x' } }), 'filter.month');
      expectRefused(await admin.request(BillingEventListDocument, { first: 5, filter: { minAmountUsd: 5, maxAmountUsd: 4 } }), 'filter.maxAmountUsd');
    });

    it('filters by month, status, amount and attempts, ordered newest period first unless asked otherwise', async () => {
      const months = async (filter?: object, orderBy?: { field: 'AMOUNT_USD'; direction: 'ASC' }[]) => {
        const list = (await admin.request(BillingEventListDocument, { first: 50, filter, orderBy })).data!.billingEvents;
        expect(list.totalCount).toBe(list.edges.length);
        return list.edges.map((edge) => edge.node.month);
      };
      expect(await months()).toEqual(['2026-03', '2026-02', '2026-01']);
      expect(await months({ month: ' 2026-02 ' })).toEqual(['2026-02']);
      expect(await months({ minAmountUsd: 5 }, [{ field: 'AMOUNT_USD', direction: 'ASC' }])).toEqual(['2026-03', '2026-01']);
      expect(await months({ or: [{ status: ['SENT'] }, { minAttempts: 2 }] })).toEqual(['2026-03', '2026-01']);
      expect(await months({ periodFrom: '2026-02-01T00:00:00Z', periodTo: '2026-03-01T00:00:00Z' })).toEqual(['2026-02']);
      expect((await other.request(BillingEventListDocument, { first: 50 })).data!.billingEvents.totalCount).toBe(0);
    });
  });

  describe('usage records', () => {
    it('refuses an environment name over 20 characters and an API key id of another type', async () => {
      expectRefused(await admin.request(UsageRecordListDocument, { first: 5, filter: { environment: 'x'.repeat(21) } }), 'filter.environment');
      expectRefused(await admin.request(UsageRecordListDocument, { first: 5, filter: { apiKeyId: globalId('User', admin.userId) } }), 'filter.apiKeyId');
      expectRefused(await admin.request(UsageRecordListDocument, { first: 5, filter: { minTotalTokens: 100, maxTotalTokens: 50 } }), 'filter.maxTotalTokens');
    });

    it('filters by models, environment, token ranges and request id, and counts', async () => {
      const requests = async (filter: object) => {
        const list = (await admin.request(UsageRecordListDocument, { first: 50, filter })).data!.usageRecords;
        expect(list.totalCount).toBe(list.edges.length);
        return list.edges.map((edge) => edge.node.requestId);
      };
      expect(await requests({ modelIn: [models.b.modelId] })).toEqual(['r4', 'r3']);
      expect(await requests({ model: models.a.modelId, environment: 'prod' })).toEqual(['r5', 'r2', 'r1']);
      expect(await requests({ minTotalTokens: 100, maxTotalTokens: 100 })).toEqual(['r3', 'r2', 'r1']);
      expect(await requests({ requestId: 'r4' })).toEqual(['r4']);
      expect(await requests({ not: { environment: 'prod' }, from: hoursAgo(2.5).toISOString() })).toEqual(['r4']);
    });

    it('pages through equal token counts without repeating or skipping a record', async () => {
      const orderBy = [{ field: 'TOTAL_TOKENS' as const, direction: 'DESC' as const }];
      const paged = await everyPage(async (after) => (await admin.request(UsageRecordListDocument, { first: 2, after, orderBy })).data!.usageRecords);
      expect(paged.map((record) => record.totalTokens)).toEqual([200, 100, 100, 100, 50]);
      expect(new Set(paged.map((record) => record.id)).size).toBe(5);
      const whole = (await admin.request(UsageRecordListDocument, { first: 50, orderBy })).data!.usageRecords.edges.map((edge) => edge.node.id);
      expect(paged.map((record) => record.id)).toEqual(whole);
    });
  });

  describe('archives', () => {
    it('searches archived sessions with wildcards matched literally, composes filters and pages stably', async () => {
      const names = async (filter: object) => {
        const list = (await admin.request(ArchivedSessionListDocument, { first: 50, filter })).data!.archivedSessions;
        expect(list.totalCount).toBe(list.edges.length);
        return list.edges.map((edge) => edge.node.sessionName);
      };
      expect(await names({ sessionName: '50%' })).toEqual(['render 50% done']);
      expect(await names({ sessionName: 'TRAIN_A' })).toEqual(['train_a']);
      expect(await names({ status: ['COMPLETED'], not: { sessionName: 'render' } })).toEqual(['trainxa']);
      expect(await names({ userIdIn: [users.optwo] })).toEqual(['render 50x done', 'trainxa']);
      const orderBy = [{ field: 'PRIORITY' as const, direction: 'DESC' as const }];
      const paged = await everyPage(async (after) => (await admin.request(ArchivedSessionListDocument, { first: 1, after, orderBy })).data!.archivedSessions);
      expect(paged.map((session) => session.priority)).toEqual([5, 5, 5, 1]);
      expect(new Set(paged.map((session) => session.sessionId)).size).toBe(4);
      expectRefused(await admin.request(ArchivedSessionListDocument, { first: 5, filter: { nodeId: 'not-a-uuid' } }), 'filter.nodeId');
      expect((await other.request(ArchivedSessionListDocument, { first: 5 })).data!.archivedSessions.totalCount).toBe(0);
    });

    it('filters archived events by text, resolution and type, ordered by severity when asked', async () => {
      const messages = async (filter: object, orderBy?: { field: 'SEVERITY'; direction: 'ASC' }[]) => {
        const list = (await admin.request(ArchivedSystemEventListDocument, { first: 50, filter, orderBy })).data!.archivedSystemEvents;
        expect(list.totalCount).toBe(list.edges.length);
        return list.edges.map((edge) => edge.node.message);
      };
      expect(await messages({ message: '90%' })).toEqual(['disk 90% full']);
      expect(await messages({ resolved: false })).toEqual(['disk 90x full', 'node lost']);
      expect(await messages({ eventTypeIn: ['node.failed', 'node.disk'], not: { resolved: true } }, [{ field: 'SEVERITY', direction: 'ASC' }])).toEqual(['node lost', 'disk 90x full']);
      expectRefused(await admin.request(ArchivedSystemEventListDocument, { first: 5, filter: { sessionId: 'x' } }), 'filter.sessionId');
    });
  });
});
