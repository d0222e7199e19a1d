import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../src/infra/db.js';
import { invoiceIdempotencyKey, parseMonth, previousMonth, type BillingMonth } from '../src/modules/billing/billing.period.js';
import {
  BillingEventByIdDocument,
  BillingEventsDocument,
  CloseBillingPeriodDocument,
  RecordBillingEventDeliveryDocument,
  RecordUsageDocument,
} from './generated/graphql.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { servicesOf, startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

/** The month `monthsAgo` before the current one, and an instant inside it. */
function monthsAgo(count: number): { month: BillingMonth; inside: (day: number) => string } {
  const now = new Date();
  const month = parseMonth(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - count, 1)).toISOString().slice(0, 7))!;
  return { month, inside: (day: number) => new Date(month.start.getTime() + (day - 1) * 86_400_000 + 3_600_000).toISOString() };
}

describe.each(kinds)('monthly close on %s', (kind) => {
  let server: TestServer;
  let second: TestServer;
  let otherConnection: Database;
  let modelA: string;
  let modelB: string;

  const record = async (user: SignedInUser, model: string, promptTokens: number, completionTokens: number, recordedAt: string) => {
    const result = await user.request(RecordUsageDocument, {
      input: { requestId: `r-${randomBytes(6).toString('hex')}`, model, promptTokens, completionTokens, recordedAt },
    });
    expect(result.data?.recordUsage.__typename).toBe('RecordUsageSuccess');
  };

  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false });
    // A second API instance on the same database, as a scaled-out deployment runs.
    second = await startTestServer(kind, { jobsEnabled: false, databaseUrl: server.rawDatabaseUrl });
    otherConnection = createDatabase(server.rawDatabaseUrl, 2, { embedded: kind === 'pglite' });
    modelA = `test/alpha-${randomBytes(3).toString('hex')}`;
    modelB = `test/beta-${randomBytes(3).toString('hex')}`;
    await server.db.system.model.createMany({
      data: [
        { modelId: modelA, name: 'Alpha', contextLength: 4096, priceInputPerMillion: '1.000000', priceOutputPerMillion: '3.000000' },
        { modelId: modelB, name: 'Beta', contextLength: 4096, priceInputPerMillion: '0.333333', priceOutputPerMillion: '0.777777' },
      ],
    });
  });
  afterAll(async () => {
    await otherConnection?.close();
    await second?.close();
    await server?.close();
  });

  it('two closes running at once, on two connections, produce exactly one event per tenant', async () => {
    const { month, inside } = monthsAgo(3);
    const tenants = [await server.signIn({ role: 'admin' }), await server.signIn({ role: 'admin' })];
    const idle = await server.signIn({ role: 'admin' });
    for (const [index, tenant] of tenants.entries()) {
      await record(tenant, modelA, 1000 * (index + 1), 500, inside(2));
      await record(tenant, modelB, 3000, 3000, inside(28));
    }
    const first = servicesOf(server).billing;
    const other = servicesOf(server, otherConnection).billing;
    const [a, b, c] = await Promise.all([first.closeMonth(month), other.closeMonth(month), first.closeMonth(month)]);
    const created = [...a, ...b, ...c].map((event) => event.tenantId).sort();
    expect(created).toEqual(tenants.map((t) => t.tenantId).sort());

    const events = await server.db.system.billingEvent.findMany({ where: { periodStart: month.start } });
    expect(events.map((e) => e.tenantId).sort()).toEqual(tenants.map((t) => t.tenantId).sort());
    expect(events.some((e) => e.tenantId === idle.tenantId)).toBe(false);
    // A later run finds nothing left to do.
    expect(await first.closeMonth(month)).toEqual([]);
  });

  it('closes the same tenant and month on two API instances at once: one event, the same for both', async () => {
    const { month, inside } = monthsAgo(2);
    const admin = await server.signIn({ role: 'admin' });
    const onSecond = await second.signIn({ role: 'admin', tenantId: admin.tenantId });
    await record(admin, modelA, 1_000_000, 10, inside(1));
    await record(admin, modelA, 1, 1, inside(15));
    await record(onSecond, modelB, 12_345, 67_890, inside(20));

    const [here, there] = await Promise.all([
      admin.request(CloseBillingPeriodDocument, { input: { month: month.label } }),
      onSecond.request(CloseBillingPeriodDocument, { input: { month: month.label } }),
    ]);
    const closes = [here, there].map((result) => {
      const outcome = result.data!.closeBillingPeriod;
      if (outcome.__typename !== 'CloseBillingPeriodSuccess') throw new Error(`not closed: ${JSON.stringify(result)}`);
      return outcome.close;
    });
    expect(closes.map((close) => close.created).sort()).toEqual([false, true]);
    expect(closes[0]!.billingEvent!.id).toBe(closes[1]!.billingEvent!.id);

    // Alpha: 1,000,000 x 1 + 10 x 3 = 1,000,030 and 1 + 3 = 4 micro-dollars -> 1.000030 + 0.000004.
    // Beta: 12,345 x 0.333333 + 67,890 x 0.777777 = 4114.995885 + 52803.280530 micro-dollars -> 0.056918 (half up).
    expect(closes[0]!.billingEvent).toMatchObject({
      eventType: 'monthly_invoice',
      month: month.label,
      periodStart: month.start.toISOString().slice(0, 10),
      periodEnd: month.lastDay.toISOString().slice(0, 10),
      amountUsd: '1.056952',
      currency: 'USD',
      idempotencyKey: invoiceIdempotencyKey(admin.tenantId, month),
      status: 'PENDING',
      attempts: 0,
      lineItems: [
        { modelId: modelA, modelName: 'Alpha', requests: 2, promptTokens: 1_000_001, completionTokens: 11, totalTokens: 1_000_012, amountUsd: '1.000034' },
        { modelId: modelB, modelName: 'Beta', requests: 1, promptTokens: 12_345, completionTokens: 67_890, totalTokens: 80_235, amountUsd: '0.056918' },
      ],
    });
    expect(await server.db.system.billingEvent.count({ where: { tenantId: admin.tenantId } })).toBe(1);

    // Usage that would land in the closed month is refused rather than silently never billed.
    const late = await admin.request(RecordUsageDocument, { input: { requestId: 'late-1', model: modelA, promptTokens: 1, completionTokens: 1, recordedAt: inside(10) } });
    expect(late.data!.recordUsage).toMatchObject({ __typename: 'ConflictError', field: 'recordedAt' });
  });

  it('keeps the outbox status: pending, failed with a reason, then sent once and final', async () => {
    const { month, inside } = monthsAgo(4);
    const admin = await server.signIn({ role: 'admin' });
    await record(admin, modelA, 10, 10, inside(5));
    const closed = await admin.request(CloseBillingPeriodDocument, { input: { month: month.label } });
    if (closed.data!.closeBillingPeriod.__typename !== 'CloseBillingPeriodSuccess') throw new Error('not closed');
    const id = closed.data!.closeBillingPeriod.close.billingEvent!.id;

    const pending = await admin.request(BillingEventsDocument, { filter: { status: ['PENDING'] } });
    expect(pending.data!.billingEvents.edges.map(({ node }) => node.id)).toEqual([id]);

    const failed = await admin.request(RecordBillingEventDeliveryDocument, { input: { id, outcome: 'FAILED', error: 'provider timed out' } });
    expect(failed.data!.recordBillingEventDelivery).toMatchObject({ billingEvent: { status: 'FAILED', attempts: 1, lastError: 'provider timed out', sentAt: null } });
    const noReason = await admin.request(RecordBillingEventDeliveryDocument, { input: { id, outcome: 'FAILED' } });
    expect(noReason.data!.recordBillingEventDelivery).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'error' }] });

    const sent = await admin.request(RecordBillingEventDeliveryDocument, { input: { id, outcome: 'SENT' } });
    const event = sent.data!.recordBillingEventDelivery;
    if (event.__typename !== 'RecordBillingEventDeliverySuccess') throw new Error(`unexpected ${event.__typename}`);
    expect(event.billingEvent).toMatchObject({ status: 'SENT', attempts: 2, lastError: null });
    expect(event.billingEvent.sentAt).not.toBeNull();

    const again = await admin.request(RecordBillingEventDeliveryDocument, { input: { id, outcome: 'SENT' } });
    expect(again.data!.recordBillingEventDelivery).toMatchObject({ __typename: 'ConflictError', field: 'status' });
    const byMonth = await admin.request(BillingEventsDocument, { filter: { month: month.label, status: ['SENT'] } });
    expect(byMonth.data!.billingEvents.edges.map(({ node }) => node.id)).toEqual([id]);
  });

  it('refuses a month that has not ended or is malformed, and a tenant without usage gets no invoice', async () => {
    const admin = await server.signIn({ role: 'admin' });
    const current = new Date().toISOString().slice(0, 7);
    for (const month of [current, '2026-13', 'last month']) {
      const result = await admin.request(CloseBillingPeriodDocument, { input: { month } });
      expect(result.data!.closeBillingPeriod).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'month' }] });
    }
    const empty = await admin.request(CloseBillingPeriodDocument, { input: { month: monthsAgo(5).month.label } });
    expect(empty.data!.closeBillingPeriod).toMatchObject({ close: { created: false, billingEvent: null } });
  });

  it("the job's close settles the previous month", async () => {
    const { billing } = servicesOf(server);
    const now = new Date(Date.UTC(2031, 0, 15));
    expect(previousMonth(now).label).toBe('2030-12');
    const admin = await server.signIn({ role: 'admin' });
    const model = await server.db.system.model.findUniqueOrThrow({ where: { modelId: modelA } });
    // The last second of December 2030 belongs to December.
    await server.db.system.usageRecord.create({
      data: {
        tenantId: admin.tenantId,
        modelId: model.id,
        requestId: 'old',
        promptTokens: 1,
        completionTokens: 0,
        totalTokens: 1,
        costUsd: '0.000001',
        recordedAt: new Date(Date.UTC(2030, 11, 31, 23, 59, 59)),
      },
    });
    const created = await billing.closePreviousMonth(now);
    expect(created.map((event) => event.tenantId)).toEqual([admin.tenantId]);
    expect(await billing.closePreviousMonth(now)).toEqual([]);
  });

  it("keeps each tenant's billing events to itself, and only admins close periods", async () => {
    const { month, inside } = monthsAgo(6);
    const owner = await server.signIn({ role: 'admin' });
    const stranger = await server.signIn({ role: 'admin' });
    await record(owner, modelB, 100, 100, inside(3));
    const closed = await owner.request(CloseBillingPeriodDocument, { input: { month: month.label } });
    if (closed.data!.closeBillingPeriod.__typename !== 'CloseBillingPeriodSuccess') throw new Error('not closed');
    const id = closed.data!.closeBillingPeriod.close.billingEvent!.id;

    expect((await stranger.request(BillingEventByIdDocument, { id })).data!.billingEvent).toBeNull();
    expect((await stranger.request(BillingEventsDocument, { first: 100 })).data!.billingEvents.edges).toEqual([]);
    const report = await stranger.request(RecordBillingEventDeliveryDocument, { input: { id, outcome: 'SENT' } });
    expect(report.data!.recordBillingEventDelivery).toMatchObject({ __typename: 'NotFoundError', resource: 'BillingEvent' });
    // The stranger's own close of that month sees none of the owner's usage.
    const theirs = await stranger.request(CloseBillingPeriodDocument, { input: { month: month.label } });
    expect(theirs.data!.closeBillingPeriod).toMatchObject({ close: { created: false, billingEvent: null } });
    expect((await owner.request(BillingEventByIdDocument, { id })).data!.billingEvent).toMatchObject({ id, status: 'PENDING' });

    const operator = await server.signIn({ role: 'operator', tenantId: owner.tenantId });
    const denied = await operator.request(CloseBillingPeriodDocument, { input: { month: month.label } });
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await operator.request(BillingEventsDocument, {})).data!.billingEvents.edges).toHaveLength(1);
  });
});
