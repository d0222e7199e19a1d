import { SubscriberTooSlowError } from '../shared/errors.js';

/**
 * What a socket that cannot keep up costs its subscriber, for the transport that writes to it:
 * the subscription ends, the oldest points are dropped and counted, or only the latest value waits.
 */
export type SlowReaderRule = 'end' | 'shed' | 'latest';

/**
 * What one subscriber has waiting. graphql-ws pulls the next item only after the socket took the
 * previous one, so a slow client leaves items here, and each feed bounds them its own way.
 */
export abstract class LiveFeed<In, Out> implements AsyncIterableIterator<Out> {
  private waiting: { resolve(result: IteratorResult<Out>): void; reject(error: unknown): void } | undefined;
  private failure: Error | undefined;
  private ended = false;
  private readonly cleanups: (() => void)[] = [];

  abstract readonly slowReader: SlowReaderRule;

  /** Adds an item; the feed decides what overflow means. */
  abstract push(item: In): void;
  /** The next output if one is ready now. */
  protected abstract take(): Out | undefined;
  protected abstract get pending(): number;

  get isOpen(): boolean {
    return !this.ended;
  }

  /** Runs when the feed ends for any reason: the listener goes, the timers stop. */
  onEnd(cleanup: () => void): void {
    if (this.ended) cleanup();
    else this.cleanups.push(cleanup);
  }

  /** Ends the feed; with an error, the subscriber receives it after nothing else. */
  end(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    const waiting = this.waiting;
    this.waiting = undefined;
    if (!waiting) return;
    if (error) waiting.reject(error);
    else waiting.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<Out>> {
    if (this.ended) {
      const failure = this.failure;
      this.failure = undefined;
      return failure ? Promise.reject(failure) : Promise.resolve({ value: undefined, done: true });
    }
    const value = this.take();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  return(): Promise<IteratorResult<Out>> {
    this.end();
    this.failure = undefined;
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<Out>> {
    this.end();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Out> {
    return this;
  }

  /** Hands a ready output to a waiting reader; subclasses call it after they change what is ready. */
  protected wake(): void {
    if (!this.waiting || this.ended) return;
    const value = this.take();
    if (value === undefined) return;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting.resolve({ value, done: false });
  }
}

/**
 * Heartbeats and state changes: delivered in order, never dropped. A subscriber that lets `limit`
 * events pile up has its subscription ended with SubscriberTooSlowError, so it knows to resync.
 */
export class OrderedFeed<T> extends LiveFeed<T, T> {
  readonly slowReader = 'end';
  private items: T[] = [];
  private head = 0;

  constructor(private readonly limit: number) {
    super();
  }

  protected get pending(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    if (!this.isOpen) return;
    if (this.pending >= this.limit) {
      this.items = [];
      this.head = 0;
      this.end(new SubscriberTooSlowError(this.limit));
      return;
    }
    this.items.push(item);
    this.wake();
  }

  protected take(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.head += 1;
    // Compact now and then rather than shift() on every read.
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

export interface PointBatch<T> {
  points: T[];
  /** Points this subscriber lost, oldest first, since the previous batch it received. */
  droppedPoints: number;
}

/**
 * Live metric points: a reader gets every point waiting, in one batch. Beyond `limit` waiting
 * points the oldest are dropped, and the next batch says how many, so memory stays bounded.
 */
export class SheddingFeed<T> extends LiveFeed<T, PointBatch<T>> {
  readonly slowReader = 'shed';
  private points: T[] = [];
  private head = 0;
  private dropped = 0;

  constructor(
    private readonly limit: number,
    private readonly maxBatch = limit,
  ) {
    super();
  }

  protected get pending(): number {
    return this.points.length - this.head;
  }

  push(point: T): void {
    if (!this.isOpen) return;
    if (this.pending >= this.limit) {
      this.head += 1;
      this.dropped += 1;
    }
    this.points.push(point);
    if (this.head > this.limit) {
      this.points = this.points.slice(this.head);
      this.head = 0;
    }
    this.wake();
  }

  protected take(): PointBatch<T> | undefined {
    if (this.pending === 0) return undefined;
    const points = this.points.slice(this.head, this.head + this.maxBatch);
    this.head += points.length;
    if (this.head >= this.points.length) {
      this.points = [];
      this.head = 0;
    }
    const batch = { points, droppedPoints: this.dropped };
    this.dropped = 0;
    return batch;
  }
}

/**
 * A summary where only the latest value matters: a slow reader gets the newest one, and no reader
 * gets two within `minIntervalMs`.
 */
export class LatestValueFeed<T> extends LiveFeed<T, T> {
  readonly slowReader = 'latest';
  private latest: T | undefined;
  private lastDeliveredAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly minIntervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    super();
    this.onEnd(() => clearTimeout(this.timer));
  }

  protected get pending(): number {
    return this.latest === undefined ? 0 : 1;
  }

  /** Whether a value waits for the reader, or was handed over already. */
  get hasValue(): boolean {
    return this.latest !== undefined || this.lastDeliveredAt !== Number.NEGATIVE_INFINITY;
  }

  push(value: T): void {
    if (!this.isOpen) return;
    this.latest = value;
    this.wake();
  }

  protected take(): T | undefined {
    if (this.latest === undefined) return undefined;
    const wait = this.lastDeliveredAt + this.minIntervalMs - this.now();
    if (wait > 0) {
      if (!this.timer) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.wake();
        }, wait);
      }
      return undefined;
    }
    const value = this.latest;
    this.latest = undefined;
    this.lastDeliveredAt = this.now();
    return value;
  }
}
