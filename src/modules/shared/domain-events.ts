import type { Prisma } from '../../generated/prisma/client.js';
import type { Transaction } from '../../infra/db.js';
import type { Logger } from '../../infra/logger.js';
import type { PubSub } from '../../infra/pubsub.js';
import type { TopicName, TopicPayloads } from '../../infra/topics.js';

export interface SystemEventRecord {
  tenantId: string;
  eventType: string;
  severity: 'info' | 'warning' | 'error';
  sourceComponent: 'cluster' | 'scheduler' | 'sessions' | 'deployments';
  message: string;
  sourceNodeId?: string | null;
  sessionId?: string | null;
  userId?: string | null;
  details?: Prisma.InputJsonObject;
}

/**
 * Writes the audit row of a state change inside the transaction that makes the change. Its time is
 * the clock's, not the transaction's start, so the rows of one transaction keep their order.
 */
export async function recordSystemEvent(tx: Transaction, event: SystemEventRecord): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO system_events (timestamp, tenant_id, event_type, severity, source_component, source_node_id, session_id, user_id, message, details)
    VALUES (clock_timestamp(), ${event.tenantId}::uuid, ${event.eventType}, ${event.severity}, ${event.sourceComponent},
            ${event.sourceNodeId ?? null}::uuid, ${event.sessionId ?? null}::uuid, ${event.userId ?? null}::uuid, ${event.message},
            ${JSON.stringify(event.details ?? {})}::jsonb)`;
}

/** Publishes after commit; the change is already durable, so a pub/sub outage is logged, not raised. */
export class EventPublisher {
  constructor(
    private readonly pubsub: PubSub,
    private readonly log: Logger,
  ) {}

  async publish<T extends TopicName>(topic: T, payload: TopicPayloads[T]): Promise<void> {
    await this.pubsub.publish(topic, payload).catch((error: unknown) => this.log.warn('event not published', { topic, reason: String(error) }));
  }

  async publishAll(events: PendingEvent[]): Promise<void> {
    for (const event of events) await this.publish(event.topic, event.payload as never);
  }
}

/** An event to publish once the transaction that produced it has committed. */
export interface PendingEvent {
  topic: TopicName;
  payload: TopicPayloads[TopicName];
}

export const pendingEvent = <T extends TopicName>(topic: T, payload: TopicPayloads[T]): PendingEvent => ({ topic, payload });
