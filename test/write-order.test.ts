import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/infra/logger.js';
import type { PrismaClient } from '../src/generated/prisma/client.js';
import { RetentionService } from '../src/modules/lifecycle/retention.service.js';
import {
  WriteOrderArchivedSessionsDocument,
  WriteOrderArchivedSystemEventsDocument,
  WriteOrderDeliveriesDocument,
  WriteOrderLlmMetricsDocument,
  WriteOrderLoginAttemptsDocument,
  WriteOrderMessagesDocument,
  WriteOrderSecurityEventsDocument,
  WriteOrderSessionsDocument,
  WriteOrderSystemMetricsDocument,
  WriteOrderUsageRecordsDocument,
  WriteOrderUsersDocument,
} from './generated/graphql.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { aRegisteredNode, globalId } from './helpers/builders.js';
import { everyPage } from './helpers/list-paging.js';
import { startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
/** Six rows: random ids would put them in the written order by chance once in 720 reads. */
const written = ['first', 'second', 'third', 'fourth', 'fifth', 'sixth'];
const newestFirst = [...written].reverse();
const PAGE = 4;

type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

describe.each(kinds)('time-ordered lists give rows of one instant in write order on %s', (kind) => {
  let server: TestServer;
  let admin: SignedInUser;
  /** One instant for every row, as one transaction's now() stamps them. */
  const at = new Date(Date.now() - 60_000);

  /** Writes one row per label, in order, in one transaction. */
  const inOneTransaction = (write: (tx: Tx, label: string, index: number) => Promise<unknown>) =>
    server.db.system.$transaction(async (tx) => {
      for (const [index, label] of written.entries()) await write(tx, label, index);
    });

  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false });
    admin = await server.signIn({ role: 'admin' });
  }, 120_000);
  afterAll(async () => server?.close());

  it('sessions, newest first', async () => {
    await inOneTransaction((tx, label) =>
      tx.session.create({
        data: { tenantId: admin.tenantId, userId: admin.userId, sessionName: `wo-${label}`, sessionType: 'batch', cpuRequest: 1, memoryRequestGb: 1, createdAt: at },
      }),
    );
    const rows = await everyPage(async (after) => (await admin.request(WriteOrderSessionsDocument, { first: PAGE, after, filter: { sessionName: 'wo-' } })).data!.sessions);
    expect(rows.map((row) => row.sessionName)).toEqual(newestFirst.map((label) => `wo-${label}`));
  });

  it('users, oldest first', async () => {
    await inOneTransaction((tx, label) =>
      tx.user.create({ data: { tenantId: admin.tenantId, username: `wo-${label}-${randomUUID().slice(0, 8)}`, email: `${randomUUID()}@example.test`, role: 'user', createdAt: at } }),
    );
    const rows = await everyPage(async (after) => (await admin.request(WriteOrderUsersDocument, { first: PAGE, after, filter: { search: 'wo-' } })).data!.users);
    expect(rows.map((row) => row.username.split('-')[1])).toEqual(written);
  });

  it('security events and login attempts, newest first', async () => {
    await inOneTransaction(async (tx, label) => {
      await tx.securityEvent.create({ data: { tenantId: admin.tenantId, eventType: 'login_failed', username: label, timestamp: at } });
      await tx.loginAttempt.create({ data: { tenantId: admin.tenantId, username: label, ipAddress: '127.0.0.1', success: false, timestamp: at } });
    });
    const events = await everyPage(async (after) => (await admin.request(WriteOrderSecurityEventsDocument, { first: PAGE, after })).data!.securityEvents);
    expect(events.map((row) => row.username)).toEqual(newestFirst);
    const attempts = await everyPage(async (after) => (await admin.request(WriteOrderLoginAttemptsDocument, { first: PAGE, after })).data!.loginAttempts);
    expect(attempts.map((row) => row.username)).toEqual(newestFirst);
  });

  it('notification deliveries, newest first', async () => {
    const config = await server.db.system.notificationConfig.create({
      data: { tenantId: admin.tenantId, name: 'order hook', channelType: 'webhook', targetUrl: 'https://hooks.example.test/order' },
    });
    const eventIds = written.map(() => randomUUID());
    await inOneTransaction((tx, _label, index) =>
      tx.notificationDelivery.create({
        data: { tenantId: admin.tenantId, configId: config.id, eventId: eventIds[index]!, eventType: 'node.failed', payload: {}, status: 'delivered', createdAt: at },
      }),
    );
    const rows = await everyPage(async (after) => (await admin.request(WriteOrderDeliveriesDocument, { first: PAGE, after })).data!.notificationDeliveries);
    expect(rows.map((row) => row.eventId)).toEqual([...eventIds].reverse());
  });

  it('usage records and LLM request metrics, newest first', async () => {
    const model = await server.db.system.model.create({
      data: { modelId: `test/order-${randomUUID().slice(0, 8)}`, name: 'order', contextLength: 4096, priceInputPerMillion: '1.000000', priceOutputPerMillion: '1.000000' },
    });
    await inOneTransaction(async (tx, label) => {
      await tx.usageRecord.create({ data: { tenantId: admin.tenantId, modelId: model.id, requestId: label, totalTokens: 10, recordedAt: at } });
      await tx.llmMetric.create({ data: { tenantId: admin.tenantId, modelId: model.modelId, requestId: label, tokensGenerated: 10, generationTimeMs: 5, timestamp: at } });
    });
    const usage = await everyPage(async (after) => (await admin.request(WriteOrderUsageRecordsDocument, { first: PAGE, after })).data!.usageRecords);
    expect(usage.map((row) => row.requestId)).toEqual(newestFirst);
    const metrics = await everyPage(async (after) => (await admin.request(WriteOrderLlmMetricsDocument, { first: PAGE, after })).data!.llmMetrics);
    expect(metrics.map((row) => row.requestId)).toEqual(newestFirst);
  });

  it('host snapshots of one node, newest first', async () => {
    const node = await aRegisteredNode(admin);
    const nodeId = Buffer.from(node.id, 'base64').toString('utf8').split(':')[1]!;
    await inOneTransaction((tx, _label, index) => tx.systemMetric.create({ data: { tenantId: admin.tenantId, nodeId, cpuPercent: index, timestamp: at } }));
    const rows = await everyPage(async (after) => (await admin.request(WriteOrderSystemMetricsDocument, { first: PAGE, after, filter: { nodeId: node.id } })).data!.systemMetrics);
    expect(rows.map((row) => row.cpuPercent)).toEqual(written.map((_, index) => index).reverse());
  });

  it('chat messages of a conversation, oldest first', async () => {
    const chat = await server.db.system.chatSession.create({ data: { tenantId: admin.tenantId, userId: admin.userId } });
    const conversation = await server.db.system.conversation.create({ data: { tenantId: admin.tenantId, chatSessionId: chat.id } });
    await inOneTransaction((tx, label) => tx.message.create({ data: { tenantId: admin.tenantId, conversationId: conversation.id, role: 'user', content: label, createdAt: at } }));
    const rows = await everyPage(
      async (after) =>
        (await admin.request(WriteOrderMessagesDocument, { id: globalId('Conversation', conversation.id), first: PAGE, after })).data!.conversation!.messages,
    );
    expect(rows.map((row) => row.content)).toEqual(written);
  });

  it('archived sessions and system events keep the order they were written in', async () => {
    const longAgo = new Date(Date.now() - 400 * 86_400_000);
    await inOneTransaction(async (tx, label) => {
      await tx.session.create({
        data: {
          tenantId: admin.tenantId,
          userId: admin.userId,
          sessionName: `archived-${label}`,
          sessionType: 'batch',
          status: 'completed',
          cpuRequest: 1,
          memoryRequestGb: 1,
          createdAt: longAgo,
          endTime: longAgo,
          updatedAt: longAgo,
        },
      });
      await tx.systemEvent.create({ data: { tenantId: admin.tenantId, timestamp: longAgo, eventType: 'order.test', severity: 'info', sourceComponent: 'test', message: label } });
    });
    // Small batches, so the rows of one instant reach the archive in several statements.
    const pass = await new RetentionService(server.db.system, createLogger('silent'), { ...server.config.retention, batchSize: 2 }).applyRetention();
    expect(pass.removed.sessions).toBeGreaterThanOrEqual(written.length);

    const sessions = await everyPage(
      async (after) => (await admin.request(WriteOrderArchivedSessionsDocument, { first: PAGE, after, filter: { sessionName: 'archived-' } })).data!.archivedSessions,
    );
    expect(sessions.map((row) => row.sessionName)).toEqual(newestFirst.map((label) => `archived-${label}`));
    const events = await everyPage(
      async (after) => (await admin.request(WriteOrderArchivedSystemEventsDocument, { first: PAGE, after, filter: { eventType: 'order.test' } })).data!.archivedSystemEvents,
    );
    expect(events.map((row) => row.message)).toEqual(newestFirst);
  });
});
