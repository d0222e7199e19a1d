import type { PrismaClient } from '../../generated/prisma/client.js';
import { withExclusiveLock } from '../../infra/locks.js';
import type { Logger } from '../../infra/logger.js';
import type { PubSub } from '../../infra/pubsub.js';
import { announceTransitions, recordTransitionEvent, type RecordedTransition } from './node-liveness.js';

/** Nodes one sweep fails at most; the next sweep takes the rest. */
const SWEEP_BATCH = 500;
export const LIVENESS_LOCK = 'realtime.liveness-sweeper';

export type SweepResult = { ran: false } | { ran: true; failed: RecordedTransition[] };

/**
 * Marks active or draining nodes failed when their last heartbeat is older than the timeout,
 * writes a system event for each and announces the change. One instance sweeps at a time: the
 * sweep runs under a PostgreSQL advisory lock, and an instance that cannot take it skips the run.
 */
export class LivenessSweeper {
  constructor(
    private readonly system: PrismaClient,
    private readonly pubsub: PubSub,
    private readonly log: Logger,
    private readonly timeoutSeconds: number,
    /** Writes this instance's coalesced heartbeats first, so a node heard from lately is not failed. */
    private readonly beforeSweep: () => Promise<unknown> = async () => undefined,
  ) {}

  async sweep(): Promise<SweepResult> {
    await this.beforeSweep();
    const failed = await withExclusiveLock(this.system, LIVENESS_LOCK, async (tx) => {
      const stale = await tx.$queryRaw<{ node_id: string; tenant_id: string; hostname: string; previous_status: string; updated_at: Date }[]>`
        WITH stale AS (
          SELECT node_id, status FROM nodes
          WHERE status IN ('active', 'draining')
            AND coalesce(last_heartbeat, created_at) < now() - make_interval(secs => ${this.timeoutSeconds}::int)
          ORDER BY node_id
          LIMIT ${SWEEP_BATCH}
          FOR UPDATE SKIP LOCKED
        )
        UPDATE nodes AS n SET status = 'failed', updated_at = now()
        FROM stale WHERE n.node_id = stale.node_id
        RETURNING n.node_id::text, n.tenant_id::text, n.hostname, stale.status AS previous_status, n.updated_at`;
      const recorded: RecordedTransition[] = [];
      for (const row of stale) {
        recorded.push(
          await recordTransitionEvent(tx, {
            tenantId: row.tenant_id,
            nodeId: row.node_id,
            hostname: row.hostname,
            previousStatus: row.previous_status,
            status: 'failed',
            at: row.updated_at,
            reason: `no heartbeat for more than ${this.timeoutSeconds} s`,
          }),
        );
      }
      return recorded;
    });
    if (failed === undefined) return { ran: false };
    if (failed.length > 0) this.log.warn('silent nodes marked failed', { count: failed.length, timeoutSeconds: this.timeoutSeconds });
    await announceTransitions(this.pubsub, this.log, failed);
    return { ran: true, failed };
  }
}
