import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import type { TelemetrySettings } from '../../config.js';
import type { Logger } from '../../infra/logger.js';
import { withExclusiveLock } from '../../infra/locks.js';
import { MonthlyPartitions } from './partitions.js';
import { DAY_MS, floorTo, timeseriesFeaturesOf, type TimeseriesFeatures } from './timeseries.js';

export const RETENTION_BATCH_SIZE = 5_000;
const LONG_WORK_MS = 10 * 60_000;

export interface RetentionResult {
  /** Rows (or, with TimescaleDB without a retention policy, chunks) removed per table. */
  removed: Record<RawMetricTable, number>;
  /** With monthly partitions: the whole months dropped per table (`removed` then counts rows of the default partition). */
  partitionsDropped?: Record<RawMetricTable, number>;
  /** none: TimescaleDB's policies retain; rows: batched deletes; chunks: drop_chunks; partitions: whole months dropped. */
  method: 'none' | 'rows' | 'chunks' | 'partitions';
}

export const RAW_METRIC_TABLES = ['node_metrics', 'session_metrics', 'system_metrics', 'llm_metrics'] as const;
export type RawMetricTable = (typeof RAW_METRIC_TABLES)[number];

/** Cross-tenant upkeep of the telemetry tables: daily summaries, raw retention, the hourly rollup. Runs as the owner. */
export class TelemetryMaintenanceService {
  private readonly features: () => Promise<TimeseriesFeatures>;
  readonly partitions: MonthlyPartitions;

  constructor(
    private readonly system: PrismaClient,
    private readonly log: Logger,
    readonly settings: TelemetrySettings,
  ) {
    this.features = timeseriesFeaturesOf(system);
    this.partitions = new MonthlyPartitions(system);
  }

  /**
   * Computes the summary of one UTC day for every tenant with LLM or host metrics that day, replacing
   * an earlier run's row: re-running a past day is safe. Returns the number of tenants summarized.
   */
  async summarizeDay(day: Date): Promise<number> {
    const start = floorTo(day, DAY_MS);
    const end = new Date(start.getTime() + DAY_MS);
    const date = start.toISOString().slice(0, 10);
    const summarized = await withExclusiveLock(this.system, 'telemetry.daily-summary', (tx) =>
      tx.$executeRaw`
        WITH llm AS (
          SELECT tenant_id,
                 count(*)::int AS requests,
                 coalesce(sum(tokens_generated), 0)::bigint AS tokens,
                 avg(tokens_per_second)::float8 AS tokens_per_second,
                 avg(generation_time_ms)::float8 AS response_time_ms,
                 (count(*) FILTER (WHERE cache_hit))::int AS hits,
                 (count(*) FILTER (WHERE NOT cache_hit))::int AS misses
          FROM llm_metrics
          WHERE timestamp >= ${start}::timestamptz AND timestamp < ${end}::timestamptz
          GROUP BY tenant_id
        ), top_model AS (
          SELECT DISTINCT ON (tenant_id) tenant_id, model_id
          FROM llm_metrics
          WHERE timestamp >= ${start}::timestamptz AND timestamp < ${end}::timestamptz
          GROUP BY tenant_id, model_id
          ORDER BY tenant_id, count(*) DESC, model_id
        ), host AS (
          SELECT tenant_id, max(cpu_percent) AS cpu, max(memory_percent) AS memory, max(gpu_percent) AS gpu
          FROM system_metrics
          WHERE timestamp >= ${start}::timestamptz AND timestamp < ${end}::timestamptz
          GROUP BY tenant_id
        ), tenants AS (
          SELECT tenant_id FROM llm UNION SELECT tenant_id FROM host
        )
        INSERT INTO daily_metrics_summary (
          tenant_id, date, total_requests, total_tokens_generated, avg_tokens_per_second, avg_response_time_ms,
          cache_hits, cache_misses, most_used_model, peak_cpu_percent, peak_memory_percent, peak_gpu_percent, computed_at)
        SELECT t.tenant_id, ${date}::date, coalesce(l.requests, 0), coalesce(l.tokens, 0), l.tokens_per_second, l.response_time_ms,
               coalesce(l.hits, 0), coalesce(l.misses, 0), m.model_id, h.cpu, h.memory, h.gpu, now()
        FROM tenants t
        LEFT JOIN llm l ON l.tenant_id = t.tenant_id
        LEFT JOIN top_model m ON m.tenant_id = t.tenant_id
        LEFT JOIN host h ON h.tenant_id = t.tenant_id
        ON CONFLICT (tenant_id, date) DO UPDATE SET
          total_requests = EXCLUDED.total_requests,
          total_tokens_generated = EXCLUDED.total_tokens_generated,
          avg_tokens_per_second = EXCLUDED.avg_tokens_per_second,
          avg_response_time_ms = EXCLUDED.avg_response_time_ms,
          cache_hits = EXCLUDED.cache_hits,
          cache_misses = EXCLUDED.cache_misses,
          most_used_model = EXCLUDED.most_used_model,
          peak_cpu_percent = EXCLUDED.peak_cpu_percent,
          peak_memory_percent = EXCLUDED.peak_memory_percent,
          peak_gpu_percent = EXCLUDED.peak_gpu_percent,
          computed_at = EXCLUDED.computed_at`,
    );
    return summarized ?? 0;
  }

