import { Prisma, type PrismaClient, type UsageRecord } from '../../generated/prisma/client.js';
import { runInTenant } from '../../infra/tenant-scope.js';
import { ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import { MONTHLY_INVOICE, monthOf } from './billing.period.js';
import {
  parseRecordLlmRequest,
  parseRecordUsage,
  parseUsageFilter,
  type ParsedLlmRequest,
  parseUsageGrouping,
  type RecordLlmRequestInput,
  type UsageDimension,
  type UsageFilter,
  type UsageGrouping,
} from './usage.validation.js';
import { isUuid } from '../shared/validation.js';

/** A tenant-scoped client, or a transaction of one, so a caller can record usage inside its own transaction. */
export type TenantDb = PrismaClient | Prisma.TransactionClient;

const TOKENS_PER_PRICE_UNIT = 1_000_000;

/** Money is kept exact: USD with six decimals, as cost_usd stores it. */
export const formatUsd = (amount: Prisma.Decimal | string): string => new Prisma.Decimal(amount).toFixed(6);

/** What a request costs at the model's prices per million tokens, rounded half-up to a millionth of a dollar. */
export function requestCost(
  promptTokens: number,
  completionTokens: number,
  priceInputPerMillion: Prisma.Decimal,
  priceOutputPerMillion: Prisma.Decimal,
): Prisma.Decimal {
  return priceInputPerMillion
    .mul(promptTokens)
    .plus(priceOutputPerMillion.mul(completionTokens))
    .div(TOKENS_PER_PRICE_UNIT)
    .toDecimalPlaces(6, Prisma.Decimal.ROUND_HALF_UP);
}

/** Who records usage through the API: an API key carries its own id and environment. */
export interface UsageCaller {
  tenantId: string;
  apiKeyId: string | null;
  environmentId: string | null;
}

export interface UsageTotals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Exact decimal string, e.g. "12.345678". */
  costUsd: string;
}

export interface UsageGroup {
  periodStart: Date | null;
  apiKey: { id: string; name: string; keyPrefix: string } | null;
  model: { id: string; modelId: string; name: string } | null;
  environment: { id: string; name: string } | null;
  totals: UsageTotals;
}

export interface UsageReportQuery {
  tenantId: string;
  filter: UsageFilter;
  grouping: UsageGrouping;
}

interface TotalsRow {
  requests: number;
  prompt_tokens: string;
  completion_tokens: string;
  total_tokens: string;
  cost_usd: string;
}

interface GroupRow extends TotalsRow {
  period_start: Date | null;
  api_key_id: string | null;
  api_key_name: string | null;
  api_key_prefix: string | null;
  model_uuid: string | null;
  model_id: string | null;
  model_name: string | null;
  environment_id: string | null;
  environment_name: string | null;
}

const totalsOf = (row: TotalsRow | undefined): UsageTotals => ({
  requests: row?.requests ?? 0,
  promptTokens: Number(row?.prompt_tokens ?? 0),
  completionTokens: Number(row?.completion_tokens ?? 0),
  totalTokens: Number(row?.total_tokens ?? 0),
  costUsd: formatUsd(row?.cost_usd ?? '0'),
});

const TOTALS_SQL = Prisma.sql`count(*)::int AS requests,
  coalesce(sum(u.prompt_tokens), 0)::text AS prompt_tokens,
  coalesce(sum(u.completion_tokens), 0)::text AS completion_tokens,
  coalesce(sum(u.total_tokens), 0)::text AS total_tokens,
  coalesce(sum(u.cost_usd), 0)::text AS cost_usd`;

/** Each grouping dimension: the columns it selects (always all of them, NULL when not grouped). */
const DIMENSION_COLUMNS: Record<UsageDimension, { grouped: Prisma.Sql; absent: Prisma.Sql; order: Prisma.Sql }> = {
  api_key: {
    grouped: Prisma.sql`u.api_key_id AS api_key_id, k.name AS api_key_name, k.key_prefix AS api_key_prefix`,
    absent: Prisma.sql`NULL::uuid AS api_key_id, NULL::text AS api_key_name, NULL::text AS api_key_prefix`,
    order: Prisma.sql`k.name NULLS FIRST, u.api_key_id NULLS FIRST`,
  },
  model: {
    grouped: Prisma.sql`m.id AS model_uuid, m.model_id AS model_id, m.name AS model_name`,
    absent: Prisma.sql`NULL::uuid AS model_uuid, NULL::text AS model_id, NULL::text AS model_name`,
    order: Prisma.sql`m.model_id`,
  },
  environment: {
    grouped: Prisma.sql`u.environment_id AS environment_id, e.name AS environment_name`,
    absent: Prisma.sql`NULL::uuid AS environment_id, NULL::text AS environment_name`,
    order: Prisma.sql`e.name NULLS FIRST`,
  },
};

