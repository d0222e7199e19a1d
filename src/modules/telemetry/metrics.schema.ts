import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { compact, enumValues } from '../shared/graphql.js';
import { ClusterNodeRef } from '../cluster/node.schema.js';
import { SessionRef } from '../workloads/session.schema.js';
import { ValidationError } from '../shared/errors.js';
import type { ClusterMetric, MetricBucket, MetricSeries } from './metrics.service.js';
import { SYSTEM_METRIC_COLUMNS } from './metrics.validation.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';
import { atLeast, atMost, below, defineList, idIs } from '../shared/list-query.js';

/** Bucket widths a series can be cut into; each value is its width in seconds. */
export const MetricBucketEnum = builder.enumType('MetricBucket', {
  values: {
    TEN_SECONDS: { value: 10 },
    ONE_MINUTE: { value: 60 },
    FIVE_MINUTES: { value: 300 },
    FIFTEEN_MINUTES: { value: 900 },
    ONE_HOUR: { value: 3_600 },
    SIX_HOURS: { value: 21_600 },
    ONE_DAY: { value: 86_400 },
    ONE_WEEK: { value: 604_800 },
  } as const,
});


const NodeMetricPointInput = builder.inputType('NodeMetricPointInput', {
  fields: (t) => ({
    nodeId: t.globalID({ required: true, for: ClusterNodeRef }),
    metricType: t.string({ required: true, description: 'e.g. cpu_usage, gpu.0.util; letters, digits and _ . : / -' }),
    value: t.float({ required: true }),
    time: t.field({ type: 'DateTime', required: true }),
    unit: t.string({ required: false }),
    labels: t.field({ type: 'JSON', required: false }),
  }),
});

const SessionMetricPointInput = builder.inputType('SessionMetricPointInput', {
  fields: (t) => ({
    sessionId: t.globalID({ required: true, for: SessionRef }),
    metricType: t.string({ required: true }),
    value: t.float({ required: true }),
    time: t.field({ type: 'DateTime', required: true }),
    unit: t.string({ required: false }),
    labels: t.field({ type: 'JSON', required: false }),
  }),
});

const IngestNodeMetricsInput = builder.inputType('IngestNodeMetricsInput', {
  fields: (t) => ({
    points: t.field({ type: [NodeMetricPointInput], required: true, description: 'At most 10,000 points' }),
    idempotencyKey: t.string({ required: false, description: 'A batch sent again under the same key is stored once and answers the first count' }),
  }),
});
const IngestSessionMetricsInput = builder.inputType('IngestSessionMetricsInput', {
  fields: (t) => ({ points: t.field({ type: [SessionMetricPointInput], required: true, description: 'At most 10,000 points' }) }),
});

const SystemMetricsInput = builder.inputType('SystemMetricsInput', {
  description: "One wide snapshot of a host's vitals; every measurement is optional",
  fields: (t) => ({
    nodeId: t.globalID({ required: false, for: ClusterNodeRef }),
    timestamp: t.field({ type: 'DateTime', required: false, description: 'Defaults to now' }),
    cpuPercent: t.float({ required: false }),
    cpuTemperature: t.float({ required: false }),
    memoryPercent: t.float({ required: false }),
    memoryUsedMb: t.float({ required: false }),
    memoryTemperature: t.float({ required: false }),
    gpuPercent: t.float({ required: false }),
    gpuTemperature: t.float({ required: false }),
    gpuFansRpm: t.float({ required: false }),
    gpuWatt: t.float({ required: false }),
    vramPercent: t.float({ required: false }),
    vramUsedMb: t.float({ required: false }),
    networkReceived: t.float({ required: false }),
    networkSent: t.float({ required: false }),
    diskWritesSC: t.float({ required: false }),
    diskReadsSC: t.float({ required: false }),
    diskWritesSD: t.float({ required: false }),
    diskReadsSD: t.float({ required: false }),
    systemUptimeSeconds: t.float({ required: false }),
    appUptimeSeconds: t.float({ required: false }),
  }),
});

