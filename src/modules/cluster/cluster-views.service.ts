import type { PrismaClient } from '../../generated/prisma/client.js';
import { withExclusiveLock } from '../../infra/locks.js';

export interface ClusterSummary {
  totalNodes: number;
  activeNodes: number;
  totalCpuCores: number;
  totalMemoryGb: number;
  totalGpus: number;
  avgHeartbeatAgeSeconds: number | null;
  refreshedAt: Date;
}

export interface SessionStatsRow {
  sessionType: string;
  status: string;
  sessionCount: number;
  avgDurationMinutes: number | null;
  totalCpuRequest: number;
  totalMemoryRequestGb: number;
  refreshedAt: Date;
}

/**
 * The dashboard rollups in the materialized views cluster_summary and session_stats. Views carry
 * no row-level security, so every read names the tenant; refreshing needs the owner connection.
 */
export class ClusterViewsService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly system: PrismaClient,
  ) {}

  /** The tenant's row as of the last refresh; null before a refresh has seen any of its nodes. */
  async clusterSummary(tenantId: string): Promise<ClusterSummary | null> {
    const [row] = await this.prisma.$queryRaw<ClusterSummary[]>`
      SELECT total_nodes::int AS "totalNodes", active_nodes::int AS "activeNodes", total_cpu_cores::float8 AS "totalCpuCores",
             total_memory_gb::float8 AS "totalMemoryGb", total_gpus::int AS "totalGpus",
             avg_heartbeat_age_seconds AS "avgHeartbeatAgeSeconds", refreshed_at AS "refreshedAt"
      FROM cluster_summary WHERE tenant_id = ${tenantId}::uuid`;
    return row ?? null;
  }

  /** Sessions created in the 24 hours before the last refresh, by type and status. */
  async sessionStats(tenantId: string): Promise<SessionStatsRow[]> {
    return this.prisma.$queryRaw<SessionStatsRow[]>`
      SELECT session_type AS "sessionType", status, session_count::int AS "sessionCount",
             avg_duration_minutes AS "avgDurationMinutes", total_cpu_request::float8 AS "totalCpuRequest",
             total_memory_request::float8 AS "totalMemoryRequestGb", refreshed_at AS "refreshedAt"
      FROM session_stats WHERE tenant_id = ${tenantId}::uuid
      ORDER BY session_type, status`;
  }

  /** Refreshes both views now; concurrent refreshes queue on the views' own lock. */
  async refresh(): Promise<Date> {
    // In a transaction, so the embedded database's socket server keeps the statement's messages together.
    await this.system.$transaction((tx) => tx.$executeRaw`SELECT refresh_cluster_views()`);
    return new Date();
  }

  /** The periodic refresh: one instance at a time does it. */
  async refreshIfNoOtherInstanceIs(): Promise<void> {
    await withExclusiveLock(this.system, 'cluster.views.refresh', async (tx) => {
      await tx.$executeRaw`SELECT refresh_cluster_views()`;
    });
  }
}
