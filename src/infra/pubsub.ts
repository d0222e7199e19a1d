import { randomUUID } from 'node:crypto';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';
import type { TopicName, TopicPayloads } from './topics.js';

/** The scope that listens to a topic across every tenant (workers, socket revocation). */
export const ALL_TENANTS = '*';

export interface ListenOptions {
  /**
   * 'local': only events this process published, so an event published once is handled by exactly
   * one instance (cache writes, derived summaries). 'any' (default): events of every instance.
   */
  origin?: 'any' | 'local';
}

/**
 * One typed interface over the in-process and the Redis-backed event bus. Events travel on one
 * channel per topic and tenant, so an instance receives only the tenants its listeners ask for.
 */
export interface PubSub {
  readonly backend: 'memory' | 'redis';
  /** Delivers to this process's listeners at once and to other instances through Redis; never fails for a Redis outage. */
  publish<T extends TopicName>(topic: T, payload: TopicPayloads[T]): Promise<void>;
  /** Events of one tenant, or of every tenant when none is given, as an unbounded async iterable. */
  subscribe<T extends TopicName>(topic: T, tenantId?: string): AsyncIterable<TopicPayloads[T]>;
  /** Calls `listener` synchronously for each event of the tenant (or ALL_TENANTS); returns the way to stop. */
  listen<T extends TopicName>(topic: T, tenantId: string, listener: (payload: TopicPayloads[T]) => void, options?: ListenOptions): () => void;
  /** Whether events reach other instances now (always true in process). */
  isConnected(): boolean;
  /** Resolves when the backend can carry events; rejects with the reason otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface PubSubOptions {
  log?: Logger;
  /** Prefix of every Redis channel, so deployments (or test runs) sharing a Redis do not hear each other. */
  namespace?: string;
  /** Events held for other instances while Redis is unreachable; beyond it the oldest are dropped and counted. */
  outboxLimit?: number;
  /** Wait after Redis returns before sending held events, so other instances have resubscribed. */
  resendDelayMs?: number;
  /** Told of every event published here and of every hand-over to listeners (metrics). */
  observer?: EventObserver;
}

export interface EventObserver {
  published(topic: string): void;
  delivered(topic: string, listeners: number): void;
}

interface Entry {
  listener: (payload: unknown) => void;
  localOnly: boolean;
}

const channelOf = (topic: string, tenantId: string) => `${topic}:${tenantId}`;

const tenantOf = (payload: unknown): string | undefined => {
  const tenantId = (payload as { tenantId?: unknown } | null)?.tenantId;
  return typeof tenantId === 'string' && tenantId !== '' && tenantId !== ALL_TENANTS ? tenantId : undefined;
};

/** The cross-instance leg: one Redis subscription per channel with local listeners, and an outbox for outages. */
interface Transport {
  send(channel: string, payload: unknown): Promise<void>;
  retain(channel: string, pattern: boolean): void;
  release(channel: string): void;
  isConnected(): boolean;
  ping(): Promise<void>;
  close(): Promise<void>;
}

class EventBus implements PubSub {
  private readonly entries = new Map<string, Set<Entry>>();
  private readonly remoteListeners = new Map<string, number>();
  private transport: Transport | null = null;

  constructor(
    readonly backend: 'memory' | 'redis',
    private readonly log: Logger | undefined,
    private readonly observer?: EventObserver,
  ) {}

  attach(transport: Transport): void {
    this.transport = transport;
  }

  async publish<T extends TopicName>(topic: T, payload: TopicPayloads[T]): Promise<void> {
    const tenantId = tenantOf(payload);
    if (!tenantId) throw new Error(`an event of ${topic} carries no tenantId`);
    this.observer?.published(topic);
    this.dispatch(channelOf(topic, tenantId), payload, false);
    this.dispatch(channelOf(topic, ALL_TENANTS), payload, false);
    await this.transport?.send(channelOf(topic, tenantId), payload);
  }

