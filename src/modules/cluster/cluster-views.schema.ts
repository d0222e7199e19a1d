import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import type { ClusterSummary } from './cluster-views.service.js';

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

builder.queryFields((t) => ({
  clusterSummary: t.field({
    type: ClusterSummaryRef,
    nullable: true,
    description: 'Null until a refresh of the view has seen one of the tenant\'s nodes',
    authScopes: { permission: 'cluster:read' },
    resolve: (_root, _args, ctx) => ctx.services.clusterViews.clusterSummary(tenantOf(ctx)),
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
