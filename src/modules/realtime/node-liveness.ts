import type { Prisma } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/logger.js';
import type { PubSub } from '../../infra/pubsub.js';
import { Topic } from '../../infra/topics.js';

/** A node the heartbeat monitor moved: back to active, or to failed. */
export interface LivenessTransition {
  tenantId: string;
  nodeId: string;
  hostname: string;
  previousStatus: string;
  status: 'active' | 'failed';
  at: Date;
  reason: string;
}

export interface RecordedTransition extends LivenessTransition {
  eventId: string;
  eventAt: Date;
  severity: 'info' | 'error';
}

/** The component system_events names for what the heartbeat monitor did. */
export const HEARTBEAT_MONITOR = 'heartbeat-monitor';

/** Writes the transition's system_events row inside the transaction that changed the node. */
export async function recordTransitionEvent(tx: Pick<Prisma.TransactionClient, 'systemEvent'>, transition: LivenessTransition): Promise<RecordedTransition> {
  const severity = transition.status === 'failed' ? 'error' : 'info';
  const event = await tx.systemEvent.create({
    data: {
      tenantId: transition.tenantId,
      eventType: transition.status === 'failed' ? 'node.failed' : 'node.recovered',
      severity,
      sourceComponent: HEARTBEAT_MONITOR,
      sourceNodeId: transition.nodeId,
      message: `node ${transition.hostname} is ${transition.status} (was ${transition.previousStatus}): ${transition.reason}`,
      details: { nodeId: transition.nodeId, previousStatus: transition.previousStatus, status: transition.status, reason: transition.reason },
    },
    select: { id: true, timestamp: true },
  });
  return { ...transition, eventId: event.id, eventAt: event.timestamp, severity };
}

/** Announces committed transitions; the rows are durable, so a publish failure is logged, not raised. */
export async function announceTransitions(pubsub: PubSub, log: Logger, transitions: readonly RecordedTransition[]): Promise<void> {
  for (const t of transitions) {
    await pubsub
      .publish(Topic.NodeStatusChanged, { tenantId: t.tenantId, nodeId: t.nodeId, previousStatus: t.previousStatus, status: t.status, at: t.at.toISOString() })
      .catch((error: unknown) => log.warn('node status change not published', { nodeId: t.nodeId, reason: String(error) }));
    await pubsub
      .publish(Topic.SystemEventRecorded, {
        tenantId: t.tenantId,
        eventId: t.eventId,
        eventType: t.status === 'failed' ? 'node.failed' : 'node.recovered',
        severity: t.severity,
        nodeId: t.nodeId,
        sessionId: null,
        at: t.eventAt.toISOString(),
      })
      .catch((error: unknown) => log.warn('system event not published', { eventId: t.eventId, reason: String(error) }));
  }
}