  /** The job's pass: the last few finished UTC days, so late points and a missed run are caught up. */
  async summarizeFinishedDays(now = new Date()): Promise<void> {
    const today = floorTo(now, DAY_MS).getTime();
    for (let back = this.settings.summaryLookbackDays; back >= 1; back -= 1) {
      await this.summarizeDay(new Date(today - back * DAY_MS));
    }
  }

  /**
   * Removes raw metrics older than the retention period. With TimescaleDB and a retention policy the
   * policy does it; with TimescaleDB but no policy (Apache build) whole chunks are dropped; without
   * TimescaleDB rows are deleted per tenant in batches, each its own short transaction.
   */
  async applyRetention(now = new Date()): Promise<RetentionResult> {
    const cutoff = new Date(now.getTime() - this.settings.retentionDays * DAY_MS);
    const removed: Record<RawMetricTable, number> = { node_metrics: 0, session_metrics: 0, system_metrics: 0, llm_metrics: 0 };
    if ((await this.features()).timescale) {
      const [policy] = await this.system.$queryRaw<{ present: boolean }[]>`
        SELECT EXISTS (SELECT 1 FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' AND hypertable_name = 'node_metrics') AS present`;
      if (policy?.present) return { removed, method: 'none' };
      for (const table of RAW_METRIC_TABLES) removed[table] = await this.dropChunks(table, cutoff);
      return { removed, method: 'chunks' };
    }
    if (await this.partitions.isPartitioned('node_metrics')) {
      const partitionsDropped: Record<RawMetricTable, number> = { node_metrics: 0, session_metrics: 0, system_metrics: 0, llm_metrics: 0 };
      for (const table of RAW_METRIC_TABLES) {
        const dropped = await withExclusiveLock(this.system, 'telemetry.retention', (tx) => this.partitions.dropBefore(table, cutoff, tx));
        if (dropped === undefined) break;
        removed[table] = dropped.defaultRows;
        partitionsDropped[table] = dropped.partitions;
      }
      return { removed, method: 'partitions', partitionsDropped };
    }
    const tenants = await this.system.tenant.findMany({ select: { id: true } });
    for (const table of RAW_METRIC_TABLES) {
      for (const { id: tenantId } of tenants) {
        for (;;) {
          const deleted = await withExclusiveLock(this.system, 'telemetry.retention', (tx) => deleteBatch(tx, table, tenantId, cutoff));
          // Another instance is retaining right now: leave the rest of this run to it.
          if (deleted === undefined) return { removed, method: 'rows' };
          removed[table] += deleted;
          if (deleted < RETENTION_BATCH_SIZE) break;
        }
      }
    }
    const total = Object.values(removed).reduce((sum, n) => sum + n, 0);
    if (total > 0) this.log.info('raw metrics past retention removed', { ...removed, cutoff: cutoff.toISOString() });
    return { removed, method: 'rows' };
  }

  private async dropChunks(table: RawMetricTable, cutoff: Date): Promise<number> {
    const rows = await (() => {
      switch (table) {
        case 'node_metrics':
          return this.system.$queryRaw<unknown[]>`SELECT drop_chunks('public.node_metrics'::regclass, older_than => ${cutoff}::timestamptz)`;
        case 'session_metrics':
          return this.system.$queryRaw<unknown[]>`SELECT drop_chunks('public.session_metrics'::regclass, older_than => ${cutoff}::timestamptz)`;
        case 'system_metrics':
          return this.system.$queryRaw<unknown[]>`SELECT drop_chunks('public.system_metrics'::regclass, older_than => ${cutoff}::timestamptz)`;
        case 'llm_metrics':
          return this.system.$queryRaw<unknown[]>`SELECT drop_chunks('public.llm_metrics'::regclass, older_than => ${cutoff}::timestamptz)`;
      }
    })();
    return rows.length;
  }

  /**
   * Brings node_metrics_hourly up to date where it is a materialized view; a continuous aggregate is
   * left to its policy. Returns whether it refreshed.
   */
  async refreshHourlyRollup(): Promise<boolean> {
    const refreshed = await withExclusiveLock(
      this.system,
      'telemetry.hourly-rollup',
      async (tx) => (await tx.$queryRaw<{ refreshed: boolean }[]>`SELECT refresh_node_metrics_hourly() AS refreshed`)[0]?.refreshed ?? false,
      LONG_WORK_MS,
    );
    return refreshed ?? false;
  }
}

type Tx = Parameters<Parameters<typeof withExclusiveLock>[2]>[0];

/** Each raw metric table's time column; table and column names come from this closed list only. */
const TIME_COLUMN: Record<RawMetricTable, string> = {
  node_metrics: 'time',
  session_metrics: 'time',
  system_metrics: 'timestamp',
  llm_metrics: 'timestamp',
};

/** One batch of old rows of one tenant, found through the table's (tenant_id, time) index. */
function deleteBatch(tx: Tx, table: RawMetricTable, tenantId: string, cutoff: Date): Promise<number> {
  const [name, time] = [Prisma.raw(table), Prisma.raw(TIME_COLUMN[table])];
  return tx.$executeRaw`
    DELETE FROM ${name} WHERE (id, ${time}) IN (
      SELECT id, ${time} FROM ${name} WHERE tenant_id = ${tenantId}::uuid AND ${time} < ${cutoff}::timestamptz LIMIT ${RETENTION_BATCH_SIZE})`;
}
