import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { withGraphQLErrors } from '../shared/graphql-errors.js';
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

builder.queryFields((t) => ({
  dailyMetricsSummaries: t.prismaConnection({
    type: 'DailyMetricsSummary',
    cursor: 'id',
    description: "The tenant's daily summaries, newest day first, optionally between two days (inclusive)",
    authScopes: { permission: 'metrics:read' },
    args: {
      from: t.arg.string({ required: false, description: 'YYYY-MM-DD' }),
      to: t.arg.string({ required: false, description: 'YYYY-MM-DD' }),
    },
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(async () => {
        const range = parseSummaryRange({ from: args.from ?? undefined, to: args.to ?? undefined });
        return ctx.prisma.dailyMetricsSummary.findMany({
          ...query,
          where: {
            tenantId: tenantOf(ctx),
            ...(range.from || range.to ? { date: { ...(range.from ? { gte: range.from } : {}), ...(range.to ? { lte: range.to } : {}) } } : {}),
          },
          orderBy: [{ date: 'desc' }, { id: 'desc' }],
        });
      }),
  }),
}));
