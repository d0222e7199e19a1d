import type { PrismaClient } from '../../generated/prisma/client.js';
import type { RetentionConfig } from '../../config.js';
import { withExclusiveLock } from '../../infra/locks.js';
import type { Logger } from '../../infra/logger.js';
import { MonthlyPartitions } from '../telemetry/partitions.js';

const DAY_MS = 86_400_000;
const LOCK = 'lifecycle.retention';

type Tx = Parameters<Parameters<typeof withExclusiveLock>[2]>[0];

/** What one pass removes or moves: each rule is one table, its period and one batch of its rows. */
interface RetentionRule {
  table: RetainedTable;
  days: (settings: RetentionConfig) => number;
  /** Deletes (or archives) at most `limit` rows older than `cutoff`; returns how many. */
  batch: (tx: Tx, cutoff: Date, limit: number) => Promise<number>;
}

export const RETAINED_TABLES = [
  'tool_operations',
  'login_attempts',
  'security_events',
  'notification_deliveries',
  'user_sessions',
  'sessions',
  'system_events',
] as const;
export type RetainedTable = (typeof RETAINED_TABLES)[number];

/** Sessions in these states never change again, so they may be archived. */
const TERMINAL_SESSION_STATES = ['completed', 'failed', 'cancelled'];

const RULES: RetentionRule[] = [
  {
    table: 'tool_operations',
    days: (s) => s.toolOperationsDays,
    batch: (tx, cutoff, limit) => tx.$executeRaw`
      DELETE FROM tool_operations WHERE id IN (
        SELECT id FROM tool_operations WHERE created_at < ${cutoff}::timestamptz LIMIT ${limit})`,
  },
  {
    table: 'login_attempts',
    days: (s) => s.loginAttemptsDays,
    batch: (tx, cutoff, limit) => tx.$executeRaw`
      DELETE FROM security.login_attempts WHERE id IN (
        SELECT id FROM security.login_attempts WHERE timestamp < ${cutoff}::timestamptz LIMIT ${limit})`,
  },
  {
    table: 'security_events',
    days: (s) => s.securityEventsDays,
    batch: (tx, cutoff, limit) => tx.$executeRaw`
      DELETE FROM security.security_events WHERE id IN (
        SELECT id FROM security.security_events WHERE timestamp < ${cutoff}::timestamptz LIMIT ${limit})`,
  },
  {
    table: 'notification_deliveries',
    days: (s) => s.notificationDeliveriesDays,
    batch: (tx, cutoff, limit) => tx.$executeRaw`
      DELETE FROM notification_deliveries WHERE id IN (
        SELECT id FROM notification_deliveries
        WHERE status IN ('delivered', 'dead') AND coalesce(delivered_at, last_attempt_at, updated_at) < ${cutoff}::timestamptz
        LIMIT ${limit})`,
  },
  {
    table: 'user_sessions',
    days: (s) => s.userSessionsDays,
    batch: (tx, cutoff, limit) => tx.$executeRaw`
      DELETE FROM user_sessions WHERE token_id IN (
        SELECT token_id FROM user_sessions WHERE expires_at < ${cutoff}::timestamptz OR revoked_at < ${cutoff}::timestamptz LIMIT ${limit})`,
  },
  {
    table: 'sessions',
    days: (s) => s.sessionsArchiveDays,
    batch: (tx, cutoff, limit) => tx.$executeRaw`
      WITH moved AS (
        DELETE FROM sessions WHERE session_id IN (
          SELECT session_id FROM sessions
          WHERE status = ANY(${TERMINAL_SESSION_STATES}::text[]) AND coalesce(end_time, updated_at) < ${cutoff}::timestamptz
          LIMIT ${limit})
        RETURNING *)
      INSERT INTO sessions_archive (
        session_id, tenant_id, user_id, session_name, session_type, application, container_image, command, status, priority,
        max_runtime_minutes, cpu_request, cpu_limit, memory_request_gb, memory_limit_gb, gpu_request, gpu_type,
        storage_request_gb, network_policy, environment_variables, resource_constraints, placement_preferences,
        scheduling_notes, scheduled_node_id, actual_node_ids, start_time, end_time, created_at, updated_at, seq)
      SELECT
        session_id, tenant_id, user_id, session_name, session_type, application, container_image, command, status, priority,
        max_runtime_minutes, cpu_request, cpu_limit, memory_request_gb, memory_limit_gb, gpu_request, gpu_type,
        storage_request_gb, network_policy, environment_variables, resource_constraints, placement_preferences,
        scheduling_notes, scheduled_node_id, actual_node_ids, start_time, end_time, created_at, updated_at, seq
      FROM moved`,
  },
  {
    table: 'system_events',
    days: (s) => s.systemEventsArchiveDays,
    batch: (tx, cutoff, limit) => tx.$executeRaw`
      WITH moved AS (
        DELETE FROM system_events WHERE (event_id, timestamp) IN (
          SELECT event_id, timestamp FROM system_events WHERE timestamp < ${cutoff}::timestamptz LIMIT ${limit})
        RETURNING *)
      INSERT INTO system_events_archive (
        event_id, timestamp, tenant_id, event_type, severity, source_component, source_node_id, session_id, user_id,
        message, details, resolved_at, resolved_by, seq)
      SELECT event_id, timestamp, tenant_id, event_type, severity, source_component, source_node_id, session_id, user_id,
        message, details, resolved_at, resolved_by, seq
      FROM moved`,
  },
];