export const SystemMetricSnapshotRef = builder.prismaObject('SystemMetric', {
  name: 'SystemMetricSnapshot',
  fields: (t) => ({
    id: t.exposeID('id'),
    timestamp: t.expose('timestamp', { type: 'DateTime' }),
    node: t.relation('node', { nullable: true }),
    cpuPercent: t.exposeFloat('cpuPercent', { nullable: true }),
    cpuTemperature: t.exposeFloat('cpuTemperature', { nullable: true }),
    memoryPercent: t.exposeFloat('memoryPercent', { nullable: true }),
    memoryUsedMb: t.exposeFloat('memoryUsedMb', { nullable: true }),
    memoryTemperature: t.exposeFloat('memoryTemperature', { nullable: true }),
    gpuPercent: t.exposeFloat('gpuPercent', { nullable: true }),
    gpuTemperature: t.exposeFloat('gpuTemperature', { nullable: true }),
    gpuFansRpm: t.exposeFloat('gpuFansRpm', { nullable: true }),
    gpuWatt: t.exposeFloat('gpuWatt', { nullable: true }),
    vramPercent: t.exposeFloat('vramPercent', { nullable: true }),
    vramUsedMb: t.exposeFloat('vramUsedMb', { nullable: true }),
    networkReceived: t.exposeFloat('networkReceived', { nullable: true }),
    networkSent: t.exposeFloat('networkSent', { nullable: true }),
    diskWritesSC: t.exposeFloat('diskWritesSC', { nullable: true }),
    diskReadsSC: t.exposeFloat('diskReadsSC', { nullable: true }),
    diskWritesSD: t.exposeFloat('diskWritesSD', { nullable: true }),
    diskReadsSD: t.exposeFloat('diskReadsSD', { nullable: true }),
    systemUptimeSeconds: t.exposeFloat('systemUptimeSeconds', { nullable: true }),
    appUptimeSeconds: t.exposeFloat('appUptimeSeconds', { nullable: true }),
  }),
});

const MetricBucketRef = builder.objectRef<MetricBucket>('MetricBucketStats').implement({
  description: 'The points of one bucket of a series',
  fields: (t) => ({
    bucket: t.expose('bucket', { type: 'DateTime', description: 'Start of the bucket' }),
    avg: t.exposeFloat('avg'),
    min: t.exposeFloat('min'),
    max: t.exposeFloat('max'),
    count: t.exposeInt('count'),
  }),
});

const MetricSeriesRef = builder.objectRef<MetricSeries>('MetricSeries').implement({
  description: 'One metric of one node or session, cut into buckets; buckets without points are absent',
  fields: (t) => ({
    metricType: t.exposeString('metricType'),
    bucketSeconds: t.exposeInt('bucketSeconds'),
    from: t.expose('from', { type: 'DateTime' }),
    to: t.expose('to', { type: 'DateTime' }),
    usedHourlyRollup: t.exposeBoolean('usedHourlyRollup', {
      description: 'Whole hours were read from the hourly rollup (long ranges); points arriving late for an hour already rolled up show after its next refresh',
    }),
    buckets: t.field({ type: [MetricBucketRef], resolve: (series) => series.buckets }),
  }),
});

const ClusterMetricRef = builder.objectRef<ClusterMetric>('ClusterMetric').implement({
  description: "One metric type across the tenant's nodes over a window",
  fields: (t) => ({
    metricType: t.exposeString('metricType'),
    avgValue: t.exposeFloat('avgValue'),
    maxValue: t.exposeFloat('maxValue'),
    minValue: t.exposeFloat('minValue'),
    sampleCount: t.exposeInt('sampleCount'),
    nodeCount: t.exposeInt('nodeCount'),
  }),
});

const SystemMeasurementEnum = builder.enumType('SystemMeasurement', {
  description: 'One measurement of a host snapshot',
  values: enumValues(SYSTEM_METRIC_COLUMNS),
});

const systemMetricsList = defineList({
  name: 'SystemMetrics',
  model: 'SystemMetric',
  filter: {
    // Snapshots are read one node at a time, so every filter names its node.
    nodeId: { ...idIs(ClusterNodeRef, 'nodeId'), input: (t) => t.globalID({ required: true, for: ClusterNodeRef }) },
    from: atLeast('timestamp', 'DateTime', 'Inclusive'),
    to: below('timestamp', 'DateTime', 'Exclusive'),
    minCpuPercent: atLeast('cpuPercent', 'Float'),
    maxCpuPercent: atMost('cpuPercent', 'Float'),
    minGpuPercent: atLeast('gpuPercent', 'Float'),
    maxGpuPercent: atMost('gpuPercent', 'Float'),
    minMemoryPercent: atLeast('memoryPercent', 'Float'),
    maxMemoryPercent: atMost('memoryPercent', 'Float'),
    minGpuTemperature: atLeast('gpuTemperature', 'Float'),
    maxGpuTemperature: atMost('gpuTemperature', 'Float'),
  },
  orderBy: {
    TIMESTAMP: 'timestamp',
    CPU_PERCENT: { column: 'cpuPercent', nulls: 'last' },
    GPU_PERCENT: { column: 'gpuPercent', nulls: 'last' },
    MEMORY_PERCENT: { column: 'memoryPercent', nulls: 'last' },
    GPU_TEMPERATURE: { column: 'gpuTemperature', nulls: 'last' },
  },
  defaultOrder: ['TIMESTAMP', 'desc'],
  tieBreakers: ['seq', 'id'],
});

