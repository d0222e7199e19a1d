import { Prisma } from '../../generated/prisma/client.js';
import type { SeriesQuery, SystemSeriesQuery } from './metrics.validation.js';
import { bucketStart, type TimeseriesFeatures } from './timeseries.js';

export interface BucketRow {
  bucket: Date;
  avg: number;
  min: number;
  max: number;
  count: bigint | number;
}

/** avg, min, max and count per bucket from raw points of a node or a session. */
export function rawSeriesSql(features: TimeseriesFeatures, tenantId: string, query: SeriesQuery): Prisma.Sql {
  const source =
    query.nodeId !== undefined
      ? Prisma.sql`FROM node_metrics m WHERE m.node_id = ${query.nodeId}::uuid`
      : Prisma.sql`FROM session_metrics m WHERE m.session_id = ${query.sessionId}::uuid`;
  return Prisma.sql`
    SELECT s.bucket, avg(s.value)::float8 AS avg, min(s.value)::float8 AS min, max(s.value)::float8 AS max, count(*)::bigint AS count
    FROM (
      SELECT ${bucketStart(features, query.bucketSeconds, Prisma.sql`m.time`)} AS bucket, m.value
      ${source}
        AND m.tenant_id = ${tenantId}::uuid AND m.metric_type = ${query.metricType}
        AND m.time >= ${query.from}::timestamptz AND m.time < ${query.to}::timestamptz
    ) s
    GROUP BY s.bucket
    ORDER BY s.bucket`;
}

/**
 * The same per bucket for a node, with the whole hours in [hoursFrom, hoursTo) read from
 * node_metrics_hourly and the rest of [from, to) from raw points.
 */
export function rollupSeriesSql(
  features: TimeseriesFeatures,
  tenantId: string,
  nodeId: string,
  query: SeriesQuery,
  hoursFrom: Date,
  hoursTo: Date,
): Prisma.Sql {
  const seconds = query.bucketSeconds;
  return Prisma.sql`
    WITH parts AS (
      SELECT ${bucketStart(features, seconds, Prisma.sql`h.bucket`)} AS bucket,
             sum(h.avg_value * h.sample_count) AS total, min(h.min_value) AS lo, max(h.max_value) AS hi, sum(h.sample_count) AS n
      FROM node_metrics_hourly h
      WHERE h.tenant_id = ${tenantId}::uuid AND h.node_id = ${nodeId}::uuid AND h.metric_type = ${query.metricType}
        AND h.bucket >= ${hoursFrom}::timestamptz AND h.bucket < ${hoursTo}::timestamptz
      GROUP BY 1
      UNION ALL
      SELECT ${bucketStart(features, seconds, Prisma.sql`m.time`)} AS bucket,
             sum(m.value), min(m.value), max(m.value), count(*)
      FROM node_metrics m
      WHERE m.tenant_id = ${tenantId}::uuid AND m.node_id = ${nodeId}::uuid AND m.metric_type = ${query.metricType}
        AND m.time >= ${query.from}::timestamptz AND m.time < ${query.to}::timestamptz
        AND (m.time < ${hoursFrom}::timestamptz OR m.time >= ${hoursTo}::timestamptz)
      GROUP BY 1
    )
    SELECT bucket, (sum(total) / sum(n))::float8 AS avg, min(lo)::float8 AS min, max(hi)::float8 AS max, sum(n)::bigint AS count
    FROM parts
    GROUP BY bucket
    ORDER BY bucket`;
}

/** avg, min, max and count per bucket of one measurement of a node's host snapshots; snapshots without it are left out. */
export function systemSeriesSql(features: TimeseriesFeatures, tenantId: string, query: SystemSeriesQuery): Prisma.Sql {
  // The column name is one of SYSTEM_METRIC_COLUMNS, checked by the query's validation.
  const column = Prisma.raw(`m."${query.measurement}"`);
  return Prisma.sql`
    SELECT s.bucket, avg(s.value)::float8 AS avg, min(s.value)::float8 AS min, max(s.value)::float8 AS max, count(*)::bigint AS count
    FROM (
      SELECT ${bucketStart(features, query.bucketSeconds, Prisma.sql`m.timestamp`)} AS bucket, ${column} AS value
      FROM system_metrics m
      WHERE m.tenant_id = ${tenantId}::uuid AND m.node_id = ${query.nodeId}::uuid
        AND m.timestamp >= ${query.from}::timestamptz AND m.timestamp < ${query.to}::timestamptz
        AND ${column} IS NOT NULL
    ) s
    GROUP BY s.bucket
    ORDER BY s.bucket`;
}