export interface RetentionPass {
  /** Rows deleted, or for sessions and system_events moved to their archive, per table. */
  removed: Record<RetainedTable, number>;
  /** Month partitions of system_events that archiving emptied, dropped (none where it is not partitioned). */
  emptyPartitionsDropped: number;
  /** False when another instance held the lock, which then does the rest of this pass. */
  complete: boolean;
}

/**
 * Keeps every growing table small: deletes or archives rows past their period, in batches, each its
 * own short transaction under the retention advisory lock, so only one instance works at a time.
 */
export class RetentionService {
  private readonly partitions: MonthlyPartitions;

  constructor(
    private readonly system: PrismaClient,
    private readonly log: Logger,
    readonly settings: RetentionConfig,
  ) {
    this.partitions = new MonthlyPartitions(system);
  }

  async applyRetention(now = new Date()): Promise<RetentionPass> {
    const removed = Object.fromEntries(RETAINED_TABLES.map((table) => [table, 0])) as Record<RetainedTable, number>;
    for (const rule of RULES) {
      const cutoff = new Date(now.getTime() - rule.days(this.settings) * DAY_MS);
      for (;;) {
        const count = await withExclusiveLock(this.system, LOCK, (tx) => rule.batch(tx, cutoff, this.settings.batchSize));
        if (count === undefined) return { removed, emptyPartitionsDropped: 0, complete: false };
        removed[rule.table] += count;
        if (count < this.settings.batchSize) break;
      }
    }
    if (Object.values(removed).some((count) => count > 0)) this.log.info('rows past retention removed or archived', removed);
    const emptyPartitionsDropped = await this.dropArchivedMonths(new Date(now.getTime() - this.settings.systemEventsArchiveDays * DAY_MS));
    if (emptyPartitionsDropped === undefined) return { removed, emptyPartitionsDropped: 0, complete: false };
    if (emptyPartitionsDropped > 0) this.log.info('empty month partitions of archived system events dropped', { partitions: emptyPartitionsDropped });
    return { removed, emptyPartitionsDropped, complete: true };
  }

  /** The months of system_events wholly before the archive cutoff are empty once archived: their partitions go. */
  private async dropArchivedMonths(cutoff: Date): Promise<number | undefined> {
    if (!(await this.partitions.isPartitioned('system_events'))) return 0;
    return withExclusiveLock(this.system, LOCK, (tx) => this.partitions.dropEmptyBefore('system_events', cutoff, tx));
  }
}
