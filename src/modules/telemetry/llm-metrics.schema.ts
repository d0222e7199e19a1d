import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { compact } from '../shared/graphql.js';
import { ClusterNodeRef } from '../cluster/node.schema.js';
import { ValidationError } from '../shared/errors.js';
import type { LlmStatsRow } from './llm-metrics.service.js';
import { MetricBucketEnum } from './metrics.schema.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';
import { anyOf, atLeast, atMost, below, defineList, equals, idIn, idIs } from '../shared/list-query.js';
import { ChatSessionRef } from '../ai/conversation.schema.js';

export const LlmRequestMetricsRef = builder.prismaObject('LlmMetric', {
  name: 'LlmRequestMetrics',
  description: 'How one LLM request was generated',
  fields: (t) => ({
    id: t.exposeID('id'),
    timestamp: t.expose('timestamp', { type: 'DateTime' }),
    modelId: t.exposeString('modelId', { description: "The model's catalog key" }),
    requestId: t.exposeString('requestId'),
    chatSessionId: t.field({
      type: 'ID',
      nullable: true,
      resolve: (metric) => (metric.chatSessionId ? encodeGlobalID('ChatSession', metric.chatSessionId) : null),
    }),
    nodeId: t.field({
      type: 'ID',
      nullable: true,
      resolve: (metric) => (metric.nodeId ? encodeGlobalID('ClusterNode', metric.nodeId) : null),
    }),
    tokensGenerated: t.exposeInt('tokensGenerated'),
    generationTimeMs: t.exposeFloat('generationTimeMs'),
    tokensPerSecond: t.exposeFloat('tokensPerSecond', { nullable: true }),
    timeToFirstTokenMs: t.exposeFloat('timeToFirstTokenMs', { nullable: true }),
    cacheHit: t.exposeBoolean('cacheHit'),
    promptTokens: t.exposeInt('promptTokens', { nullable: true }),
    totalTokens: t.exposeInt('totalTokens', { nullable: true }),
    parameters: t.expose('parameters', { type: 'JSON', nullable: true }),
  }),
});

// Chat messages get their request's metrics here, so the AI module does not depend on telemetry.
builder.prismaObjectField('Message', 'generation', (t) =>
  t.field({
    type: LlmRequestMetricsRef,
    nullable: true,
    description: "The metrics recorded for this message's request",
    resolve: (message, _args, ctx) =>
      message.requestId
        ? ctx.prisma.llmMetric.findFirst({ where: { tenantId: message.tenantId, requestId: message.requestId }, orderBy: { timestamp: 'desc' } })
        : null,
  }),
);

const LlmStatsRef = builder.objectRef<LlmStatsRow>('LlmStats').implement({
  description: "One model's requests in one period (or the whole range)",
  fields: (t) => ({
    modelId: t.exposeString('modelId'),
    periodStart: t.expose('periodStart', { type: 'DateTime', nullable: true, description: 'null when the range is one period' }),
    requests: t.exposeInt('requests'),
    tokensGenerated: t.exposeFloat('tokensGenerated'),
    promptTokens: t.exposeFloat('promptTokens'),
    avgTokensPerSecond: t.exposeFloat('avgTokensPerSecond', { nullable: true }),
    p50LatencyMs: t.exposeFloat('p50LatencyMs', { description: 'Median generation time' }),
    p95LatencyMs: t.exposeFloat('p95LatencyMs'),
    p99LatencyMs: t.exposeFloat('p99LatencyMs'),
    avgTimeToFirstTokenMs: t.exposeFloat('avgTimeToFirstTokenMs', { nullable: true }),
    cacheHits: t.exposeInt('cacheHits'),
    cacheHitRate: t.exposeFloat('cacheHitRate', { description: 'Share of requests answered from the cache, 0 to 1' }),
  }),
});

