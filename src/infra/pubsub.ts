import { createPubSub } from 'graphql-yoga';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis } from 'ioredis';
import type { TopicName, TopicPayloads } from './topics.js';

/** One typed interface over the in-process and the Redis-backed event bus. */
export interface PubSub {
  readonly backend: 'memory' | 'redis';
  publish<T extends TopicName>(topic: T, payload: TopicPayloads[T]): Promise<void>;
  subscribe<T extends TopicName>(topic: T): AsyncIterable<TopicPayloads[T]>;
  /** Resolves when the backend can carry events; rejects with the reason otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function createMemoryPubSub(): PubSub {
  const bus = createPubSub<{ [K in TopicName]: [TopicPayloads[K]] }>();
  return {
    backend: 'memory',
    async publish(topic, payload) {
      // The generic signature cannot narrow a mapped tuple by a type parameter.
      (bus.publish as (t: string, p: unknown) => void)(topic, payload);
    },
    subscribe: (topic) => bus.subscribe(topic) as AsyncIterable<never>,
    async ping() {},
    async close() {},
  };
}

export function createRedisPubSub(url: string): PubSub {
  const options = { lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true } as const;
  const publisher = new Redis(url, options);
  const subscriber = new Redis(url, options);
  // Connection errors are retried by ioredis and surface through ping() for readiness checks.
  publisher.on('error', () => undefined);
  subscriber.on('error', () => undefined);
  const bus = new RedisPubSub({ publisher, subscriber });
  return {
    backend: 'redis',
    publish: (topic, payload) => bus.publish(topic, payload),
    subscribe: <T extends TopicName>(topic: T) => bus.asyncIterableIterator(topic) as AsyncIterable<TopicPayloads[T]>,
    async ping() {
      await publisher.ping();
    },
    async close() {
      await bus.close().catch(() => undefined);
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}

export function createPubSubFor(redisUrl: string | undefined): PubSub {
  return redisUrl ? createRedisPubSub(redisUrl) : createMemoryPubSub();
}
