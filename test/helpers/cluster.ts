import { createRedisPubSub } from '../../src/infra/pubsub.js';
import type { TopicName, TopicPayloads } from '../../src/infra/topics.js';
import { rawId } from './builders.js';
import type { TestServer } from './server.js';
import { TEST_REDIS_URL } from './backing-services.js';

/** Sets a node's last heartbeat, as the heartbeat monitor would, straight in the database. */
export async function setHeartbeat(server: TestServer, nodeId: string, at: Date | null): Promise<void> {
  await server.db.system.node.update({ where: { id: rawId(nodeId) }, data: { lastHeartbeat: at } });
}

/** Marks a node failed, as the heartbeat monitor does; the API lets operators set only the other states. */
export async function failNode(server: TestServer, nodeId: string): Promise<void> {
  await server.db.system.node.update({ where: { id: rawId(nodeId) }, data: { status: 'failed' } });
}

/** The system_events rows of a tenant, oldest first, as (event type, message) pairs. */
export async function systemEvents(server: TestServer, tenantId: string, eventType?: string) {
  return server.db.system.systemEvent.findMany({
    where: { tenantId, ...(eventType ? { eventType } : {}) },
    // The embedded database's clock ticks in milliseconds, so events written together share a timestamp: seq keeps write order.
    orderBy: [{ timestamp: 'asc' }, { seq: 'asc' }],
    select: { eventType: true, severity: true, message: true, details: true, sourceNodeId: true, sessionId: true },
  });
}

/**
 * Listens as another API instance would, through the project's Redis-backed bus. Resolves once the
 * subscription is live: a probe published by a third bus has come back through Redis.
 */
export async function listenAsAnotherInstance<T extends TopicName>(topic: T, tenantId: string, probe: TopicPayloads[T]) {
  const listener = createRedisPubSub(TEST_REDIS_URL, { resendDelayMs: 0 });
  const prober = createRedisPubSub(TEST_REDIS_URL, { resendDelayMs: 0 });
  const probeText = JSON.stringify(probe);
  const received: TopicPayloads[T][] = [];
  const stop = listener.listen(topic, tenantId, (payload) => received.push(payload));
  const events = () => received.filter((payload) => JSON.stringify(payload) !== probeText);
  try {
    for (let attempt = 0; !received.some((payload) => JSON.stringify(payload) === probeText); attempt += 1) {
      if (attempt === 200) throw new Error(`no subscription to ${topic} became live`);
      await prober.publish(topic, probe);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } finally {
    await prober.close();
  }
  return {
    events,
    /** Waits until `count` events (probes aside) match; fails after a while instead of hanging. */
    async waitFor(match: (payload: TopicPayloads[T]) => boolean, count = 1) {
      for (let i = 0; i < 200; i += 1) {
        const found = events().filter(match);
        if (found.length >= count) return found;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`only ${events().filter(match).length} of ${count} expected events arrived: ${JSON.stringify(events())}`);
    },
    async close() {
      stop();
      await listener.close();
    },
  };
}