const RecordLlmMetricsInput = builder.inputType('RecordLlmMetricsInput', {
  fields: (t) => ({
    modelId: t.string({ required: true, description: "The model's catalog key, e.g. llama3-8b-q4" }),
    requestId: t.string({ required: true }),
    chatSessionId: t.globalID({ required: false }),
    nodeId: t.globalID({ required: false, for: ClusterNodeRef }),
    timestamp: t.field({ type: 'DateTime', required: false }),
    tokensGenerated: t.int({ required: true }),
    generationTimeMs: t.float({ required: true }),
    tokensPerSecond: t.float({ required: false, description: 'Derived from tokensGenerated and generationTimeMs when absent' }),
    timeToFirstTokenMs: t.float({ required: false }),
    cacheHit: t.boolean({ required: false }),
    promptTokens: t.int({ required: false }),
    totalTokens: t.int({ required: false }),
    parameters: t.field({ type: 'JSON', required: false, description: 'Generation parameters: temperature, top_p, ...' }),
  }),
});

const llmMetricsList = defineList({
  name: 'LlmMetrics',
  model: 'LlmMetric',
  filter: {
    modelId: equals('String', undefined, "The model's catalog key"),
    requestId: equals('String'),
    from: atLeast('timestamp', 'DateTime', 'Inclusive'),
    to: below('timestamp', 'DateTime', 'Exclusive'),
    modelIdIn: anyOf('String', 'modelId'),
    nodeId: idIs(ClusterNodeRef, 'nodeId'),
    nodeIdIn: idIn(ClusterNodeRef, 'nodeId'),
    chatSessionId: idIs(ChatSessionRef, 'chatSessionId', 'Requests of this chat session'),
    cacheHit: equals('Boolean'),
    minTokensGenerated: atLeast('tokensGenerated', 'Int'),
    maxTokensGenerated: atMost('tokensGenerated', 'Int'),
    minGenerationTimeMs: atLeast('generationTimeMs', 'Float'),
    maxGenerationTimeMs: atMost('generationTimeMs', 'Float'),
  },
  orderBy: {
    TIMESTAMP: 'timestamp',
    GENERATION_TIME_MS: 'generationTimeMs',
    TOKENS_GENERATED: 'tokensGenerated',
    TOKENS_PER_SECOND: { column: 'tokensPerSecond', nulls: 'last' },
    MODEL_ID: 'modelId',
  },
  defaultOrder: ['TIMESTAMP', 'desc'],
  tieBreakers: ['seq', 'id'],
});

builder.queryFields((t) => ({
  llmMetrics: t.prismaConnection({
    type: LlmRequestMetricsRef,
    cursor: 'id_timestamp',
    description: "The tenant's recorded LLM requests, newest first unless ordered otherwise",
    authScopes: { permission: 'metrics:read' },
    args: { filter: t.arg({ type: llmMetricsList.Filter, required: false }), orderBy: t.arg({ type: [llmMetricsList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.llmMetric.count({ where: llmMetricsList.where({ tenantId: tenantOf(ctx) }, args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.llmMetric.findMany(llmMetricsList.page(query, { tenantId: tenantOf(ctx) }, args))),
  }),
  llmStats: t.field({
    type: [LlmStatsRef],
    description: 'Per model, and per period when a bucket is given: throughput, latency percentiles and cache hit rate over [from, to)',
    authScopes: { permission: 'metrics:read' },
    args: {
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime', required: true }),
      modelId: t.arg.string({ required: false }),
      bucket: t.arg({ type: MetricBucketEnum, required: false }),
    },
    resolve: (_root, args, ctx) =>
      withGraphQLErrors(() =>
        ctx.services.llmMetrics.llmStats(tenantOf(ctx), {
          from: args.from,
          to: args.to,
          modelId: args.modelId ?? undefined,
          bucketSeconds: args.bucket ?? undefined,
        }),
      ),
  }),
}));

builder.mutationFields((t) => ({
  recordLlmMetrics: t.field({
    type: LlmRequestMetricsRef,
    description: "Records one LLM request's generation metrics",
    authScopes: { permission: 'metrics:write' },
    errors: mutationErrors('RecordLlmMetrics', 'metrics', [ValidationError]),
    args: { input: t.arg({ type: RecordLlmMetricsInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.llmMetrics.recordLlmMetrics(tenantOf(ctx), ctx.principal?.apiKeyId ?? null, {
        ...compact(args.input),
        chatSessionId: args.input.chatSessionId?.id,
        nodeId: args.input.nodeId?.id,
      }),
  }),
}));
