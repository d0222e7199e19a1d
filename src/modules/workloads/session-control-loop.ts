import type { PrismaClient } from '../../generated/prisma/client.js';
import type { Transaction } from '../../infra/db.js';
import { withExclusiveLock } from '../../infra/locks.js';
import type { Logger } from '../../infra/logger.js';
import type { PubSub } from '../../infra/pubsub.js';
import { Topic } from '../../infra/topics.js';
import { EventPublisher, pendingEvent, recordSystemEvent, type PendingEvent } from '../shared/domain-events.js';
import { releaseAllocations } from './allocations.js';
import { allocationSummary } from './compute-session.service.js';

export const SESSION_CONTROL_LOCK = 'workloads.session-control-loop';
/** Sessions one pass moves at most; the next pass takes the rest. */
const PASS_BATCH = 500;

interface Stranded {
  session_id: string;
  tenant_id: string;
  user_id: string;
  session_name: string;
  status: string;
  restart_policy: string;
  node_id: string;
  hostname: string;
  max_runtime_minutes: number | null;
}

export interface ControlPassResult {
  requeued: string[];
  failed: string[];
  expired: string[];
}

/**
 * Closes the loop the scheduler opens. Sessions on a failed node (silent past the timeout, reported
 * unhealthy, or set failed) follow their restart policy: back to pending to be placed elsewhere, or
 * failed with the node's failure as the reason. Running sessions past max_runtime_minutes are
 * completed. Allocations are released either way; each move is a system event and a
 * sessionStateChanged. One instance at a time runs a pass, under an advisory lock.
 */
export class SessionControlLoop {
  private readonly events: EventPublisher;

  constructor(
    private readonly system: PrismaClient,
    pubsub: PubSub,
    private readonly log: Logger,
  ) {
    this.events = new EventPublisher(pubsub, log);
  }

  /** One pass; undefined when another instance holds the lock. */
  async runPass(): Promise<ControlPassResult | undefined> {
    const pending: PendingEvent[] = [];
    const result = await withExclusiveLock(this.system, SESSION_CONTROL_LOCK, async (tx) => {
      const done: ControlPassResult = { requeued: [], failed: [], expired: [] };
      const onFailedNodes = await tx.$queryRaw<Stranded[]>`
        SELECT s.session_id::text, s.tenant_id::text, s.user_id::text, s.session_name, s.status, s.restart_policy,
               n.node_id::text, n.hostname, s.max_runtime_minutes
        FROM sessions s JOIN nodes n ON n.node_id = s.scheduled_node_id
        WHERE s.status IN ('scheduled', 'running', 'paused') AND n.status = 'failed'
        ORDER BY s.session_id LIMIT ${PASS_BATCH}
        FOR UPDATE OF s SKIP LOCKED`;
      for (const session of onFailedNodes) {
        const requeue = session.restart_policy === 'reschedule';
        const reason = `node ${session.hostname} failed; restart policy ${session.restart_policy}`;
        await this.move(tx, session, requeue ? 'pending' : 'failed', reason, pending);
        (requeue ? done.requeued : done.failed).push(session.session_id);
      }
      const overdue = await tx.$queryRaw<Stranded[]>`
        SELECT s.session_id::text, s.tenant_id::text, s.user_id::text, s.session_name, s.status, s.restart_policy,
               s.scheduled_node_id::text AS node_id, coalesce(n.hostname, '') AS hostname, s.max_runtime_minutes
        FROM sessions s LEFT JOIN nodes n ON n.node_id = s.scheduled_node_id
        WHERE s.status = 'running' AND s.max_runtime_minutes IS NOT NULL
          AND s.start_time + make_interval(mins => s.max_runtime_minutes) < now()
        ORDER BY s.session_id LIMIT ${PASS_BATCH}
        FOR UPDATE OF s SKIP LOCKED`;
      for (const session of overdue) {
        await this.move(tx, session, 'completed', `stopped: ran past its max runtime of ${session.max_runtime_minutes} minutes`, pending);
        done.expired.push(session.session_id);
      }
      return done;
    });
    if (!result) return undefined;
    const moved = result.requeued.length + result.failed.length + result.expired.length;
    if (moved > 0) this.log.info('session control loop moved sessions', { requeued: result.requeued.length, failed: result.failed.length, expired: result.expired.length });
    await this.events.publishAll(pending);
    return result;
  }

  /** Releases the session's allocations and moves it, with its audit row; requeued sessions lose their node. */
  private async move(tx: Transaction, session: Stranded, status: 'pending' | 'failed' | 'completed', reason: string, pending: PendingEvent[]) {
    const now = new Date();
    const released = await releaseAllocations(tx, session.tenant_id, session.session_id, now);
    const requeue = status === 'pending';
    // pending is not a move the state machine offers users: only this loop puts a session back in the queue.
    const updated = await tx.session.update({
      where: { id: session.session_id },
      data: requeue ? { status, scheduledNodeId: null, startTime: null } : { status, endTime: now },
      select: { updatedAt: true },
    });
    await recordSystemEvent(tx, {
      tenantId: session.tenant_id,
      eventType: requeue ? 'session.requeued' : 'session.state_changed',
      severity: status === 'completed' ? 'info' : 'warning',
      sourceComponent: 'sessions',
      sessionId: session.session_id,
      sourceNodeId: session.node_id,
      userId: session.user_id,
      message: `session ${session.session_name} ${session.status} -> ${status}: ${reason}`,
      details: {
        sessionId: session.session_id,
        previousStatus: session.status,
        status,
        reason,
        released: released.map((r) => ({ resourceType: r.resourceType, amount: r.allocatedAmount.toNumber(), nodeId: r.nodeId })),
      },
    });
    pending.push(
      pendingEvent(Topic.SessionStateChanged, {
        tenantId: session.tenant_id,
        sessionId: session.session_id,
        userId: session.user_id,
        previousStatus: session.status,
        status,
        nodeId: session.node_id,
        allocations: allocationSummary(released),
        reason,
        at: updated.updatedAt.toISOString(),
      }),
    );
  }
}
