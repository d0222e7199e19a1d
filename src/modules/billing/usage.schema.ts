import { resolveOffsetConnection } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import { formatUsd, type UsageGroup, type UsageReportQuery, type UsageTotals } from './usage.service.js';
import { USAGE_DIMENSIONS, USAGE_PERIODS, filterEnvironmentName, filterModelId } from './usage.validation.js';
import { ApiKeyRef } from '../identity/identity-types.schema.js';
import { atLeast, atMost, below, custom, defineList, equals, idIn, idIs } from '../shared/list-query.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';

const enumValues = <T extends string>(values: readonly T[]) =>
  Object.fromEntries(values.map((value) => [value.toUpperCase(), { value }])) as Record<Uppercase<T>, { value: T }>;

export const UsagePeriodEnum = builder.enumType('UsagePeriod', { values: enumValues(USAGE_PERIODS) });
export const UsageDimensionEnum = builder.enumType('UsageDimension', { values: enumValues(USAGE_DIMENSIONS) });

/** API keys and environments are identity's types; usage names them by global ID (ApiKey:<uuid>, Environment:<uuid>). */
const UsageApiKeyRef = builder.objectRef<{ id: string; name: string; keyPrefix: string }>('UsageApiKey').implement({
  description: 'The API key a request was made with',
  fields: (t) => ({
    id: t.globalID({ resolve: (key) => ({ type: 'ApiKey', id: key.id }) }),
    name: t.exposeString('name'),
    keyPrefix: t.exposeString('keyPrefix'),
  }),
});

const UsageEnvironmentRef = builder.objectRef<{ id: string; name: string }>('UsageEnvironment').implement({
  description: 'The environment (dev, staging, prod) a request was made in',
  fields: (t) => ({
    id: t.globalID({ resolve: (environment) => ({ type: 'Environment', id: environment.id }) }),
    name: t.exposeString('name'),
  }),
});

const UsageModelRef = builder.objectRef<{ id: string; modelId: string; name: string }>('UsageModel').implement({
  description: 'The catalog model a request used',
  fields: (t) => ({
    modelId: t.exposeString('modelId', { description: "The catalog's model id, e.g. meta-llama/Llama-3.1-8B-Instruct" }),
    name: t.exposeString('name'),
  }),
});

export const UsageRecordRef = builder.prismaNode('UsageRecord', {
  description: 'One LLM request: its tokens and what it cost at the prices of the time',
  id: { field: 'id' },
  fields: (t) => ({
    requestId: t.exposeString('requestId'),
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
    totalTokens: t.exposeInt('totalTokens'),
    costUsd: t.string({ description: 'Exact USD amount with six decimals', resolve: (r) => formatUsd(r.costUsd) }),
    latencyMs: t.exposeFloat('latencyMs', { nullable: true }),
    recordedAt: t.expose('recordedAt', { type: 'DateTime' }),
    model: t.field({
      type: UsageModelRef,
      select: { model: { select: { id: true, modelId: true, name: true } } },
      resolve: (r) => r.model,
    }),
    apiKey: t.field({
      type: UsageApiKeyRef,
      nullable: true,
      select: { apiKey: { select: { id: true, name: true, keyPrefix: true } } },
      resolve: (r) => r.apiKey,
    }),
    environment: t.field({
      type: UsageEnvironmentRef,
      nullable: true,
      select: { environment: { select: { id: true, name: true } } },
      resolve: (r) => r.environment,
    }),
  }),
});

const UsageTotalsRef = builder.objectRef<UsageTotals>('UsageTotals').implement({
  description: 'Sums over a set of usage records',
  fields: (t) => ({
    requests: t.exposeInt('requests'),
    promptTokens: t.exposeFloat('promptTokens'),
    completionTokens: t.exposeFloat('completionTokens'),
    totalTokens: t.exposeFloat('totalTokens'),
    costUsd: t.exposeString('costUsd', { description: 'Exact USD amount with six decimals' }),
  }),
});

