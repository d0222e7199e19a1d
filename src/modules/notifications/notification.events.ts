import type { BackgroundJob } from '../../infra/jobs.js';
import type { Logger } from '../../infra/logger.js';
import type { PubSub } from '../../infra/pubsub.js';
import { Topic, type TopicName, type TopicPayloads } from '../../infra/topics.js';
import { eventIdFor, type NotificationService } from './notification.service.js';
import type { SUBSCRIBABLE_EVENT_TYPES } from './notification.validation.js';

export interface TopicNotification {
  tenantId: string;
  eventId: string;
  eventType: (typeof SUBSCRIBABLE_EVENT_TYPES)[number];
  payload: Record<string, unknown>;
  occurredAt: Date;
}

type Mapping<T extends TopicName> = { topic: T; notify(payload: TopicPayloads[T]): TopicNotification | null };

const mapping = <T extends TopicName>(topic: T, notify: Mapping<T>['notify']): Mapping<T> => ({ topic, notify });

/**
 * Which pub/sub events become notifications. Event ids derive from the message, so every instance
 * receiving it (Redis fans each message out to all) queues the same deliveries once.
 *
 *   cluster.node.status_changed (status = failed)       -> node.failed
 *   workloads.session.state_changed (status = failed)   -> session.failed
 *   workloads.deployment.changed (change = scaled)      -> deployment.scaled
 *   quota.exceeded, security.event                      -> no topic publishes them yet; producers may
 *                                                          call NotificationService.enqueueEvent directly
 */
export const NOTIFICATION_TOPICS = [
  mapping(Topic.NodeStatusChanged, (e) =>
    e.status === 'failed'
      ? {
          tenantId: e.tenantId,
          eventId: eventIdFor(Topic.NodeStatusChanged, e.tenantId, e.nodeId, e.status, e.at),
          eventType: 'node.failed',
          payload: { nodeId: e.nodeId, previousStatus: e.previousStatus, status: e.status },
          occurredAt: new Date(e.at),
        }
      : null,
  ),
  mapping(Topic.SessionStateChanged, (e) =>
    e.status === 'failed'
      ? {
          tenantId: e.tenantId,
          eventId: eventIdFor(Topic.SessionStateChanged, e.tenantId, e.sessionId, e.status, e.at),
          eventType: 'session.failed',
          payload: { sessionId: e.sessionId, userId: e.userId, previousStatus: e.previousStatus, nodeId: e.nodeId, reason: e.reason },
          occurredAt: new Date(e.at),
        }
      : null,
  ),
  mapping(Topic.DeploymentChanged, (e) =>
    e.change === 'scaled'
      ? {
          tenantId: e.tenantId,
          eventId: eventIdFor(Topic.DeploymentChanged, e.tenantId, e.deploymentId, e.change, e.at),
          eventType: 'deployment.scaled',
          payload: { deploymentId: e.deploymentId, status: e.status, desiredReplicas: e.desiredReplicas, currentReplicas: e.currentReplicas },
          occurredAt: new Date(e.at),
        }
      : null,
  ),
] as const;

/** Subscribes to the mapped topics while started, queueing a delivery per matching channel. */
export function notificationEventsJob(pubsub: PubSub, notifications: NotificationService, log: Logger): BackgroundJob {
  let iterators: AsyncIterator<unknown>[] = [];
  let loops: Promise<void>[] = [];

  const consume = async <T extends TopicName>(entry: Mapping<T>, iterator: AsyncIterator<TopicPayloads[T]>) => {
    for (;;) {
      const next = await iterator.next().catch((error: unknown) => {
        log.error('notification topic subscription ended', { topic: entry.topic, error: (error as Error).message });
        return { done: true, value: undefined } as const;
      });
      if (next.done) return;
      let event: TopicNotification | null;
      try {
        event = entry.notify(next.value);
      } catch (error) {
        log.warn('notification event not understood', { topic: entry.topic, error: (error as Error).message });
        continue;
      }
      if (!event || Number.isNaN(event.occurredAt.getTime())) continue;
      const { tenantId, ...rest } = event;
      await notifications
        .enqueueEvent(tenantId, rest)
        .catch((error: unknown) => log.error('notification not queued', { topic: entry.topic, eventId: event.eventId, error: (error as Error).message }));
    }
  };

  return {
    name: 'notifications.events',
    start() {
      if (iterators.length > 0) return;
      for (const entry of NOTIFICATION_TOPICS as readonly Mapping<TopicName>[]) {
        const iterator = pubsub.subscribe(entry.topic)[Symbol.asyncIterator]();
        iterators.push(iterator);
        loops.push(consume(entry, iterator));
      }
    },
    async stop() {
      await Promise.all(iterators.map((iterator) => iterator.return?.().catch(() => undefined)));
      await Promise.all(loops);
      iterators = [];
      loops = [];
    },
  };
}