  /** An event another instance published, on the channel (or pattern) it was subscribed as. */
  receive(channel: string, payload: unknown): void {
    const scope = channel.slice(channel.lastIndexOf(':') + 1);
    const tenantId = tenantOf(payload);
    // Defence in depth: a tenant channel only ever carries that tenant's events.
    if (!tenantId || (scope !== ALL_TENANTS && scope !== tenantId)) return;
    this.dispatch(channel, payload, true);
  }

  listen<T extends TopicName>(topic: T, tenantId: string, listener: (payload: TopicPayloads[T]) => void, options: ListenOptions = {}): () => void {
    const channel = channelOf(topic, tenantId);
    const entry: Entry = { listener: listener as (payload: unknown) => void, localOnly: options.origin === 'local' };
    let set = this.entries.get(channel);
    if (!set) this.entries.set(channel, (set = new Set()));
    set.add(entry);
    if (!entry.localOnly) {
      const count = (this.remoteListeners.get(channel) ?? 0) + 1;
      this.remoteListeners.set(channel, count);
      if (count === 1) this.transport?.retain(channel, tenantId === ALL_TENANTS);
    }
    let listening = true;
    return () => {
      if (!listening) return;
      listening = false;
      set.delete(entry);
      if (set.size === 0) this.entries.delete(channel);
      if (entry.localOnly) return;
      const count = (this.remoteListeners.get(channel) ?? 1) - 1;
      if (count > 0) {
        this.remoteListeners.set(channel, count);
        return;
      }
      this.remoteListeners.delete(channel);
      this.transport?.release(channel);
    };
  }

  subscribe<T extends TopicName>(topic: T, tenantId: string = ALL_TENANTS): AsyncIterable<TopicPayloads[T]> {
    return {
      [Symbol.asyncIterator]: () => {
        const buffered: TopicPayloads[T][] = [];
        let waiting: ((result: IteratorResult<TopicPayloads[T]>) => void) | undefined;
        let stop: (() => void) | undefined = this.listen(topic, tenantId, (payload) => {
          if (waiting) {
            const wake = waiting;
            waiting = undefined;
            wake({ value: payload, done: false });
          } else buffered.push(payload);
        });
        const finish = async (): Promise<IteratorResult<TopicPayloads[T]>> => {
          stop?.();
          stop = undefined;
          buffered.length = 0;
          waiting?.({ value: undefined, done: true });
          waiting = undefined;
          return { value: undefined, done: true };
        };
        return {
          next: () => {
            if (buffered.length > 0) return Promise.resolve({ value: buffered.shift()!, done: false });
            if (!stop) return Promise.resolve({ value: undefined, done: true });
            return new Promise<IteratorResult<TopicPayloads[T]>>((resolve) => (waiting = resolve));
          },
          return: finish,
          throw: async (error: unknown) => {
            await finish();
            throw error;
          },
        };
      },
    };
  }

  isConnected(): boolean {
    return this.transport?.isConnected() ?? true;
  }

  async ping(): Promise<void> {
    await this.transport?.ping();
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.remoteListeners.clear();
    await this.transport?.close();
  }

  private dispatch(channel: string, payload: unknown, remote: boolean): void {
    const set = this.entries.get(channel);
    if (!set) return;
    this.observer?.delivered(channel.slice(0, channel.lastIndexOf(':')), set.size);
    for (const entry of [...set]) {
      if (remote && entry.localOnly) continue;
      try {
        entry.listener(payload);
      } catch (error) {
        this.log?.error('event listener failed', { channel, error: (error as Error).message });
      }
    }
  }
}

export function createMemoryPubSub(options: PubSubOptions = {}): PubSub {
  return new EventBus('memory', options.log, options.observer);
}

interface Envelope {
  /** the instance that published it; it has already delivered it to its own listeners */
  o: string;
  p: unknown;
}

