import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import type { SessionStatsRow } from '../cluster/cluster-views.service.js';
import { withGraphQLErrors } from '../shared/graphql-errors.js';
import { countedConnection, defineMemoryOrder } from '../shared/list-query.js';
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

/** The view holds one row per session type and status of a tenant (a few dozen at most): filtered and ordered here. */
const sessionStatsOrder = defineMemoryOrder<SessionStatsRow, Record<string, keyof SessionStatsRow>>(
  'SessionStats',
  {
    SESSION_TYPE: 'sessionType',
    STATUS: 'status',
    SESSION_COUNT: 'sessionCount',
    AVG_DURATION_MINUTES: 'avgDurationMinutes',
    TOTAL_CPU_REQUEST: 'totalCpuRequest',
    TOTAL_MEMORY_REQUEST_GB: 'totalMemoryRequestGb',
  },
  ['sessionType', 'status'],
);

builder.queryFields((t) => ({
  sessionStats: t.connection(
    {
      type: SessionStatsRowRef,
      description: 'Session counts by type and status, from the session_stats view; by type then status unless ordered otherwise',
      authScopes: { permission: 'sessions:read' },
      args: {
        filter: t.arg({ type: SessionStatsFilter, required: false }),
        orderBy: t.arg({ type: [sessionStatsOrder.Order], required: false }),
      },
      resolve: (_root, args, ctx) =>
        withGraphQLErrors(async () => {
          const rows = (await ctx.services.clusterViews.sessionStats(tenantOf(ctx))).filter(
            (row) =>
              (!args.filter?.sessionType?.length || args.filter.sessionType.includes(row.sessionType as never)) &&
              (!args.filter?.status?.length || args.filter.status.includes(row.status as never)),
          );
          return sessionStatsOrder.page(rows, args);
        }),
    },
    countedConnection,
  ),
}));
