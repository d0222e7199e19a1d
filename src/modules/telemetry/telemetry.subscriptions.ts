import { builder } from '../../builder.js';
import { principalOf } from '../../context.js';
import type { MetricPoint, SystemEventRecordedEvent } from '../../infra/topics.js';
import { ClusterNodeRef } from '../cluster/node.schema.js';
import { nodeGlobalId } from '../cluster/node.subscriptions.js';
import type { PointBatch } from '../realtime/live-feed.js';
import { subscriptionErrors } from '../shared/graphql-errors.js';
import { sessionGlobalId } from '../workloads/session.subscriptions.js';
import { EventSeverityEnum } from './event.schema.js';

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

builder.subscriptionFields((t) => ({
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
}));