const DEFAULT_OUTBOX_LIMIT = 10_000;
const DEFAULT_RESEND_DELAY_MS = 1_000;
const UNUSED_EVENT = 'omega:delivered-by-transport';
/** Reconnect quickly (at most a second apart) so delivery resumes soon after Redis returns. */
const retryStrategy = (attempt: number) => Math.min(attempt * 100, 1_000);

class RedisTransport implements Transport {
  private readonly origin = randomUUID();
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly bus: RedisPubSub;
  private readonly subscriptions = new Map<string, Promise<number | undefined>>();
  private readonly outbox: { trigger: string; message: Envelope }[] = [];
  private readonly outboxLimit: number;
  private readonly resendDelayMs: number;
  private dropped = 0;
  private resendTimer: NodeJS.Timeout | undefined;
  private resending: Promise<void> | undefined;
  private closed = false;

  constructor(
    url: string,
    private readonly namespace: string,
    private readonly onMessage: (channel: string, payload: unknown) => void,
    private readonly log: Logger | undefined,
    options: PubSubOptions,
  ) {
    this.outboxLimit = options.outboxLimit ?? DEFAULT_OUTBOX_LIMIT;
    this.resendDelayMs = options.resendDelayMs ?? DEFAULT_RESEND_DELAY_MS;
    const common: RedisOptions = { retryStrategy, connectionName: 'omega-pubsub' };
    // Publishing fails fast while Redis is away; the outbox below keeps the events instead.
    this.publisher = new Redis(url, { ...common, maxRetriesPerRequest: 1, enableOfflineQueue: false });
    // Subscribing waits for Redis however long it takes; ioredis resubscribes every channel on reconnect.
    this.subscriber = new Redis(url, { ...common, maxRetriesPerRequest: null, enableOfflineQueue: true, autoResubscribe: true });
    quietUnsubscribe(this.subscriber);
    this.publisher.on('error', () => undefined);
    this.subscriber.on('error', () => undefined);
    this.publisher.on('ready', () => this.scheduleResend());
    this.subscriber.on('ready', () => this.log?.debug('pubsub subscriber connected'));
    // The library keeps Redis subscribed; delivery is ours (below), so it listens to an event that never fires.
    this.bus = new RedisPubSub({ publisher: this.publisher, subscriber: this.subscriber, messageEventName: UNUSED_EVENT, pmessageEventName: UNUSED_EVENT });
    // Straight from the connection: the library drops what arrives before it has read Redis's subscribe reply, though Redis already sends it.
    this.subscriber.on('message', (trigger: string, text: string) => this.arrived(trigger, text));
    this.subscriber.on('pmessage', (pattern: string, _trigger: string, text: string) => this.arrived(pattern, text));
  }

  async send(channel: string, payload: unknown): Promise<void> {
    if (this.closed) return;
    const trigger = `${this.namespace}:${channel}`;
    const message: Envelope = { o: this.origin, p: payload };
    if (this.publisher.status === 'ready' && this.outbox.length === 0) {
      try {
        await this.bus.publish(trigger, message);
        return;
      } catch {
        // Lost the connection mid-send: hold the event like any other sent during the outage.
      }
    }
    this.hold(trigger, message);
  }

  retain(channel: string, pattern: boolean): void {
    if (this.closed || this.subscriptions.has(channel)) return;
    const trigger = `${this.namespace}:${channel}`;
    const subscription = this.bus.subscribe(trigger, () => undefined, { pattern }).catch(() => undefined);
    this.subscriptions.set(channel, subscription);
  }

  release(channel: string): void {
    const subscription = this.subscriptions.get(channel);
    if (!subscription) return;
    this.subscriptions.delete(channel);
    // graphql-redis-subscriptions counts references per channel, so a newer subscription keeps Redis subscribed.
    void subscription.then((id) => {
      if (id === undefined || this.closed) return;
      try {
        this.bus.unsubscribe(id);
      } catch {
        // already gone with the connection
      }
    });
  }

