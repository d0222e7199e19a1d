import { resolveArrayConnection } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';
import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { ClusterStateRef } from '../cluster/cluster-views.subscriptions.js';
import { ClusterNodeRef } from '../cluster/node.schema.js';
import { HeartbeatStatusEnum, nodeGlobalId, NodeHeartbeatRef } from '../cluster/node.subscriptions.js';
import { NotFoundError, ValidationError } from '../shared/errors.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';
import { countedConnection, defineMemoryOrder, idOf } from '../shared/list-query.js';
import { SessionRef, SessionStatusEnum } from '../workloads/session.schema.js';
import { AllocatedAmountRef, sessionGlobalId } from '../workloads/session.subscriptions.js';
import type { HeartbeatBatchResult } from './heartbeat.service.js';
import type { HeartbeatRecord, MetricRecord, SessionStateRecord } from './realtime.store.js';

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

const LiveHeartbeatFilter = builder.inputType('LiveHeartbeatFilter', {
  fields: (t) => ({
    status: t.field({ type: [HeartbeatStatusEnum], required: false, description: 'Any of these statuses' }),
    nodeIdIn: t.globalIDList({ required: false, for: ClusterNodeRef, description: 'Any of these nodes' }),
    minLoad: t.float({ required: false, description: 'Load at least this (0 to 1)' }),
    maxLoad: t.float({ required: false, description: 'Load at most this (0 to 1)' }),
  }),
});

/** The live view holds one heartbeat per node of the tenant: filtered and ordered here, by node id last. */
const liveHeartbeatOrder = defineMemoryOrder<HeartbeatRecord, Record<string, keyof HeartbeatRecord>>('LiveHeartbeat', { AT: 'at', LOAD: 'load', STATUS: 'status' }, ['nodeId']);

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
  liveNodeHeartbeats: t.connection(
    {
      type: NodeHeartbeatRef,
      description: "The latest heartbeat of each of the tenant's nodes heard from within the heartbeat TTL (30 s), from Redis; latest first unless ordered otherwise",
      authScopes: { permission: 'cluster:read' },
      args: {
        filter: t.arg({ type: LiveHeartbeatFilter, required: false }),
        orderBy: t.arg({ type: [liveHeartbeatOrder.Order], required: false }),
      },
      resolve: (_root, args, ctx) =>
        withGraphQLErrors(async () => {
          const live = await ctx.services.realtime.liveState.liveHeartbeats(tenantOf(ctx));
          if (!live) throw new GraphQLError('The heartbeat cache is unavailable; nodes.lastHeartbeat holds the durable time', { extensions: { code: 'SERVICE_UNAVAILABLE' } });
          const { filter } = args;
          if (filter?.minLoad != null && filter.maxLoad != null && filter.maxLoad < filter.minLoad) throw new ValidationError([{ path: 'filter.maxLoad', message: 'is below filter.minLoad' }]);
          const nodeIds = filter?.nodeIdIn?.length ? new Set(filter.nodeIdIn.map((id, index) => idOf(id, 'ClusterNode', `filter.nodeIdIn.${index}`))) : null;
          const rows = live.filter(
            (beat) =>
              (!filter?.status?.length || filter.status.includes(beat.status)) &&
              (!nodeIds || nodeIds.has(beat.nodeId)) &&
              (filter?.minLoad == null || beat.load >= filter.minLoad) &&
              (filter?.maxLoad == null || beat.load <= filter.maxLoad),
          );
          return liveHeartbeatOrder.page(rows, args, [{ field: 'AT', direction: 'desc' }]);
        }),
    },
    countedConnection,
  ),
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
