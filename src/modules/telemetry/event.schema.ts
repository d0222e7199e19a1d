import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { compact, enumValues } from '../shared/graphql.js';
import { ClusterNodeRef } from '../cluster/node.schema.js';
import { SessionRef } from '../workloads/session.schema.js';
import { inOneStatement } from '../shared/read-query.js';
import { readPage } from '../shared/compiled-read.js';
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

const SystemEventFilter = builder.inputType('SystemEventFilter', {
  fields: (t) => ({
    severity: t.field({ type: [EventSeverityEnum], required: false, description: 'Events of any of these severities' }),
    eventType: t.string({ required: false }),
    sourceComponent: t.string({ required: false }),
    nodeId: t.globalID({ required: false, for: ClusterNodeRef }),
    sessionId: t.globalID({ required: false, for: SessionRef }),
    from: t.field({ type: 'DateTime', required: false }),
    to: t.field({ type: 'DateTime', required: false }),
    resolved: t.boolean({ required: false }),
  }),
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

builder.queryFields((t) => ({
  systemEvents: t.prismaConnection({
    type: 'SystemEvent',
    cursor: 'id_timestamp',
    description: "The tenant's events, newest first",
    authScopes: { permission: 'events:read' },
    args: { filter: t.arg({ type: SystemEventFilter, required: false }) },
    resolve: (query, _root, args, ctx, info) =>
      withGraphQLErrors(async () =>
        readPage(systemEventReads, ctx.prisma, info, ctx.prisma.systemEvent, {
          ...inOneStatement(query),
          where: ctx.services.systemEvents.where(
            tenantOf(ctx),
            args.filter ? { ...compact(args.filter), nodeId: args.filter.nodeId?.id, sessionId: args.filter.sessionId?.id } : {},
          ),
          orderBy: [{ timestamp: 'desc' }, { seq: 'desc' }],
        }),
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