  isConnected(): boolean {
    return this.publisher.status === 'ready' && this.subscriber.status === 'ready';
  }

  async ping(): Promise<void> {
    if (this.subscriber.status !== 'ready') throw new Error(`redis subscriber is ${this.subscriber.status}`);
    await this.publisher.ping();
  }

  async close(): Promise<void> {
    clearTimeout(this.resendTimer);
    await this.resending;
    if (this.publisher.status === 'ready' && this.outbox.length > 0) await this.resend();
    this.closed = true;
    this.subscriber.disconnect();
    if (this.publisher.status === 'ready') await this.publisher.quit().catch(() => this.publisher.disconnect());
    else this.publisher.disconnect();
    if (this.outbox.length > 0 || this.dropped > 0) {
      this.log?.warn('events for other instances not sent before shutdown', { held: this.outbox.length, dropped: this.dropped });
    }
  }

  /** A message on a subscribed channel, or on a pattern for a pattern subscription. */
  private arrived(trigger: string, text: string): void {
    const prefix = `${this.namespace}:`;
    if (this.closed || !trigger.startsWith(prefix)) return;
    const channel = trigger.slice(prefix.length);
    if (!this.subscriptions.has(channel)) return;
    let message: Envelope;
    try {
      message = JSON.parse(text) as Envelope;
    } catch {
      return;
    }
    if (!message || typeof message !== 'object' || message.o === this.origin) return;
    this.onMessage(channel, message.p);
  }

  private hold(trigger: string, message: Envelope): void {
    if (this.outbox.length === 0 && this.dropped === 0) {
      this.log?.warn('redis unreachable: holding events for other instances until it returns', { limit: this.outboxLimit });
    }
    this.outbox.push({ trigger, message });
    if (this.outbox.length > this.outboxLimit) {
      this.outbox.shift();
      this.dropped += 1;
    }
  }

  private scheduleResend(): void {
    if (this.closed || this.outbox.length === 0) return;
    clearTimeout(this.resendTimer);
    this.resendTimer = setTimeout(() => void (this.resending ??= this.resend().finally(() => (this.resending = undefined))), this.resendDelayMs);
    this.resendTimer.unref();
  }

  private async resend(): Promise<void> {
    let sent = 0;
    while (this.outbox.length > 0 && this.publisher.status === 'ready') {
      const next = this.outbox[0]!;
      try {
        await this.bus.publish(next.trigger, next.message);
      } catch {
        return;
      }
      this.outbox.shift();
      sent += 1;
    }
    if (this.outbox.length === 0) {
      this.log?.info('redis back: held events sent to other instances', { sent, dropped: this.dropped });
      if (this.dropped > 0) this.log?.warn('events dropped while redis was unreachable', { dropped: this.dropped, limit: this.outboxLimit });
      this.dropped = 0;
    }
  }
}

/** graphql-redis-subscriptions unsubscribes without awaiting; while Redis is away that promise would reject unhandled. */
function quietUnsubscribe(redis: Redis): void {
  for (const name of ['unsubscribe', 'punsubscribe'] as const) {
    const original = redis[name].bind(redis) as (...args: unknown[]) => Promise<unknown>;
    (redis as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      const pending = original(...args);
      pending.catch(() => undefined);
      return pending;
    };
  }
}

export function createRedisPubSub(url: string, options: PubSubOptions = {}): PubSub {
  const bus = new EventBus('redis', options.log, options.observer);
  bus.attach(new RedisTransport(url, options.namespace ?? 'omega', (channel, payload) => bus.receive(channel, payload), options.log, options));
  return bus;
}

export function createPubSubFor(redisUrl: string | undefined, options: PubSubOptions = {}): PubSub {
  return redisUrl ? createRedisPubSub(redisUrl, options) : createMemoryPubSub(options);
}