/** GROUP BY keys of each dimension; names of joined rows are functionally dependent on them. */
const DIMENSION_KEYS: Record<UsageDimension, Prisma.Sql> = {
  api_key: Prisma.sql`u.api_key_id, k.name, k.key_prefix`,
  model: Prisma.sql`m.id, m.model_id, m.name`,
  environment: Prisma.sql`u.environment_id, e.name`,
};

export class UsageService {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Records one LLM request for billing, at the model's current prices. Idempotent per tenant and
   * requestId: a replay returns the first record; a different request under the same id is a conflict.
   * `db` defaults to the tenant client; pass a transaction of it to record inside the caller's own.
   */
  async recordLlmRequest(rawInput: RecordLlmRequestInput, db: TenantDb = this.prisma): Promise<{ record: UsageRecord; created: boolean }> {
    const input = parseRecordLlmRequest(rawInput);
    // One transaction for the checks and the insert: fewer round trips, and one tenant scope, the
    // input's tenant, so callers outside a request (a pub/sub handler, a job) need no scope of their own.
    if (!('$transaction' in db)) return this.record(db, input);
    return runInTenant(input.tenantId, () => db.$transaction((tx) => this.record(tx, input)));
  }

  private async record(db: Prisma.TransactionClient, input: ParsedLlmRequest): Promise<{ record: UsageRecord; created: boolean }> {
    const { tenantId } = input;
    const model = await db.model.findFirst({
      where: isUuid(input.modelId) ? { OR: [{ id: input.modelId }, { modelId: input.modelId }] } : { modelId: input.modelId },
      select: { id: true, priceInputPerMillion: true, priceOutputPerMillion: true },
    });
    if (!model) throw new NotFoundError('Model', input.modelId);

    let environmentId = input.environmentId ?? null;
    if (input.apiKeyId) {
      // Foreign keys are checked without row-level security, so ownership is checked here.
      const key = await db.apiKey.findFirst({ where: { id: input.apiKeyId, tenantId }, select: { environmentId: true } });
      if (!key) throw new NotFoundError('ApiKey', input.apiKeyId);
      if (environmentId && environmentId !== key.environmentId) throw new ConflictError('the API key belongs to another environment', 'environmentId');
      environmentId = key.environmentId;
    }
    if (environmentId && !input.apiKeyId) {
      const found = await db.environment.count({ where: { id: environmentId, tenantId } });
      if (found === 0) throw new NotFoundError('Environment', environmentId);
    }
    if (input.nodeId) {
      const found = await db.node.count({ where: { id: input.nodeId, tenantId } });
      if (found === 0) throw new NotFoundError('Node', input.nodeId);
    }
    if (input.recordedAt) await this.refuseClosedPeriod(db, tenantId, input.recordedAt);

    const data = {
      tenantId,
      environmentId,
      apiKeyId: input.apiKeyId ?? null,
      modelId: model.id,
      nodeId: input.nodeId ?? null,
      requestId: input.requestId,
      promptTokens: input.promptTokens,
      completionTokens: input.completionTokens,
      totalTokens: input.promptTokens + input.completionTokens,
      costUsd: requestCost(input.promptTokens, input.completionTokens, model.priceInputPerMillion, model.priceOutputPerMillion),
      latencyMs: input.latencyMs ?? null,
      ...(input.recordedAt ? { recordedAt: input.recordedAt } : {}),
    };
    // ON CONFLICT DO NOTHING: concurrent replays of one request settle on a single row.
    const [inserted] = await db.usageRecord.createManyAndReturn({ data: [data], skipDuplicates: true });
    if (inserted) return { record: inserted, created: true };
    const record = await db.usageRecord.findUniqueOrThrow({ where: { tenantId_requestId: { tenantId, requestId: input.requestId } } });
    const same =
      record.modelId === data.modelId &&
      record.promptTokens === data.promptTokens &&
      record.completionTokens === data.completionTokens &&
      record.apiKeyId === data.apiKeyId;
    if (!same) throw new ConflictError(`request ${input.requestId} was already recorded with different usage`, 'requestId');
    return { record, created: false };
  }

  /**
   * Records usage for a caller of the API: an API key records in its own environment under its own
   * id; a user names the environment, if any, by name.
   */
  async recordUsage(caller: UsageCaller, rawInput: unknown): Promise<{ record: UsageRecord; created: boolean }> {
    const input = parseRecordUsage(rawInput);
    let environmentId = caller.environmentId;
    if (caller.apiKeyId) {
      if (input.environment) throw new ValidationError([{ path: 'environment', message: 'an API key records usage in its own environment' }]);
    } else if (input.environment) {
      const environment = await this.prisma.environment.findFirst({ where: { tenantId: caller.tenantId, name: input.environment }, select: { id: true } });
      if (!environment) throw new NotFoundError('Environment', input.environment);
      environmentId = environment.id;
    }
    return this.recordLlmRequest({
      tenantId: caller.tenantId,
      environmentId,
      apiKeyId: caller.apiKeyId,
      modelId: input.model,
      requestId: input.requestId,
      promptTokens: input.promptTokens,
      completionTokens: input.completionTokens,
      latencyMs: input.latencyMs,
      recordedAt: input.recordedAt,
    });
  }

