import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { withGraphQLErrors } from '../shared/graphql-errors.js';
import { anyOf, atLeast, atMost, defineList } from '../shared/list-query.js';
import { parseSummaryRange } from './summary.validation.js';

export const DailyMetricsSummaryRef = builder.prismaObject('DailyMetricsSummary', {
  description: "One UTC day of the tenant's LLM traffic and host peaks, computed after the day ends",
  fields: (t) => ({
    id: t.exposeID('id'),
    date: t.string({ description: 'YYYY-MM-DD (UTC)', resolve: (summary) => summary.date.toISOString().slice(0, 10) }),
    totalRequests: t.exposeInt('totalRequests'),
    totalTokensGenerated: t.float({ resolve: (summary) => Number(summary.totalTokensGenerated) }),
    avgTokensPerSecond: t.exposeFloat('avgTokensPerSecond', { nullable: true }),
    avgResponseTimeMs: t.exposeFloat('avgResponseTimeMs', { nullable: true }),
    cacheHits: t.exposeInt('cacheHits'),
    cacheMisses: t.exposeInt('cacheMisses'),
    mostUsedModel: t.exposeString('mostUsedModel', { nullable: true }),
    peakCpuPercent: t.exposeFloat('peakCpuPercent', { nullable: true }),
    peakMemoryPercent: t.exposeFloat('peakMemoryPercent', { nullable: true }),
    peakGpuPercent: t.exposeFloat('peakGpuPercent', { nullable: true }),
    computedAt: t.expose('computedAt', { type: 'DateTime' }),
  }),
});

const dailySummaryList = defineList({
  name: 'DailyMetricsSummary',
  filter: {
    mostUsedModel: anyOf('String', undefined, 'Days whose most used model is any of these catalog keys'),
    minTotalRequests: atLeast('totalRequests', 'Int'),
    maxTotalRequests: atMost('totalRequests', 'Int'),
    minPeakCpuPercent: atLeast('peakCpuPercent', 'Float'),
    maxPeakCpuPercent: atMost('peakCpuPercent', 'Float'),
    minPeakGpuPercent: atLeast('peakGpuPercent', 'Float'),
    maxPeakGpuPercent: atMost('peakGpuPercent', 'Float'),
  },
  orderBy: {
    DATE: 'date',
    TOTAL_REQUESTS: 'totalRequests',
    TOTAL_TOKENS_GENERATED: 'totalTokensGenerated',
    CACHE_HITS: 'cacheHits',
    PEAK_CPU_PERCENT: { column: 'peakCpuPercent', nulls: 'last' },
    PEAK_GPU_PERCENT: { column: 'peakGpuPercent', nulls: 'last' },
  },
  defaultOrder: ['DATE', 'desc'],
  tieBreakers: ['id'],
});

/** The tenant's summaries between two optional days (inclusive). */
function summaryScope(tenantId: string, args: { from?: string | null; to?: string | null }) {
  const range = parseSummaryRange({ from: args.from ?? undefined, to: args.to ?? undefined });
  return {
    tenantId,
    ...(range.from || range.to ? { date: { ...(range.from ? { gte: range.from } : {}), ...(range.to ? { lte: range.to } : {}) } } : {}),
  };
}

builder.queryFields((t) => ({
  dailyMetricsSummaries: t.prismaConnection({
    type: 'DailyMetricsSummary',
    cursor: 'id',
    description: "The tenant's daily summaries, newest day first unless ordered otherwise, optionally between two days (inclusive)",
    authScopes: { permission: 'metrics:read' },
    args: {
      from: t.arg.string({ required: false, description: 'YYYY-MM-DD' }),
      to: t.arg.string({ required: false, description: 'YYYY-MM-DD' }),
      filter: t.arg({ type: dailySummaryList.Filter, required: false }),
      orderBy: t.arg({ type: [dailySummaryList.Order], required: false }),
    },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(async () => ctx.prisma.dailyMetricsSummary.count({ where: dailySummaryList.where(summaryScope(tenantOf(ctx), args), args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(async () => ctx.prisma.dailyMetricsSummary.findMany(dailySummaryList.page(query, summaryScope(tenantOf(ctx), args), args))),
  }),
}));
