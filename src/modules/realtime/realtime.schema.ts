import { encodeGlobalID, resolveArrayConnection } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';
import { builder } from '../../builder.js';
import { tenantOf, type Context } from '../../context.js';
import type {
  ClusterStateChangedEvent,
  MetricPoint,
  NodeHeartbeat,
  NodeStatusChangedEvent,
  SessionStateChangedEvent,
  SystemEventRecordedEvent,
} from '../../infra/topics.js';
import { ClusterNodeRef, NodeStatusEnum, ResourceTypeEnum } from '../cluster/node.schema.js';
import { NotFoundError, ValidationError } from '../shared/errors.js';
import { enumValues } from '../shared/graphql.js';
import { EventSeverityEnum } from '../telemetry/event.schema.js';
import { SessionRef, SessionStatusEnum } from '../workloads/session.schema.js';
import type { HeartbeatBatchResult } from './heartbeat.service.js';
import { HEARTBEAT_STATUSES } from './realtime.validation.js';
import type { PointBatch } from './live-feed.js';
import type { MetricRecord, SessionStateRecord } from './realtime.store.js';
import { mutationErrors, subscriptionErrors } from '../shared/graphql-errors.js';

const nodeGlobalId = (nodeId: string) => encodeGlobalID('ClusterNode', nodeId);
const sessionGlobalId = (sessionId: string) => encodeGlobalID('Session', sessionId);
const principalOf = (ctx: Context) => {
  if (!ctx.principal) throw new Error('subscription without a principal: the field lacks authScopes');
  return ctx.principal;
};

// Pothos needs the subscription root once; no other module defines subscriptions.
builder.subscriptionType({});

export const HeartbeatStatusEnum = builder.enumType('HeartbeatStatus', {
  description: 'How a node agent reports itself: UNHEALTHY takes the node out (failed); a later healthy heartbeat brings it back',
  values: enumValues(HEARTBEAT_STATUSES),
});

const NodeHeartbeatRef = builder.objectRef<NodeHeartbeat>('NodeHeartbeat').implement({
  description: 'One heartbeat of a node, as node:heartbeat:{node_id} holds it',
  fields: (t) => ({
    nodeId: t.id({ description: 'The ClusterNode id', resolve: (beat) => nodeGlobalId(beat.nodeId) }),
    status: t.field({ type: HeartbeatStatusEnum, resolve: (beat) => beat.status }),
    load: t.exposeFloat('load', { description: 'Utilisation from 0 to 1' }),
    at: t.field({ type: 'DateTime', description: 'When the server received it', resolve: (beat) => new Date(beat.at) }),
  }),
});

const HeartbeatBatchRef = builder.objectRef<HeartbeatBatchResult>('HeartbeatBatch').implement({
  description: 'What one batch of heartbeats did',
  fields: (t) => ({
    heartbeats: t.field({ type: [NodeHeartbeatRef], description: 'The accepted heartbeats, one per node', resolve: (batch) => batch.heartbeats }),
    unknownNodeIds: t.idList({
      description: 'ClusterNode ids the tenant has no node for; their heartbeats were refused',
      resolve: (batch) => batch.unknownNodeIds.map(nodeGlobalId),
    }),
  }),
});

const NodeStatusChangeRef = builder.objectRef<NodeStatusChangedEvent>('NodeStatusChange').implement({
  description: 'A node moved between ACTIVE, INACTIVE, DRAINING, FAILED and MAINTENANCE',
  fields: (t) => ({
    nodeId: t.id({ description: 'The ClusterNode id', resolve: (event) => nodeGlobalId(event.nodeId) }),
    previousStatus: t.field({ type: NodeStatusEnum, resolve: (event) => event.previousStatus as never }),
    status: t.field({ type: NodeStatusEnum, resolve: (event) => event.status as never }),
    at: t.field({ type: 'DateTime', resolve: (event) => new Date(event.at) }),
  }),
});

type Allocation = SessionStateChangedEvent['allocations'][number];

const AllocatedAmountRef = builder.objectRef<Allocation>('AllocatedAmount').implement({
  description: 'An amount of one resource a session holds (or just released)',
  fields: (t) => ({
    resourceType: t.field({ type: ResourceTypeEnum, resolve: (a) => a.resourceType as never }),
    amount: t.exposeFloat('amount'),
    unit: t.exposeString('unit'),
  }),
});

