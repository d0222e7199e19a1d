import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { EventSeverityEnum } from '../telemetry/event.schema.js';
import { SessionStatusEnum, SessionTypeEnum } from '../workloads/session.schema.js';
import { anyOf, atLeast, below, custom, defineList, equals, textSearch, uuidIn, uuidIs } from '../shared/list-query.js';
import { withGraphQLErrors } from '../shared/graphql-errors.js';

const ArchivedSessionRef = builder.prismaObject('SessionArchive', {
  name: 'ArchivedSession',
  description: 'A session that ended long ago, moved out of the live sessions by retention',
  fields: (t) => ({
    sessionId: t.exposeID('id'),
    sessionName: t.exposeString('sessionName'),
    sessionType: t.field({ type: SessionTypeEnum, resolve: (s) => s.sessionType as never }),
    status: t.field({ type: SessionStatusEnum, resolve: (s) => s.status as never }),
    userId: t.exposeString('userId', { description: 'users.user_id' }),
    application: t.exposeString('application', { nullable: true }),
    containerImage: t.exposeString('containerImage', { nullable: true }),
    priority: t.exposeInt('priority'),
    cpuRequest: t.float({ resolve: (s) => s.cpuRequest.toNumber() }),
    memoryRequestGb: t.float({ resolve: (s) => s.memoryRequestGb.toNumber() }),
    gpuRequest: t.exposeInt('gpuRequest'),
    gpuType: t.exposeString('gpuType', { nullable: true }),
    scheduledNodeId: t.exposeString('scheduledNodeId', { nullable: true, description: 'nodes.node_id, which may no longer exist' }),
    startTime: t.expose('startTime', { type: 'DateTime', nullable: true }),
    endTime: t.expose('endTime', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    archivedAt: t.expose('archivedAt', { type: 'DateTime' }),
  }),
});

const ArchivedSystemEventRef = builder.prismaObject('SystemEventArchive', {
  name: 'ArchivedSystemEvent',
  description: 'A system event older than the archive period, moved out of the live events by retention',
  fields: (t) => ({
    eventId: t.exposeID('id'),
    timestamp: t.expose('timestamp', { type: 'DateTime' }),
    eventType: t.exposeString('eventType'),
    severity: t.field({ type: EventSeverityEnum, resolve: (event) => event.severity as never }),
    sourceComponent: t.exposeString('sourceComponent'),
    sourceNodeId: t.exposeString('sourceNodeId', { nullable: true, description: 'nodes.node_id, which may no longer exist' }),
    sessionId: t.exposeString('sessionId', { nullable: true }),
    message: t.exposeString('message'),
    details: t.expose('details', { type: 'JSON' }),
    resolvedAt: t.expose('resolvedAt', { type: 'DateTime', nullable: true }),
    archivedAt: t.expose('archivedAt', { type: 'DateTime' }),
  }),
});

const archivedSessionList = defineList({
  name: 'ArchivedSession',
  model: 'SessionArchive',
  filter: {
    status: anyOf(SessionStatusEnum, undefined, 'completed, failed or cancelled'),
    sessionType: anyOf(SessionTypeEnum),
    userId: uuidIs(undefined, 'users.user_id'),
    userIdIn: uuidIn('userId', 'Sessions of any of these users (users.user_id)'),
    nodeId: uuidIs('scheduledNodeId', 'Sessions placed on this node (nodes.node_id)'),
    sessionName: textSearch(['sessionName']),
    gpuType: anyOf('String'),
    from: atLeast('endTime', 'DateTime', 'Ended at or after'),
    to: below('endTime', 'DateTime', 'Ended before'),
    createdAfter: atLeast('createdAt', 'DateTime', 'Inclusive'),
    createdBefore: below('createdAt', 'DateTime', 'Exclusive'),
    archivedAfter: atLeast('archivedAt', 'DateTime', 'Inclusive'),
    archivedBefore: below('archivedAt', 'DateTime', 'Exclusive'),
  },
  orderBy: {
    END_TIME: { column: 'endTime', nulls: 'last' },
    CREATED_AT: 'createdAt',
    ARCHIVED_AT: 'archivedAt',
    SESSION_NAME: 'sessionName',
    PRIORITY: 'priority',
  },
  defaultOrder: ['END_TIME', 'desc'],
  tieBreakers: ['seq', 'id'],
});

const archivedSystemEventList = defineList({
  name: 'ArchivedSystemEvent',
  model: 'SystemEventArchive',
  filter: {
    severity: anyOf(EventSeverityEnum),
    eventType: equals('String'),
    eventTypeIn: anyOf('String', 'eventType'),
    sourceComponent: equals('String'),
    sourceComponentIn: anyOf('String', 'sourceComponent'),
    nodeId: uuidIs('sourceNodeId', 'Events of this node (nodes.node_id)'),
    sessionId: uuidIs('sessionId', 'Events of this session (sessions.session_id)'),
    message: textSearch(['message']),
    from: atLeast('timestamp', 'DateTime', 'Inclusive'),
    to: below('timestamp', 'DateTime', 'Exclusive'),
    archivedAfter: atLeast('archivedAt', 'DateTime', 'Inclusive'),
    archivedBefore: below('archivedAt', 'DateTime', 'Exclusive'),
    resolved: custom(
      (t) => t.boolean({ required: false, description: 'Resolved events (true) or open ones (false)' }),
      (value) => ({ resolvedAt: value ? { not: null } : null }),
    ),
  },
  orderBy: { TIMESTAMP: 'timestamp', SEVERITY: 'severity', EVENT_TYPE: 'eventType', ARCHIVED_AT: 'archivedAt' },
  defaultOrder: ['TIMESTAMP', 'desc'],
  // The live table's write order, then (id, timestamp), the key: an id alone is unique only by convention.
  tieBreakers: ['seq', 'id', 'timestamp'],
});

builder.queryFields((t) => ({
  archivedSessions: t.prismaConnection({
    type: ArchivedSessionRef,
    cursor: 'id',
    description: "The tenant's archived sessions, most recently ended first (admins)",
    authScopes: { permission: 'archives:read' },
    args: { filter: t.arg({ type: archivedSessionList.Filter, required: false }), orderBy: t.arg({ type: [archivedSessionList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.sessionArchive.count({ where: archivedSessionList.where(ctx.services.archives.sessionsOf(tenantOf(ctx)), args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.sessionArchive.findMany(archivedSessionList.page(query, ctx.services.archives.sessionsOf(tenantOf(ctx)), args))),
  }),
  archivedSystemEvents: t.prismaConnection({
    type: ArchivedSystemEventRef,
    cursor: 'id_timestamp',
    description: "The tenant's archived system events, newest first (admins)",
    authScopes: { permission: 'archives:read' },
    args: { filter: t.arg({ type: archivedSystemEventList.Filter, required: false }), orderBy: t.arg({ type: [archivedSystemEventList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() =>
        ctx.prisma.systemEventArchive.count({ where: archivedSystemEventList.where(ctx.services.archives.eventsOf(tenantOf(ctx)), args.filter) }),
      ),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.systemEventArchive.findMany(archivedSystemEventList.page(query, ctx.services.archives.eventsOf(tenantOf(ctx)), args))),
  }),
}));
