import { resolveArrayConnection } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import type { SessionStatsRow } from '../cluster/cluster-views.service.js';
import { SessionStatusEnum, SessionTypeEnum } from './session.schema.js';

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