const SessionStateChangeRef = builder.objectRef<SessionStateChangedEvent>('SessionStateChange').implement({
  description: 'A compute session changed state; allocations are what it holds on the node, or released when it ended',
  fields: (t) => ({
    sessionId: t.id({ description: 'The Session id', resolve: (event) => sessionGlobalId(event.sessionId) }),
    userId: t.exposeString('userId', { description: 'The user the session runs for (users.user_id)' }),
    previousStatus: t.field({ type: SessionStatusEnum, nullable: true, description: 'null when the session was just created', resolve: (event) => event.previousStatus as never }),
    status: t.field({ type: SessionStatusEnum, resolve: (event) => event.status as never }),
    nodeId: t.id({ nullable: true, description: 'The ClusterNode id', resolve: (event) => (event.nodeId ? nodeGlobalId(event.nodeId) : null) }),
    allocations: t.field({ type: [AllocatedAmountRef], resolve: (event) => event.allocations }),
    reason: t.exposeString('reason', { nullable: true }),
    at: t.field({ type: 'DateTime', resolve: (event) => new Date(event.at) }),
  }),
});

const LiveMetricPointRef = builder.objectRef<MetricPoint>('LiveMetricPoint').implement({
  description: 'A metric point as it was ingested',
  fields: (t) => ({
    nodeId: t.id({ nullable: true, description: 'The ClusterNode id', resolve: (p) => (p.nodeId ? nodeGlobalId(p.nodeId) : null) }),
    sessionId: t.id({ nullable: true, description: 'The Session id', resolve: (p) => (p.sessionId ? sessionGlobalId(p.sessionId) : null) }),
    metricType: t.exposeString('metricType'),
    value: t.exposeFloat('value'),
    unit: t.string({ nullable: true, resolve: (p) => p.unit ?? null }),
    time: t.field({ type: 'DateTime', resolve: (p) => new Date(p.time) }),
  }),
});

const LiveMetricsRef = builder.objectRef<PointBatch<MetricPoint>>('LiveMetrics').implement({
  description: 'Every point waiting for this subscriber, oldest first',
  fields: (t) => ({
    points: t.field({ type: [LiveMetricPointRef], resolve: (batch) => batch.points }),
    droppedPoints: t.exposeInt('droppedPoints', {
      description: 'Points this subscriber lost since its previous batch because it read too slowly (the oldest go first)',
    }),
  }),
});

const SystemEventNoticeRef = builder.objectRef<SystemEventRecordedEvent>('SystemEventNotice').implement({
  description: 'A system event was recorded; query systemEvents for its message and details',
  fields: (t) => ({
    eventId: t.exposeString('eventId', { description: 'The event’s own UUID' }),
    eventType: t.exposeString('eventType'),
    severity: t.field({ type: EventSeverityEnum, resolve: (event) => event.severity as never }),
    nodeId: t.id({ nullable: true, description: 'The ClusterNode id', resolve: (event) => (event.nodeId ? nodeGlobalId(event.nodeId) : null) }),
    sessionId: t.id({ nullable: true, description: 'The Session id', resolve: (event) => (event.sessionId ? sessionGlobalId(event.sessionId) : null) }),
    at: t.field({ type: 'DateTime', resolve: (event) => new Date(event.at) }),
  }),
});

const ClusterStateRef = builder.objectRef<ClusterStateChangedEvent>('ClusterState').implement({
  description: "The tenant's cluster:state summary",
  fields: (t) => ({
    totalNodes: t.exposeInt('totalNodes'),
    activeNodes: t.exposeInt('activeNodes'),
    totalSessions: t.exposeInt('totalSessions', { description: 'Sessions scheduled, running or paused' }),
    clusterLoad: t.exposeFloat('clusterLoad', { nullable: true, description: 'Mean load of the nodes heard from lately; null when none was' }),
    updatedAt: t.field({ type: 'DateTime', resolve: (state) => new Date(state.at) }),
  }),
});