const UsageGroupRef = builder.objectRef<UsageGroup>('UsageGroup').implement({
  description: 'Usage of one period bucket and one value of each grouped dimension; ungrouped parts are null',
  fields: (t) => ({
    periodStart: t.expose('periodStart', { type: 'DateTime', nullable: true }),
    apiKey: t.field({ type: UsageApiKeyRef, nullable: true, resolve: (group) => group.apiKey }),
    model: t.field({ type: UsageModelRef, nullable: true, resolve: (group) => group.model }),
    environment: t.field({ type: UsageEnvironmentRef, nullable: true, resolve: (group) => group.environment }),
    totals: t.field({ type: UsageTotalsRef, resolve: (group) => group.totals }),
  }),
});

const UsageReportRef = builder.objectRef<UsageReportQuery>('UsageReport').implement({
  description: "The tenant's usage over the filter: totals, and groups by period and dimensions",
  fields: (t) => ({
    from: t.field({ type: 'DateTime', nullable: true, resolve: (query) => query.filter.from ?? null }),
    to: t.field({ type: 'DateTime', nullable: true, resolve: (query) => query.filter.to ?? null }),
    period: t.field({ type: UsagePeriodEnum, nullable: true, resolve: (query) => query.grouping.period ?? null }),
    totals: t.field({ type: UsageTotalsRef, resolve: (query, _args, ctx) => ctx.services.usage.totals(query) }),
    groups: t.connection({
      type: UsageGroupRef,
      description: 'One entry per period bucket and grouped dimension values, oldest bucket first',
      resolve: (query, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, (page) => ctx.services.usage.groups(query, page)),
    }),
  }),
});

/** The usage report's filter; the record list declares its own, with composition and more fields. */
const UsageFilter = builder.inputType('UsageFilter', {
  fields: (t) => ({
    from: t.field({ type: 'DateTime', required: false, description: 'Records at or after this instant' }),
    to: t.field({ type: 'DateTime', required: false, description: 'Records before this instant' }),
    apiKeyId: t.globalID({ required: false, description: 'Only requests made with this API key' }),
    model: t.string({ required: false, description: 'Only this catalog model id' }),
    environment: t.string({ required: false, description: 'Only this environment, by name (dev, staging, prod)' }),
  }),
});

interface UsageFilterArg {
  from?: Date | null;
  to?: Date | null;
  apiKeyId?: { typename: string; id: string } | null;
  model?: string | null;
  environment?: string | null;
}

/** Unwraps the filter's global IDs; an ID of another type is refused rather than silently matching nothing. */
function filterInput(filter: UsageFilterArg | null | undefined) {
  if (!filter) return {};
  if (filter.apiKeyId && filter.apiKeyId.typename !== 'ApiKey') throw new ValidationError([{ path: 'filter.apiKeyId', message: 'must be an ApiKey ID' }]);
  return { from: filter.from, to: filter.to, apiKeyId: filter.apiKeyId?.id, modelId: filter.model, environment: filter.environment };
}

