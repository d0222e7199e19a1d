import { randomBytes } from 'node:crypto';
import { createRedisCache } from '@envelop/response-cache-redis';
import { createInMemoryCache, type Cache } from '@graphql-yoga/plugin-response-cache';
import { Redis } from 'ioredis';
import type { Logger } from './logger.js';

/** The scope that retires the entries of every tenant. */
export const EVERY_TENANT = '*';

/**
 * Cached GraphQL responses and the generations that retire them. An entry is keyed under the
 * generations current when it was computed; retiring moves a generation on, so older entries are
 * never read again and lapse with their TTL. A retirement is one write, whatever was cached.
 */
export interface ResponseCacheStore {
  readonly backend: 'memory' | 'redis';
  /** The entries the response-cache plugin reads and writes, each with its TTL. */
  readonly entries: Cache;
  /** The generations the tenant's entries are keyed under now; null when they cannot be read, and then nothing may be cached. */
  generation(tenantId: string): Promise<string | null>;
  /** Retires the tenant's entries (or every tenant's, with EVERY_TENANT). Never rejects. */
  retire(tenantId: string): Promise<void>;
  close(): Promise<void>;
}

/** Entries kept in process, at most this many (least recently used go first). */
const MEMORY_MAX_ENTRIES = 1_000;

/** Generations retire entries, so the plugin's per-entity index is neither kept nor consulted. */
function keyedByGeneration(inner: Cache): Cache {
  return {
    get: (key) => inner.get(key),
    set: (key, result, _entities, ttl) => inner.set(key, result, [], ttl),
    invalidate: () => undefined,
  };
}

class MemoryStore implements ResponseCacheStore {
  readonly backend = 'memory';
  readonly entries = keyedByGeneration(createInMemoryCache({ max: MEMORY_MAX_ENTRIES }));
  private everyone = 0;
  private readonly tenants = new Map<string, number>();

  async generation(tenantId: string): Promise<string> {
    return `${this.everyone}.${this.tenants.get(tenantId) ?? 0}`;
  }

  // The counter moves on before this returns, so a listener that does not wait has still retired.
  async retire(tenantId: string): Promise<void> {
    if (tenantId === EVERY_TENANT) this.everyone += 1;
    else this.tenants.set(tenantId, (this.tenants.get(tenantId) ?? 0) + 1);
  }

  async close(): Promise<void> {}
}

/** Generation keys outlive any entry by far (TTLs are capped at an hour), so a lapsed one cannot bring old entries back. */
const GENERATION_LIFETIME_MS = 24 * 3_600_000;
const retryStrategy = (attempt: number) => Math.min(attempt * 100, 1_000);

/**
 * Entries and generations in Redis, shared by every instance. A generation is a random token, never
 * a counter that could come round again. While Redis is away requests are answered uncached; a
 * retirement that could not be written is owed, and paid as a retirement of every tenant before
 * this instance caches again.
 */
class RedisStore implements ResponseCacheStore {
  readonly backend = 'redis';
  readonly entries: Cache;
  private readonly redis: Redis;
  private readonly pending = new Set<Promise<void>>();
  private owed = false;
  private away = false;

  constructor(
    url: string,
    namespace: string,
    private readonly log: Logger,
  ) {
    this.redis = new Redis(url, {
      keyPrefix: `${namespace}:response-cache:`,
      connectionName: 'omega-response-cache',
      // A request never waits for Redis to come back: it is answered uncached instead.
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy,
    });
    this.redis.on('error', () => undefined);
    this.redis.on('ready', () => {
      if (this.owed) void this.payOwed();
    });
    const inner = keyedByGeneration(createRedisCache({ redis: this.redis }) as Cache);
    this.entries = {
      get: async (key) => {
        try {
          return await inner.get(key);
        } catch (error) {
          this.outage(error);
          return null;
        }
      },
      // The plugin does not wait for a write, so a failed one is only noted.
      set: (key, result, entities, ttl) => Promise.resolve(inner.set(key, result, entities, ttl)).catch((error: unknown) => this.outage(error)),
      invalidate: () => undefined,
    };
  }

  async generation(tenantId: string): Promise<string | null> {
    // Retirements this instance started land before it reads, so its own changes are never served stale.
    if (this.pending.size > 0) await Promise.all(this.pending);
    if (this.owed && !(await this.payOwed())) return null;
    try {
      const [everyone, tenant] = await this.redis.mget(generationKey(EVERY_TENANT), generationKey(tenantId));
      this.recovered();
      return `${everyone ?? 0}.${tenant ?? 0}`;
    } catch (error) {
      this.outage(error);
      return null;
    }
  }

  retire(tenantId: string): Promise<void> {
    const done = this.writeGeneration(tenantId).then(
      () => this.recovered(),
      (error: unknown) => {
        this.owed = true;
        this.outage(error);
      },
    );
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
    return done;
  }

  async close(): Promise<void> {
    await Promise.all(this.pending);
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }

  private async writeGeneration(tenantId: string): Promise<void> {
    await this.redis.set(generationKey(tenantId), randomBytes(9).toString('base64url'), 'PX', GENERATION_LIFETIME_MS);
  }

  private async payOwed(): Promise<boolean> {
    try {
      await this.writeGeneration(EVERY_TENANT);
      this.owed = false;
      this.log.info('response cache: retirements missed while redis was away are paid; every entry retired');
      return true;
    } catch {
      return false;
    }
  }

  private outage(error: unknown): void {
    if (this.away) return;
    this.away = true;
    this.log.warn('response cache: redis unreachable, answering uncached until it returns', { reason: String(error) });
  }

  private recovered(): void {
    this.away = false;
  }
}

const generationKey = (tenantId: string) => (tenantId === EVERY_TENANT ? 'generation:all' : `generation:tenant:${tenantId}`);

/** Redis when a URL is given (shared by every instance), in process otherwise. */
export function createResponseCacheStore(redisUrl: string | undefined, namespace: string, log: Logger): ResponseCacheStore {
  return redisUrl ? new RedisStore(redisUrl, namespace, log) : new MemoryStore();
}