const SessionLiveStateRef = builder.objectRef<SessionStateRecord>('SessionLiveState').implement({
  description: 'session:state:{session_id}: where a compute session is and what it holds, from the cache',
  fields: (t) => ({
    sessionId: t.id({ description: 'The Session id', resolve: (state) => sessionGlobalId(state.sessionId) }),
    status: t.field({ type: SessionStatusEnum, resolve: (state) => state.status as never }),
    nodeId: t.id({ nullable: true, description: 'The ClusterNode id', resolve: (state) => (state.nodeId ? nodeGlobalId(state.nodeId) : null) }),
    allocations: t.field({ type: [AllocatedAmountRef], resolve: (state) => state.allocations }),
    startTime: t.field({ type: 'DateTime', nullable: true, resolve: (state) => (state.startTime ? new Date(state.startTime) : null) }),
    updatedAt: t.field({ type: 'DateTime', resolve: (state) => new Date(state.updatedAt) }),
  }),
});

const LatestMetricRef = builder.objectRef<MetricRecord>('LatestNodeMetric').implement({
  description: 'metrics:node:{node_id}:{metric_type}: the latest point of one metric of a node',
  fields: (t) => ({
    metricType: t.exposeString('metricType'),
    value: t.exposeFloat('value'),
    unit: t.exposeString('unit', { nullable: true }),
    time: t.field({ type: 'DateTime', resolve: (m) => new Date(m.time) }),
  }),
});

const HeartbeatInput = builder.inputType('HeartbeatInput', {
  fields: (t) => ({
    nodeId: t.globalID({ required: true, for: ClusterNodeRef }),
    status: t.field({ type: HeartbeatStatusEnum, required: true }),
    load: t.float({ required: true, description: 'Utilisation from 0 to 1' }),
  }),
});

const RecordHeartbeatsInput = builder.inputType('RecordHeartbeatsInput', {
  fields: (t) => ({ heartbeats: t.field({ type: [HeartbeatInput], required: true, description: 'At most 1000; the last one of a node wins' }) }),
});

const heartbeatArgs = (input: { nodeId: { id: string }; status: string; load: number }) => ({ nodeId: input.nodeId.id, status: input.status, load: input.load });

