import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/logger.js';
import type { TenantRows } from '../../infra/db.js';
import type { PubSub } from '../../infra/pubsub.js';
import { Topic, type MetricPoint } from '../../infra/topics.js';
import type { FieldIssue } from '../shared/errors.js';
import {
  parseClusterMetricsQuery,
  parseNodeMetricBatch,
  parseSeriesQuery,
  parseSessionMetricBatch,
  parseSystemSeriesQuery,
  parseSystemSnapshot,
  truncatedValidationError,
  type SeriesQuery,
  type SystemSnapshotInput,
} from './metrics.validation.js';
import { rawSeriesSql, rollupSeriesSql, systemSeriesSql, type BucketRow } from './metrics.sql.js';
import { ceilTo, DAY_MS, floorTo, HOUR_MS, timeseriesFeaturesOf, type TimeseriesFeatures } from './timeseries.js';

export interface MetricBucket {
  bucket: Date;
  avg: number;
  min: number;
  max: number;
  count: number;
}

export interface MetricSeries {
  metricType: string;
  bucketSeconds: number;
  from: Date;
  to: Date;
  /** Whole hours came from node_metrics_hourly; the edges and the hours since its last refresh from raw points. */
  usedHourlyRollup: boolean;
  buckets: MetricBucket[];
}

export interface ClusterMetric {
  metricType: string;
  avgValue: number;
  maxValue: number;
  minValue: number;
  sampleCount: number;
  nodeCount: number;
}

/** Ranges longer than this, cut into whole hours or more, read node_metrics_hourly. */
export const ROLLUP_MIN_RANGE_MS = 2 * DAY_MS;
const DEFAULT_CLUSTER_WINDOW_SECONDS = 3_600;

/** The snapshot columns, in the order they are published as points. */
const SNAPSHOT_COLUMNS: [keyof SystemSnapshotInput, string][] = [
  ['cpuPercent', 'cpu_percent'],
  ['cpuTemperature', 'cpu_temperature'],
  ['memoryPercent', 'memory_percent'],
  ['memoryUsedMb', 'memory_used_mb'],
  ['memoryTemperature', 'memory_temperature'],
  ['gpuPercent', 'gpu_percent'],
  ['gpuTemperature', 'gpu_temperature'],
  ['gpuFansRpm', 'gpu_fans_rpm'],
  ['gpuWatt', 'gpu_watt'],
  ['vramPercent', 'vram_percent'],
  ['vramUsedMb', 'vram_used_mb'],
  ['networkReceived', 'network_received'],
  ['networkSent', 'network_sent'],
  ['diskWritesSC', 'disk_writes_s_c'],
  ['diskReadsSC', 'disk_reads_s_c'],
  ['diskWritesSD', 'disk_writes_s_d'],
  ['diskReadsSD', 'disk_reads_s_d'],
  ['systemUptimeSeconds', 'system_uptime_seconds'],
  ['appUptimeSeconds', 'app_uptime_seconds'],
];

/** Points referring to a node or session the tenant does not have, as field issues. */
function unknownReferences<P>(points: P[], idOf: (point: P) => string, known: Set<string>, field: string, noun: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  points.forEach((point, index) => {
    if (!known.has(idOf(point))) issues.push({ path: `points.${index}.${field}`, message: `no such ${noun} in this tenant` });
  });
  return issues;
}

export class MetricsService {
  private readonly features: () => Promise<TimeseriesFeatures>;

  constructor(
    private readonly prisma: PrismaClient,
    system: PrismaClient,
    private readonly pubsub: PubSub,
    private readonly log: Logger,
    /** The tenant connection's plain statement path: series are read on it, without the ORM. */
    private readonly rows: TenantRows,
  ) {
    this.features = timeseriesFeaturesOf(system);
  }

  private series(sql: Prisma.Sql): Promise<BucketRow[]> {
    return this.rows<BucketRow>(sql.text, sql.values);
  }