builder.queryFields((t) => ({
  systemMetrics: t.prismaConnection({
    type: SystemMetricSnapshotRef,
    cursor: 'id_timestamp',
    description: "A node's host snapshots over [from, to), newest first unless ordered otherwise",
    authScopes: { permission: 'metrics:read' },
    args: { filter: t.arg({ type: systemMetricsList.Filter, required: true }), orderBy: t.arg({ type: [systemMetricsList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.systemMetric.count({ where: systemMetricsList.where({ tenantId: tenantOf(ctx) }, args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.systemMetric.findMany(systemMetricsList.page(query, { tenantId: tenantOf(ctx) }, args))),
  }),
  systemMetricSeries: t.field({
    type: MetricSeriesRef,
    description: "avg, min, max and count per bucket of one measurement of a node's host snapshots over [from, to); metricType is the measurement",
    authScopes: { permission: 'metrics:read' },
    args: {
      nodeId: t.arg.globalID({ required: true, for: ClusterNodeRef }),
      measurement: t.arg({ type: SystemMeasurementEnum, required: true }),
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime', required: true }),
      bucket: t.arg({ type: MetricBucketEnum, required: true }),
    },
    resolve: (_root, args, ctx) =>
      withGraphQLErrors(() =>
        ctx.services.metrics.systemMetricSeries(tenantOf(ctx), {
          nodeId: args.nodeId.id,
          measurement: args.measurement,
          from: args.from,
          to: args.to,
          bucketSeconds: args.bucket,
        }),
      ),
  }),
  metricSeries: t.field({
    type: MetricSeriesRef,
    description: "avg, min, max and count per bucket of a node's or a compute session's metric over [from, to)",
    authScopes: { permission: 'metrics:read' },
    args: {
      nodeId: t.arg.globalID({ required: false, for: ClusterNodeRef }),
      sessionId: t.arg.globalID({ required: false, for: SessionRef }),
      metricType: t.arg.string({ required: true }),
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime', required: true }),
      bucket: t.arg({ type: MetricBucketEnum, required: true }),
    },
    resolve: (_root, args, ctx) =>
      withGraphQLErrors(() =>
        ctx.services.metrics.metricSeries(tenantOf(ctx), {
          nodeId: args.nodeId?.id,
          sessionId: args.sessionId?.id,
          metricType: args.metricType,
          from: args.from,
          to: args.to,
          bucketSeconds: args.bucket,
        }),
      ),
  }),
  clusterMetrics: t.field({
    type: [ClusterMetricRef],
    description: "Each metric type across the tenant's nodes since a time, or over the last lastSeconds (default 3600)",
    authScopes: { permission: 'metrics:read' },
    args: {
      since: t.arg({ type: 'DateTime', required: false }),
      lastSeconds: t.arg.int({ required: false }),
    },
    resolve: (_root, args, ctx) => withGraphQLErrors(() => ctx.services.metrics.clusterMetrics(tenantOf(ctx), compact(args))),
  }),
}));

builder.mutationFields((t) => ({
  ingestNodeMetrics: t.field({
    type: 'Int',
    description: 'Stores up to 10,000 points of nodes of the tenant in one statement; all or none are accepted',
    authScopes: { permission: 'metrics:write' },
    errors: mutationErrors('IngestNodeMetrics', 'accepted', [ValidationError]),
    args: { input: t.arg({ type: IngestNodeMetricsInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.metrics.ingestNodeMetrics(tenantOf(ctx), {
        points: args.input.points.map((point) => ({ ...compact(point), nodeId: point.nodeId.id })),
        idempotencyKey: args.input.idempotencyKey ?? undefined,
      }),
  }),
  ingestSessionMetrics: t.field({
    type: 'Int',
    description: 'Stores up to 10,000 points of compute sessions of the tenant in one statement; all or none are accepted',
    authScopes: { permission: 'metrics:write' },
    errors: mutationErrors('IngestSessionMetrics', 'accepted', [ValidationError]),
    args: { input: t.arg({ type: IngestSessionMetricsInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.metrics.ingestSessionMetrics(tenantOf(ctx), {
        points: args.input.points.map((point) => ({ ...compact(point), sessionId: point.sessionId.id })),
      }),
  }),
  recordSystemMetrics: t.field({
    type: SystemMetricSnapshotRef,
    description: "Stores one snapshot of a host's vitals",
    authScopes: { permission: 'metrics:write' },
    errors: mutationErrors('RecordSystemMetrics', 'snapshot', [ValidationError]),
    args: { input: t.arg({ type: SystemMetricsInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.metrics.recordSystemMetrics(tenantOf(ctx), { ...compact(args.input), nodeId: args.input.nodeId?.id }),
  }),
}));
