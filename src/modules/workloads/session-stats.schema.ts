import { resolveArrayConnection } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import type { SessionStatsRow } from '../cluster/cluster-views.service.js';
import { ValidationError } from '../shared/errors.js';
import { withGraphQLErrors } from '../shared/graphql-errors.js';
import { SortDirection } from '../shared/list-query.js';
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

/** The view's columns a dashboard sorts its rows by. */
const SORTED_BY = {
  SESSION_TYPE: 'sessionType',
  STATUS: 'status',
  SESSION_COUNT: 'sessionCount',
  AVG_DURATION_MINUTES: 'avgDurationMinutes',
  TOTAL_CPU_REQUEST: 'totalCpuRequest',
  TOTAL_MEMORY_REQUEST_GB: 'totalMemoryRequestGb',
} as const satisfies Record<string, keyof SessionStatsRow>;

const SessionStatsOrderField = builder.enumType('SessionStatsOrderField', {
  values: Object.fromEntries(Object.keys(SORTED_BY).map((value) => [value, { value }])) as { [K in keyof typeof SORTED_BY]: { value: K } },
});

const SessionStatsOrder = builder.inputType('SessionStatsOrder', {
  fields: (t) => ({
    field: t.field({ type: SessionStatsOrderField, required: true }),
    direction: t.field({ type: SortDirection, required: false, description: 'DESC unless given' }),
  }),
});

const MAX_ORDER_TERMS = 3;

/**
 * The view holds one row per session type and status of a tenant (a few dozen at most), so its rows
 * are filtered and ordered here; type then status end every order, so the order is total.
 */
function ordered(rows: SessionStatsRow[], orderBy: { field: keyof typeof SORTED_BY; direction?: 'asc' | 'desc' | null }[]): SessionStatsRow[] {
  if (orderBy.length > MAX_ORDER_TERMS) throw new ValidationError([{ path: 'orderBy', message: `takes at most ${MAX_ORDER_TERMS} terms` }]);
  const terms = [...orderBy.map(({ field, direction }) => ({ column: SORTED_BY[field], sign: direction === 'asc' ? 1 : -1 }))];
  const tieSign = terms[0]?.sign ?? 1;
  for (const column of ['sessionType', 'status'] as const) if (!terms.some((term) => term.column === column)) terms.push({ column, sign: tieSign });
  const compare = (a: unknown, b: unknown) => (a === b ? 0 : a === null ? 1 : b === null ? -1 : (a as number | string) < (b as number | string) ? -1 : 1);
  return [...rows].sort((a, b) => {
    for (const { column, sign } of terms) {
      const order = compare(a[column], b[column]);
      // Rows without a value (no average duration yet) go last in either direction.
      if (order !== 0) return a[column] === null || b[column] === null ? order : order * sign;
    }
    return 0;
  });
}

builder.queryFields((t) => ({
  sessionStats: t.connection(
    {
      type: SessionStatsRowRef,
      description: 'Session counts by type and status, from the session_stats view; by type then status unless ordered otherwise',
      authScopes: { permission: 'sessions:read' },
      args: {
        filter: t.arg({ type: SessionStatsFilter, required: false }),
        orderBy: t.arg({ type: [SessionStatsOrder], required: false }),
      },
      resolve: (_root, args, ctx) =>
        withGraphQLErrors(async () => {
          const rows = (await ctx.services.clusterViews.sessionStats(tenantOf(ctx))).filter(
            (row) =>
              (!args.filter?.sessionType?.length || args.filter.sessionType.includes(row.sessionType as never)) &&
              (!args.filter?.status?.length || args.filter.status.includes(row.status as never)),
          );
          const sorted = ordered(rows, args.orderBy ?? []);
          return { ...(await resolveArrayConnection({ args, defaultSize: 20, maxSize: 100 }, sorted)), totalCount: sorted.length };
        }),
    },
    {
      fields: (c) => ({
        totalCount: c.int({ description: 'Rows matching the filter, on every page', resolve: (connection) => (connection as unknown as { totalCount: number }).totalCount }),
      }),
    },
  ),
}));
