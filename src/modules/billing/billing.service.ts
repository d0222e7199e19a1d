import { Prisma, type BillingEvent, type PrismaClient } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/logger.js';
import { ConflictError, NotFoundError } from '../shared/errors.js';
import { MONTHLY_INVOICE, formatDate, previousMonth, type BillingMonth } from './billing.period.js';
import { parseBillingEventDelivery, parseCloseBillingPeriod } from './billing.validation.js';
import type { TenantDb } from './usage.service.js';

/** One line of an invoice: a model's usage in the period. Token counts are whole numbers, amounts exact strings. */
export interface InvoiceLineItem {
  modelId: string;
  modelName: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  amountUsd: string;
}

export interface ClosedPeriod {
  month: BillingMonth;
  /** The tenant's invoice for the month; null when it had no usage. */
  event: BillingEvent | null;
  /** Whether this call created the event (false when an earlier close had). */
  created: boolean;
}

export class BillingService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly system: PrismaClient,
    private readonly log: Logger,
  ) {}

  /**
   * Writes the month's invoice-ready event for every tenant that had usage in it. One INSERT ... ON
   * CONFLICT DO NOTHING against the unique (tenant, type, period): however many closes run at once,
   * on however many instances, each tenant gets exactly one event. Returns the events this call created.
   */
  async closeMonth(month: BillingMonth): Promise<{ tenantId: string; id: string }[]> {
    // One statement, but in a transaction: the embedded database interleaves statements outside one.
    const created = await this.system.$transaction((tx) => this.insertInvoices(tx, month));
    if (created.length > 0) this.log.info('billing period closed', { month: month.label, invoices: created.length });
    return created;
  }

  /** The monthly close the background job runs: the month before `now`. */
  closePreviousMonth(now = new Date()): Promise<{ tenantId: string; id: string }[]> {
    return this.closeMonth(previousMonth(now));
  }

  /** Closes one ended month for one tenant, within its tenant scope; repeating it returns the same event. */
  async closeMonthForTenant(tenantId: string, rawInput: unknown): Promise<ClosedPeriod> {
    const { month } = parseCloseBillingPeriod(rawInput);
    const created = await this.insertInvoices(this.prisma, month, tenantId);
    const event = await this.prisma.billingEvent.findUnique({
      where: { tenantId_eventType_periodStart: { tenantId, eventType: MONTHLY_INVOICE, periodStart: month.start } },
    });
    return { month, event, created: created.length > 0 };
  }

  private insertInvoices(db: TenantDb, month: BillingMonth, tenantId?: string): Promise<{ tenantId: string; id: string }[]> {
    const onlyTenant = tenantId === undefined ? Prisma.sql`TRUE` : Prisma.sql`u.tenant_id = ${tenantId}::uuid`;
    return db.$queryRaw<{ tenantId: string; id: string }[]>`
      WITH per_model AS (
        SELECT u.tenant_id, u.model_id,
               count(*)::int AS requests,
               sum(u.prompt_tokens) AS prompt_tokens,
               sum(u.completion_tokens) AS completion_tokens,
               sum(u.total_tokens) AS total_tokens,
               sum(u.cost_usd) AS amount
        FROM usage_records u
        WHERE u.recorded_at >= ${month.start}::timestamptz AND u.recorded_at < ${month.endExclusive}::timestamptz AND ${onlyTenant}
        GROUP BY u.tenant_id, u.model_id
      ), per_tenant AS (
        SELECT p.tenant_id,
               sum(p.amount) AS amount,
               jsonb_agg(jsonb_build_object(
                 'modelId', m.model_id, 'modelName', m.name, 'requests', p.requests,
                 'promptTokens', p.prompt_tokens, 'completionTokens', p.completion_tokens, 'totalTokens', p.total_tokens,
                 'amountUsd', p.amount::numeric(14, 6)::text
               ) ORDER BY m.model_id) AS line_items
        FROM per_model p JOIN models m ON m.id = p.model_id
        GROUP BY p.tenant_id
      )
      INSERT INTO billing_events (tenant_id, event_type, period_start, period_end, amount_usd, currency, line_items, idempotency_key)
      -- The same key as invoiceIdempotencyKey(tenantId, month).
      SELECT t.tenant_id, ${MONTHLY_INVOICE}, ${formatDate(month.start)}::date, ${formatDate(month.lastDay)}::date, t.amount, 'USD', t.line_items,
             'omega:' || ${MONTHLY_INVOICE} || ':' || t.tenant_id::text || ':' || ${month.label}
      FROM per_tenant t
      ON CONFLICT DO NOTHING
      RETURNING tenant_id::text AS "tenantId", id::text AS id`;
  }

  /**
   * The outbox side: whoever relays events to the payment provider reports each outcome. A sent
   * event is final; a failed one may be reported again (retried) until it is sent.
   */
  async recordDelivery(tenantId: string, id: string, rawInput: unknown): Promise<BillingEvent> {
    const input = parseBillingEventDelivery(rawInput);
    const { count } = await this.prisma.billingEvent.updateMany({
      where: { id, tenantId, status: { in: ['pending', 'failed'] } },
      data:
        input.outcome === 'sent'
          ? { status: 'sent', sentAt: new Date(), lastError: null, attempts: { increment: 1 } }
          : { status: 'failed', lastError: input.error ?? null, attempts: { increment: 1 } },
    });
    const event = await this.prisma.billingEvent.findFirst({ where: { id, tenantId } });
    if (!event) throw new NotFoundError('BillingEvent', id);
    if (count === 0) throw new ConflictError('the billing event was already sent', 'status');
    return event;
  }
}