builder.mutationFields((t) => ({
  recordHeartbeat: t.field({
    type: NodeHeartbeatRef,
    description: 'A node agent is alive: refreshes the node in Redis, tells subscribers, and (coalesced) nodes.last_heartbeat',
    authScopes: { permission: 'cluster:write' },
    errors: mutationErrors('RecordHeartbeat', 'heartbeat', [ValidationError, NotFoundError]),
    args: { input: t.arg({ type: HeartbeatInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.realtime.heartbeats.recordHeartbeat(tenantOf(ctx), heartbeatArgs(args.input)),
  }),
  recordHeartbeats: t.field({
    type: HeartbeatBatchRef,
    description: 'Heartbeats of many nodes in one call, for agents that report for several',
    authScopes: { permission: 'cluster:write' },
    errors: mutationErrors('RecordHeartbeats', 'batch', [ValidationError]),
    args: { input: t.arg({ type: RecordHeartbeatsInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.realtime.heartbeats.recordHeartbeats(tenantOf(ctx), args.input.heartbeats.map(heartbeatArgs)),
  }),
}));

builder.queryFields((t) => ({
  liveNodeHeartbeats: t.connection({
    type: NodeHeartbeatRef,
    description: "The latest heartbeat of each of the tenant's nodes heard from within the heartbeat TTL (30 s), latest first, from Redis",
    authScopes: { permission: 'cluster:read' },
    resolve: async (_root, args, ctx) => {
      const live = await ctx.services.realtime.liveState.liveHeartbeats(tenantOf(ctx));
      if (!live) throw new GraphQLError('The heartbeat cache is unavailable; nodes.lastHeartbeat holds the durable time', { extensions: { code: 'SERVICE_UNAVAILABLE' } });
      return resolveArrayConnection({ args, defaultSize: 20, maxSize: 100 }, live);
    },
  }),
  clusterState: t.field({
    type: ClusterStateRef,
    description: "The tenant's cluster:state summary as Redis holds it",
    authScopes: { permission: 'cluster:read' },
    resolve: (_root, _args, ctx) => ctx.services.realtime.clusterState.current(tenantOf(ctx)),
  }),
  sessionLiveState: t.field({
    type: SessionLiveStateRef,
    nullable: true,
    description: 'The cached state of one session (from the database when the cache has none); null when the tenant has no such session',
    authScopes: { permission: 'sessions:read' },
    args: { sessionId: t.arg.globalID({ required: true, for: SessionRef }) },
    resolve: (_root, args, ctx) => ctx.services.realtime.liveState.sessionState(tenantOf(ctx), args.sessionId.id),
  }),
  latestNodeMetrics: t.connection({
    type: LatestMetricRef,
    description: "The latest point of each metric type of a node (within the cache's 5 min), by metric type",
    authScopes: { permission: 'metrics:read' },
    args: {
      nodeId: t.arg.globalID({ required: true, for: ClusterNodeRef }),
      metricTypes: t.arg.stringList({ required: false, description: 'Only these metric types' }),
    },
    resolve: async (_root, args, ctx) => {
      const { first, last, before, after } = args;
      const metrics = await ctx.services.realtime.liveState.latestNodeMetrics(tenantOf(ctx), args.nodeId.id, args.metricTypes?.length ? args.metricTypes : null);
      return resolveArrayConnection({ args: { first, last, before, after }, defaultSize: 20, maxSize: 100 }, metrics);
    },
  }),
}));

builder.subscriptionFields((t) => ({
  nodeHeartbeat: t.field({
    type: NodeHeartbeatRef,
    description: "Each heartbeat of one node, or of all the tenant's nodes",
    authScopes: { permission: 'cluster:read' },
    args: { nodeId: t.arg.globalID({ required: false, for: ClusterNodeRef }) },
    subscribe: (_root, args, ctx) => subscriptionErrors(() => ctx.services.realtime.feeds.nodeHeartbeats(principalOf(ctx), args.nodeId?.id ?? null)),
    resolve: (beat) => beat,
  }),
  nodeStatusChanged: t.field({
    type: NodeStatusChangeRef,
    description: "Status transitions of one node, or of all the tenant's nodes",
    authScopes: { permission: 'cluster:read' },
    args: { nodeId: t.arg.globalID({ required: false, for: ClusterNodeRef }) },
    subscribe: (_root, args, ctx) => subscriptionErrors(() => ctx.services.realtime.feeds.nodeStatusChanges(principalOf(ctx), args.nodeId?.id ?? null)),
    resolve: (event) => event,
  }),
  sessionStateChanged: t.field({
    type: SessionStateChangeRef,
    description: "Every transition of one session, or of all the tenant's sessions, with its allocation",
    authScopes: { permission: 'sessions:read' },
    args: { sessionId: t.arg.globalID({ required: false, for: SessionRef }) },
    subscribe: (_root, args, ctx) => subscriptionErrors(() => ctx.services.realtime.feeds.sessionStateChanges(principalOf(ctx), args.sessionId?.id ?? null)),
    resolve: (event) => event,
  }),
  liveMetrics: t.field({
    type: LiveMetricsRef,
    description: "Metric points as they are ingested, of one node or all the tenant's; a slow reader loses the oldest points and is told how many",
    authScopes: { permission: 'metrics:read' },
    args: {
      nodeId: t.arg.globalID({ required: false, for: ClusterNodeRef }),
      metricTypes: t.arg.stringList({ required: false, description: 'Only these metric types' }),
    },
    subscribe: (_root, args, ctx) =>
      subscriptionErrors(() =>
        ctx.services.realtime.feeds.liveMetrics(principalOf(ctx), { nodeId: args.nodeId?.id, metricTypes: args.metricTypes ?? undefined }),
      ),
    resolve: (batch) => batch,
  }),
  systemEvents: t.field({
    type: SystemEventNoticeRef,
    description: 'System events of the tenant as they are recorded, of at least this severity (default DEBUG: all)',
    authScopes: { permission: 'events:read' },
    args: { minSeverity: t.arg({ type: EventSeverityEnum, required: false }) },
    subscribe: (_root, args, ctx) => subscriptionErrors(() => ctx.services.realtime.feeds.systemEvents(principalOf(ctx), args.minSeverity)),
    resolve: (event) => event,
  }),
  clusterState: t.field({
    type: ClusterStateRef,
    description: "The tenant's cluster:state now, then whenever it changes, at most once a second",
    authScopes: { permission: 'cluster:read' },
    subscribe: (_root, _args, ctx) => subscriptionErrors(() => ctx.services.realtime.feeds.clusterStates(principalOf(ctx))),
    resolve: (state) => state,
  }),
}));