  /**
   * Validates up to 10,000 node points, checks their nodes in one query and writes them in one
   * statement. With an idempotency key, a batch already stored answers its first count and stores nothing.
   */
  async ingestNodeMetrics(tenantId: string, rawInput: unknown): Promise<number> {
    const { points, idempotencyKey } = parseNodeMetricBatch(rawInput);
    const ids = [...new Set(points.map((point) => point.nodeId))];
    const rows = await this.prisma.$queryRaw<{ id: string }[]>`
      SELECT node_id::text AS id FROM nodes WHERE tenant_id = ${tenantId}::uuid AND node_id = ANY(${ids}::uuid[])`;
    if (rows.length !== ids.length) {
      const known = new Set(rows.map((row) => row.id));
      throw truncatedValidationError(unknownReferences(points, (point) => point.nodeId, known, 'nodeId', 'node'));
    }
    // One statement, one parameter: the batch as a JSON array of records, expanded by the database.
    const records = JSON.stringify(points.map((p) => ({ t: p.time, n: p.nodeId, m: p.metricType, v: p.value, u: p.unit ?? null, l: p.labels })));
    // With a key, the receipt is claimed in the same statement: a batch whose key is taken stores nothing.
    const claim = idempotencyKey
      ? Prisma.sql`WITH claim AS (
          INSERT INTO ingest_receipts (tenant_id, idempotency_key, accepted) VALUES (${tenantId}::uuid, ${idempotencyKey}, ${points.length})
          ON CONFLICT DO NOTHING RETURNING 1)`
      : Prisma.empty;
    const onlyIfClaimed = idempotencyKey ? Prisma.sql`WHERE EXISTS (SELECT 1 FROM claim)` : Prisma.empty;
    const inserted = await this.prisma.$executeRaw`
      ${claim}
      INSERT INTO node_metrics (time, tenant_id, node_id, metric_type, value, unit, labels)
      SELECT r.t, ${tenantId}::uuid, r.n, r.m, r.v, r.u, r.l::jsonb
      FROM json_to_recordset(${records}::json) AS r(t timestamptz, n uuid, m varchar, v float8, u varchar, l text)
      ${onlyIfClaimed}`;
    const replayed = idempotencyKey !== undefined && inserted === 0;
    let accepted = inserted;
    if (replayed) {
      const [receipt] = await this.prisma.$queryRaw<{ accepted: number }[]>`
        SELECT accepted FROM ingest_receipts WHERE tenant_id = ${tenantId}::uuid AND idempotency_key = ${idempotencyKey}`;
      accepted = receipt?.accepted ?? 0;
    }
    if (replayed) return accepted;
    await this.publish(
      tenantId,
      points.map((point) => ({ nodeId: point.nodeId, sessionId: null, metricType: point.metricType, value: point.value, unit: point.unit ?? null, time: point.time.toISOString() })),
    );
    return accepted;
  }

  /** As ingestNodeMetrics, for points of the tenant's compute sessions. */
  async ingestSessionMetrics(tenantId: string, rawInput: unknown): Promise<number> {
    const { points } = parseSessionMetricBatch(rawInput);
    const ids = [...new Set(points.map((point) => point.sessionId))];
    const rows = await this.prisma.$queryRaw<{ id: string }[]>`
      SELECT session_id::text AS id FROM sessions WHERE tenant_id = ${tenantId}::uuid AND session_id = ANY(${ids}::uuid[])`;
    if (rows.length !== ids.length) {
      const known = new Set(rows.map((row) => row.id));
      throw truncatedValidationError(unknownReferences(points, (point) => point.sessionId, known, 'sessionId', 'session'));
    }
    const records = JSON.stringify(points.map((p) => ({ t: p.time, s: p.sessionId, m: p.metricType, v: p.value, u: p.unit ?? null, l: p.labels })));
    const accepted = await this.prisma.$executeRaw`
      INSERT INTO session_metrics (time, tenant_id, session_id, metric_type, value, unit, labels)
      SELECT r.t, ${tenantId}::uuid, r.s, r.m, r.v, r.u, r.l::jsonb
      FROM json_to_recordset(${records}::json) AS r(t timestamptz, s uuid, m varchar, v float8, u varchar, l text)`;
    await this.publish(
      tenantId,
      points.map((point) => ({ nodeId: null, sessionId: point.sessionId, metricType: point.metricType, value: point.value, unit: point.unit ?? null, time: point.time.toISOString() })),
    );
    return accepted;
  }

  /** Stores one wide host snapshot; each measured column is also published as a point of its node. */
  async recordSystemMetrics(tenantId: string, rawInput: unknown) {
    const input = parseSystemSnapshot(rawInput);
    if (input.nodeId !== undefined) {
      const node = await this.prisma.node.findFirst({ where: { id: input.nodeId, tenantId }, select: { id: true } });
      if (!node) throw truncatedValidationError([{ path: 'nodeId', message: 'no such node in this tenant' }]);
    }
    const snapshot = await this.prisma.systemMetric.create({ data: { ...input, tenantId } });
    const time = snapshot.timestamp.toISOString();
    const points: MetricPoint[] = [];
    for (const [field, metricType] of SNAPSHOT_COLUMNS) {
      const value = input[field];
      if (typeof value === 'number') points.push({ nodeId: snapshot.nodeId, sessionId: null, metricType, value, time });
    }
    await this.publish(tenantId, points);
    return snapshot;
  }

