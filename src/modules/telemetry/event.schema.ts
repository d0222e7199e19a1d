import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf, type Context } from '../../context.js';
import { compact, enumValues } from '../shared/graphql.js';
import { ClusterNodeRef } from '../cluster/node.schema.js';
import { SessionRef } from '../workloads/session.schema.js';
import { firstPages, readPage } from '../shared/compiled-read.js';
import { FIRST_PAGES } from '../shared/first-pages-plugin.js';
import { anyOf, atLeast, below, custom, defineList, enumGroup, equals, globalIdKey, idIn, idIs, textSearch } from '../shared/list-query.js';
import { systemEventReads } from './event.reads.js';
import { ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import { SEVERITIES } from '../../infra/topics.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';

export const EventSeverityEnum = builder.enumType('EventSeverity', { values: enumValues(SEVERITIES) });

export const SystemEventRef = builder.prismaNode('SystemEvent', {
  description: 'Something that happened in the cluster, from a component, a node or a session',
  id: { field: 'id_timestamp' },
  select: { id: true, timestamp: true },
  fields: (t) => ({
    eventId: t.exposeString('id', { description: 'The event’s own UUID' }),
    timestamp: t.expose('timestamp', { type: 'DateTime' }),
    eventType: t.exposeString('eventType'),
    severity: t.field({ type: EventSeverityEnum, select: { severity: true }, resolve: (event) => event.severity as never }),
    sourceComponent: t.exposeString('sourceComponent'),
    sourceNode: t.relation('sourceNode', { nullable: true }),
    session: t.relation('session', { nullable: true, description: 'The compute session it concerns' }),
    userId: t.field({
      type: 'ID',
      nullable: true,
      description: 'The user who caused it, when one did',
      select: { userId: true },
      resolve: (event) => (event.userId ? encodeGlobalID('User', event.userId) : null),
    }),
    message: t.exposeString('message'),
    details: t.expose('details', { type: 'JSON' }),
    resolvedAt: t.expose('resolvedAt', { type: 'DateTime', nullable: true }),
    resolvedByUserId: t.field({
      type: 'ID',
      nullable: true,
      description: 'The user who resolved it',
      select: { resolvedById: true },
      resolve: (event) => (event.resolvedById ? encodeGlobalID('User', event.resolvedById) : null),
    }),
  }),
});

const systemEventList = defineList({
  name: 'SystemEvent',
  filter: {
    severity: anyOf(EventSeverityEnum, undefined, 'Events of any of these severities'),
    eventType: equals('String'),
    eventTypeIn: anyOf('String', 'eventType'),
    sourceComponent: equals('String'),
    sourceComponentIn: anyOf('String', 'sourceComponent'),
    nodeId: idIs(ClusterNodeRef, 'sourceNodeId'),
    nodeIdIn: idIn(ClusterNodeRef, 'sourceNodeId'),
    sessionId: idIs(SessionRef, 'sessionId'),
    message: textSearch(['message']),
    from: atLeast('timestamp', 'DateTime', 'Inclusive'),
    to: below('timestamp', 'DateTime', 'Exclusive'),
    resolved: custom(
      (t) => t.boolean({ required: false, description: 'Resolved events (true) or open ones (false)' }),
      (value) => ({ resolvedAt: value ? { not: null } : null }),
    ),
  },
  orderBy: { TIMESTAMP: 'timestamp', SEVERITY: 'severity', EVENT_TYPE: 'eventType' },
  defaultOrder: ['TIMESTAMP', 'desc'],
  tieBreakers: ['seq', 'id'],
  groupBy: { SEVERITY: enumGroup('severity'), EVENT_TYPE: 'eventType', SOURCE_COMPONENT: 'sourceComponent', NODE: { column: 'sourceNodeId', key: globalIdKey('ClusterNode') } },
});

const RecordSystemEventInput = builder.inputType('RecordSystemEventInput', {
  fields: (t) => ({
    eventType: t.string({ required: true }),
    severity: t.field({ type: EventSeverityEnum, required: true }),
    sourceComponent: t.string({ required: true }),
    sourceNodeId: t.globalID({ required: false, for: ClusterNodeRef }),
    sessionId: t.globalID({ required: false, for: SessionRef }),
    message: t.string({ required: true }),
    details: t.field({ type: 'JSON', required: false }),
    timestamp: t.field({ type: 'DateTime', required: false, description: 'Defaults to now' }),
  }),
});

const systemEventListTotalCount = (_root: unknown, args: { filter?: typeof systemEventList.Filter.$inferInput | null }, ctx: Context) =>
      withGraphQLErrors(() => ctx.prisma.systemEvent.count({ where: systemEventList.where({ tenantId: tenantOf(ctx) }, args.filter) }));

builder.queryFields((t) => ({
  systemEvents: t.prismaConnection({
    type: 'SystemEvent',
    cursor: 'id_timestamp',
    description: "The tenant's events, newest first unless ordered otherwise; events of one transaction in the order they were written",
    authScopes: { permission: 'events:read' },
    args: { filter: t.arg({ type: systemEventList.Filter, required: false }), orderBy: t.arg({ type: [systemEventList.Order], required: false }) },
    totalCount: systemEventListTotalCount,
    extensions: { [FIRST_PAGES]: firstPages(systemEventReads, (args: { filter?: typeof systemEventList.Filter.$inferInput | null; orderBy?: typeof systemEventList.Order.$inferInput[] | null }, ctx: Context) => systemEventList.page({}, { tenantId: tenantOf(ctx) }, args), systemEventListTotalCount) },
    resolve: (query, _root, args, ctx, info) =>
      withGraphQLErrors(() =>
        readPage(systemEventReads, ctx.tenantRows, info, ctx.prisma.systemEvent, systemEventList.page(query, { tenantId: tenantOf(ctx) }, args)),
      ),
  }),
}));

builder.mutationFields((t) => ({
  recordSystemEvent: t.field({
    type: SystemEventRef,
    description: 'Records an event of the tenant',
    authScopes: { permission: 'events:write' },
    errors: mutationErrors('RecordSystemEvent', 'event', [ValidationError]),
    args: { input: t.arg({ type: RecordSystemEventInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.systemEvents.recordEvent(tenantOf(ctx), ctx.principal?.userId ?? null, {
        ...compact(args.input),
        sourceNodeId: args.input.sourceNodeId?.id,
        sessionId: args.input.sessionId?.id,
      }),
  }),
  resolveEvent: t.field({
    type: SystemEventRef,
    description: 'Marks an event resolved, recording who resolved it and when',
    authScopes: { permission: 'events:write' },
    errors: mutationErrors('ResolveEvent', 'event', [ValidationError, NotFoundError, ConflictError]),
    args: { id: t.arg.globalID({ required: true, for: SystemEventRef }) },
    resolve: (_root, args, ctx) =>
      ctx.services.systemEvents.resolveEvent(tenantOf(ctx), ctx.principal?.userId ?? null, args.id.id),
  }),
}));

systemEventList.countsQuery('systemEventCounts', {
  description: "How many of the tenant's events (matching the filter) share each value of a field",
  authScopes: { permission: 'events:read' },
  rows: (ctx) => [ctx.prisma.systemEvent, { tenantId: tenantOf(ctx) }],
});