const usageRecordList = defineList({
  name: 'UsageRecord',
  filter: {
    from: atLeast('recordedAt', 'DateTime', 'Records at or after this instant'),
    to: below('recordedAt', 'DateTime', 'Records before this instant'),
    apiKeyId: idIs(ApiKeyRef, 'apiKeyId', 'Only requests made with this API key'),
    apiKeyIdIn: idIn(ApiKeyRef, 'apiKeyId', 'Requests made with any of these API keys'),
    model: custom(
      (t) => t.string({ required: false, description: 'Only this catalog model id' }),
      (value, path) => ({ model: { modelId: filterModelId(value, path) } }),
    ),
    modelIn: custom(
      (t) => t.stringList({ required: false, description: 'Any of these catalog model ids' }),
      (value, path) => ({ model: { modelId: { in: (value as unknown[]).map((id, index) => filterModelId(id, `${path}.${index}`)) } } }),
    ),
    environment: custom(
      (t) => t.string({ required: false, description: 'Only this environment, by name (dev, staging, prod)' }),
      (value, path) => ({ environment: { name: filterEnvironmentName(value, path) } }),
    ),
    requestId: equals('String', undefined, "The caller's id for the request"),
    minTotalTokens: atLeast('totalTokens', 'Int'),
    maxTotalTokens: atMost('totalTokens', 'Int'),
    minCostUsd: atLeast('costUsd', 'Float'),
    maxCostUsd: atMost('costUsd', 'Float'),
    minLatencyMs: atLeast('latencyMs', 'Float'),
    maxLatencyMs: atMost('latencyMs', 'Float'),
  },
  orderBy: {
    RECORDED_AT: 'recordedAt',
    TOTAL_TOKENS: 'totalTokens',
    COST_USD: 'costUsd',
    LATENCY_MS: { column: 'latencyMs', nulls: 'last' },
  },
  defaultOrder: ['RECORDED_AT', 'desc'],
  tieBreakers: ['seq', 'id'],
});

builder.queryFields((t) => ({
  usageRecords: t.prismaConnection({
    type: 'UsageRecord',
    cursor: 'id',
    description: "The tenant's usage records, newest first unless ordered otherwise",
    authScopes: { permission: 'usage:read' },
    args: { filter: t.arg({ type: usageRecordList.Filter, required: false }), orderBy: t.arg({ type: [usageRecordList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.usageRecord.count({ where: usageRecordList.where({ tenantId: tenantOf(ctx) }, args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.usageRecord.findMany(usageRecordList.page(query, { tenantId: tenantOf(ctx) }, args))),
  }),
  usageReport: t.field({
    type: UsageReportRef,
    description: "Usage totals of the caller's tenant, optionally grouped by period (day, month), API key, model and environment",
    authScopes: { permission: 'usage:read' },
    errors: mutationErrors('UsageReport', 'report', [ValidationError]),
    args: {
      filter: t.arg({ type: UsageFilter, required: false }),
      period: t.arg({ type: UsagePeriodEnum, required: false, description: 'Bucket the groups by day or month (UTC)' }),
      groupBy: t.arg({ type: [UsageDimensionEnum], required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.usage.parseReportQuery(tenantOf(ctx), filterInput(args.filter), { period: args.period, groupBy: args.groupBy ?? [] }),
  }),
}));

const RecordUsageInput = builder.inputType('RecordUsageInput', {
  fields: (t) => ({
    requestId: t.string({ required: true, description: 'The caller\'s id for the request; recording it again is a no-op' }),
    model: t.string({ required: true, description: "The catalog's model id" }),
    promptTokens: t.int({ required: true }),
    completionTokens: t.int({ required: true }),
    latencyMs: t.float({ required: false }),
    recordedAt: t.field({ type: 'DateTime', required: false, description: 'When the request was served; defaults to now' }),
    environment: t.string({
      required: false,
      description: "For users: the environment by name. An API key always records in its own environment",
    }),
  }),
});

builder.mutationFields((t) => ({
  recordUsage: t.field({
    type: UsageRecordRef,
    description: 'Records one LLM request for billing; idempotent per requestId',
    authScopes: { permission: 'usage:write' },
    errors: mutationErrors('RecordUsage', 'usageRecord', [ValidationError, NotFoundError, ConflictError]),
    args: { input: t.arg({ type: RecordUsageInput, required: true }) },
    resolve: async (_root, args, ctx) => {
      const principal = ctx.principal!;
      const { record } = await ctx.services.usage.recordUsage(
        { tenantId: tenantOf(ctx), apiKeyId: principal.apiKeyId, environmentId: principal.environmentId },
        args.input,
      );
      return record;
    },
  }),
}));
