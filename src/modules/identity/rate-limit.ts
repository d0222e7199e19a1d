import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Principal } from './principal.js';
import { RateLimitedError } from '../shared/errors.js';

const WINDOW_SECONDS = 60;

/**
 * Fixed one-minute windows per API key (its own limit) and per user (a configured limit), counted
 * in Redis when configured so every instance shares them, in process otherwise. A Redis outage
 * falls back to per-instance counting rather than refusing or admitting everything.
 */
export class RateLimiter {
  private readonly limiters = new Map<number, RateLimiterAbstract>();
  private readonly redis: Redis | undefined;

  constructor(
    redisUrl: string | undefined,
    private readonly userLimitPerMinute: number,
  ) {
    if (redisUrl) {
      this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
      this.redis.on('error', () => undefined);
    }
  }

  async consume(principal: Principal): Promise<void> {
    const [key, limit] =
      principal.kind === 'apiKey'
        ? [`key:${principal.apiKeyId}`, principal.apiKeyRateLimit ?? this.userLimitPerMinute]
        : [`user:${principal.userId}`, this.userLimitPerMinute];
    try {
      await this.limiterFor(limit).consume(key);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) throw new RateLimitedError(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
      throw rejection;
    }
  }

  async close(): Promise<void> {
    this.redis?.disconnect();
  }

  private limiterFor(points: number): RateLimiterAbstract {
    let limiter = this.limiters.get(points);
    if (!limiter) {
      const options = { points, duration: WINDOW_SECONDS, keyPrefix: `omega:ratelimit:${points}` };
      limiter = this.redis
        ? new RateLimiterRedis({ ...options, storeClient: this.redis, insuranceLimiter: new RateLimiterMemory(options) })
        : new RateLimiterMemory(options);
      this.limiters.set(points, limiter);
    }
    return limiter;
  }
}
