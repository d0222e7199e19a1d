import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { EventSeverityEnum } from '../telemetry/event.schema.js';
import { SessionStatusEnum, SessionTypeEnum } from '../workloads/session.schema.js';
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

const ArchivedSessionFilter = builder.inputType('ArchivedSessionFilter', {
  fields: (t) => ({
    status: t.field({ type: [SessionStatusEnum], required: false, description: 'completed, failed or cancelled' }),
    userId: t.string({ required: false, description: 'users.user_id' }),
    from: t.field({ type: 'DateTime', required: false, description: 'Ended at or after' }),
    to: t.field({ type: 'DateTime', required: false, description: 'Ended before' }),
  }),
});

const ArchivedSystemEventFilter = builder.inputType('ArchivedSystemEventFilter', {
  fields: (t) => ({
    severity: t.field({ type: [EventSeverityEnum], required: false }),
    eventType: t.string({ required: false }),
    from: t.field({ type: 'DateTime', required: false }),
    to: t.field({ type: 'DateTime', required: false }),
  }),
});

builder.queryFields((t) => ({
  archivedSessions: t.prismaConnection({
    type: ArchivedSessionRef,
    cursor: 'id',
    description: "The tenant's archived sessions, most recently ended first (admins)",
    authScopes: { permission: 'archives:read' },
    args: { filter: t.arg({ type: ArchivedSessionFilter, required: false }) },
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(async () =>
        ctx.prisma.sessionArchive.findMany({
          ...query,
          where: ctx.services.archives.sessionsWhere(tenantOf(ctx), args.filter ?? {}),
          orderBy: [{ endTime: { sort: 'desc', nulls: 'last' } }, { id: 'desc' }],
        }),
      ),
  }),
  archivedSystemEvents: t.prismaConnection({
    type: ArchivedSystemEventRef,
    cursor: 'id_timestamp',
    description: "The tenant's archived system events, newest first (admins)",
    authScopes: { permission: 'archives:read' },
    args: { filter: t.arg({ type: ArchivedSystemEventFilter, required: false }) },
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(async () =>
        ctx.prisma.systemEventArchive.findMany({
          ...query,
          where: ctx.services.archives.eventsWhere(tenantOf(ctx), args.filter ?? {}),
          orderBy: [{ timestamp: 'desc' }, { id: 'desc' }],
        }),
      ),
  }),
}));