  /** Usage recorded in a month whose invoice exists would never be billed; such late records are refused. */
  private async refuseClosedPeriod(db: Prisma.TransactionClient, tenantId: string, recordedAt: Date): Promise<void> {
    const { start } = monthOf(recordedAt);
    const now = new Date();
    if (start.getTime() >= Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)) return;
    const closed = await db.billingEvent.count({ where: { tenantId, eventType: MONTHLY_INVOICE, periodStart: start } });
    if (closed > 0) throw new ConflictError(`the billing period ${start.toISOString().slice(0, 7)} is already closed`, 'recordedAt');
  }

  parseReportQuery(tenantId: string, filter: unknown, grouping: unknown): UsageReportQuery {
    return { tenantId, filter: parseUsageFilter(filter), grouping: parseUsageGrouping(grouping) };
  }

  /** Totals over every record the filter selects. */
  async totals(query: UsageReportQuery): Promise<UsageTotals> {
    const rows = await this.prisma.$queryRaw<TotalsRow[]>`
      SELECT ${TOTALS_SQL}
      FROM usage_records u
      JOIN models m ON m.id = u.model_id
      LEFT JOIN environments e ON e.environment_id = u.environment_id
      WHERE ${this.where(query)}`;
    return totalsOf(rows[0]);
  }

  /** Totals per period bucket and dimension, ordered by period then by the dimensions' names. */
  async groups(query: UsageReportQuery, page: { limit: number; offset: number }): Promise<UsageGroup[]> {
    const { period, groupBy } = query.grouping;
    const dimensions = (['api_key', 'model', 'environment'] as const).map((dimension) => ({ dimension, grouped: groupBy.includes(dimension) }));
    const groupedDimensions = dimensions.filter((d) => d.grouped);
    // Positional GROUP BY 1 keeps the bucket expression, whose unit is a bound parameter, identical.
    const periodColumn = period ? Prisma.sql`date_trunc(${period}, u.recorded_at, 'UTC') AS period_start` : Prisma.sql`NULL::timestamptz AS period_start`;
    const keys = [...(period ? [Prisma.sql`1`] : []), ...groupedDimensions.map((d) => DIMENSION_KEYS[d.dimension])];
    const order = [...(period ? [Prisma.sql`1`] : []), ...groupedDimensions.map((d) => DIMENSION_COLUMNS[d.dimension].order)];
    const rows = await this.prisma.$queryRaw<GroupRow[]>`
      SELECT ${periodColumn},
             ${Prisma.join(dimensions.map((d) => (d.grouped ? DIMENSION_COLUMNS[d.dimension].grouped : DIMENSION_COLUMNS[d.dimension].absent)))},
             ${TOTALS_SQL}
      FROM usage_records u
      JOIN models m ON m.id = u.model_id
      LEFT JOIN api_keys k ON k.api_key_id = u.api_key_id
      LEFT JOIN environments e ON e.environment_id = u.environment_id
      WHERE ${this.where(query)}
      ${keys.length > 0 ? Prisma.sql`GROUP BY ${Prisma.join(keys)}` : Prisma.empty}
      ${order.length > 0 ? Prisma.sql`ORDER BY ${Prisma.join(order)}` : Prisma.empty}
      LIMIT ${page.limit} OFFSET ${page.offset}`;
    return rows.map((row) => ({
      periodStart: row.period_start,
      apiKey: row.api_key_id ? { id: row.api_key_id, name: row.api_key_name ?? '', keyPrefix: row.api_key_prefix ?? '' } : null,
      model: row.model_uuid ? { id: row.model_uuid, modelId: row.model_id ?? '', name: row.model_name ?? '' } : null,
      environment: row.environment_id ? { id: row.environment_id, name: row.environment_name ?? '' } : null,
      totals: totalsOf(row),
    }));
  }

  private where({ tenantId, filter }: UsageReportQuery): Prisma.Sql {
    const conditions = [Prisma.sql`u.tenant_id = ${tenantId}::uuid`];
    if (filter.from) conditions.push(Prisma.sql`u.recorded_at >= ${filter.from}::timestamptz`);
    if (filter.to) conditions.push(Prisma.sql`u.recorded_at < ${filter.to}::timestamptz`);
    if (filter.apiKeyId) conditions.push(Prisma.sql`u.api_key_id = ${filter.apiKeyId}::uuid`);
    if (filter.modelId) conditions.push(Prisma.sql`m.model_id = ${filter.modelId}`);
    if (filter.environment) conditions.push(Prisma.sql`e.name = ${filter.environment}`);
    return Prisma.join(conditions, ' AND ');
  }
}