  /** avg, min, max and count per bucket of one node's or session's metric. */
  async metricSeries(tenantId: string, rawQuery: unknown): Promise<MetricSeries> {
    const query = parseSeriesQuery(rawQuery);
    const features = await this.features();
    const result = { metricType: query.metricType, bucketSeconds: query.bucketSeconds, from: query.from, to: query.to };
    const span = query.to.getTime() - query.from.getTime();
    if (query.nodeId !== undefined && (query.bucketSeconds * 1000) % HOUR_MS === 0 && span > ROLLUP_MIN_RANGE_MS) {
      const fromRollup = await this.nodeSeriesWithRollup(tenantId, query.nodeId, query, features);
      if (fromRollup) return { ...result, usedHourlyRollup: true, buckets: fromRollup };
    }
    const rows = await this.series(rawSeriesSql(features, tenantId, query));
    return { ...result, usedHourlyRollup: false, buckets: rows.map(toBucket) };
  }

  /** One measurement of a node's host snapshots per bucket over [from, to), like metricSeries. */
  async systemMetricSeries(tenantId: string, rawQuery: unknown): Promise<MetricSeries> {
    const query = parseSystemSeriesQuery(rawQuery);
    const rows = await this.series(systemSeriesSql(await this.features(), tenantId, query));
    return { metricType: query.measurement, bucketSeconds: query.bucketSeconds, from: query.from, to: query.to, usedHourlyRollup: false, buckets: rows.map(toBucket) };
  }

  /**
   * Whole hours up to the rollup's newest bucket come from node_metrics_hourly; the partial hours at
   * either edge and everything from that newest (possibly partial) bucket on come from raw points.
   * Returns undefined when the rollup covers no whole hour of the range.
   */
  private async nodeSeriesWithRollup(tenantId: string, nodeId: string, query: SeriesQuery, features: TimeseriesFeatures): Promise<MetricBucket[] | undefined> {
    const [mark] = await this.prisma.$queryRaw<{ newest: Date | null }[]>`
      SELECT max(bucket) AS newest FROM node_metrics_hourly
      WHERE tenant_id = ${tenantId}::uuid AND node_id = ${nodeId}::uuid AND metric_type = ${query.metricType}`;
    if (!mark?.newest) return undefined;
    const hoursFrom = ceilTo(query.from, HOUR_MS);
    const hoursTo = new Date(Math.min(floorTo(query.to, HOUR_MS).getTime(), mark.newest.getTime()));
    if (hoursTo.getTime() <= hoursFrom.getTime()) return undefined;
    const rows = await this.series(rollupSeriesSql(features, tenantId, nodeId, query, hoursFrom, hoursTo));
    return rows.map(toBucket);
  }

  /** Per metric type across the tenant's nodes since a time (seed 000's get_cluster_metrics, with bound parameters). */
  async clusterMetrics(tenantId: string, rawQuery: unknown): Promise<ClusterMetric[]> {
    const query = parseClusterMetricsQuery(rawQuery);
    const since =
      query.since !== undefined
        ? Prisma.sql`${query.since}::timestamptz`
        : Prisma.sql`now() - make_interval(secs => ${query.lastSeconds ?? DEFAULT_CLUSTER_WINDOW_SECONDS}::float8)`;
    const rows = await this.prisma.$queryRaw<(Omit<ClusterMetric, 'sampleCount'> & { sampleCount: bigint })[]>`
      SELECT metric_type AS "metricType",
             avg(value)::float8 AS "avgValue",
             max(value)::float8 AS "maxValue",
             min(value)::float8 AS "minValue",
             count(*)::bigint AS "sampleCount",
             count(DISTINCT node_id)::int AS "nodeCount"
      FROM node_metrics
      WHERE tenant_id = ${tenantId}::uuid AND time >= ${since}
      GROUP BY metric_type
      ORDER BY metric_type`;
    return rows.map((row) => ({ ...row, sampleCount: Number(row.sampleCount) }));
  }

  /** A publish failure must not fail points that are already stored. */
  private async publish(tenantId: string, points: MetricPoint[]): Promise<void> {
    if (points.length === 0) return;
    await this.pubsub
      .publish(Topic.MetricsIngested, { tenantId, points })
      .catch((error: unknown) => this.log.warn('metrics not published', { count: points.length, reason: String(error) }));
  }
}

const toBucket = (row: BucketRow): MetricBucket => ({ bucket: row.bucket, avg: row.avg, min: row.min, max: row.max, count: Number(row.count) });
