import { resolveArrayConnection } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { SessionStatusEnum, SessionTypeEnum } from '../workloads/session.schema.js';
import type { ClusterSummary, SessionStatsRow } from './cluster-views.service.js';

const ClusterSummaryRef = builder.objectRef<ClusterSummary>('ClusterSummary').implement({
  description: "The tenant's nodes rolled up, as of the last refresh of the cluster_summary view",
  fields: (t) => ({
    totalNodes: t.exposeInt('totalNodes'),
    activeNodes: t.exposeInt('activeNodes'),
    totalCpuCores: t.exposeFloat('totalCpuCores'),
    totalMemoryGb: t.exposeFloat('totalMemoryGb'),
    totalGpus: t.exposeInt('totalGpus'),
    avgHeartbeatAgeSeconds: t.exposeFloat('avgHeartbeatAgeSeconds', { nullable: true }),
    refreshedAt: t.expose('refreshedAt', { type: 'DateTime' }),
  }),
});

const SessionStatsRowRef = builder.objectRef<SessionStatsRow>('SessionStatsRow').implement({
  description: 'Sessions created in the 24 hours before the last refresh of the session_stats view, of one type and status',
  fields: (t) => ({
    sessionType: t.field({ type: SessionTypeEnum, resolve: (row) => row.sessionType as never }),
    status: t.field({ type: SessionStatusEnum, resolve: (row) => row.status as never }),
    sessionCount: t.exposeInt('sessionCount'),
    avgDurationMinutes: t.exposeFloat('avgDurationMinutes', { nullable: true }),
    totalCpuRequest: t.exposeFloat('totalCpuRequest'),
    totalMemoryRequestGb: t.exposeFloat('totalMemoryRequestGb'),
    refreshedAt: t.expose('refreshedAt', { type: 'DateTime' }),
  }),
});

const SessionStatsFilter = builder.inputType('SessionStatsFilter', {
  fields: (t) => ({
    sessionType: t.field({ type: [SessionTypeEnum], required: false }),
    status: t.field({ type: [SessionStatusEnum], required: false }),
  }),
});

builder.queryFields((t) => ({
  clusterSummary: t.field({
    type: ClusterSummaryRef,
    nullable: true,
    description: 'Null until a refresh of the view has seen one of the tenant\'s nodes',
    authScopes: { permission: 'cluster:read' },
    resolve: (_root, _args, ctx) => ctx.services.clusterViews.clusterSummary(tenantOf(ctx)),
  }),
  sessionStats: t.connection({
    type: SessionStatsRowRef,
    description: 'Session counts by type and status, from the session_stats view',
    authScopes: { permission: 'sessions:read' },
    args: { filter: t.arg({ type: SessionStatsFilter, required: false }) },
    resolve: async (_root, args, ctx) => {
      const rows = (await ctx.services.clusterViews.sessionStats(tenantOf(ctx))).filter(
        (row) =>
          (!args.filter?.sessionType?.length || args.filter.sessionType.includes(row.sessionType as never)) &&
          (!args.filter?.status?.length || args.filter.status.includes(row.status as never)),
      );
      return resolveArrayConnection({ args, defaultSize: 20, maxSize: 100 }, rows);
    },
  }),
}));

builder.mutationFields((t) => ({
  refreshClusterViews: t.field({
    type: 'DateTime',
    description: 'Refreshes cluster_summary and session_stats now (they also refresh on a schedule); returns when',
    authScopes: { permission: 'cluster:write' },
    resolve: (_root, _args, ctx) => ctx.services.clusterViews.refresh(),
  }),
}));
