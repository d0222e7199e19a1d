import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Principal } from './principal.js';
import { RateLimitedError } from '../shared/errors.js';

const WINDOW_SECONDS = 60;
/** How long failed sign-ins from one address count against it. */
const SIGN_IN_WINDOW_SECONDS = 15 * 60;
/** A TOTP code is valid for its 30 s step and one step either side; a used one is remembered that long. */
const TOTP_REUSE_SECONDS = 90;

/**
 * Fixed one-minute windows per API key (its own limit) and per user (a configured limit), counted
 * in Redis when configured so every instance shares them, in process otherwise. A Redis outage
 * falls back to per-instance counting rather than refusing or admitting everything.
 */
export class RateLimiter {
  private readonly limiters = new Map<number, RateLimiterAbstract>();
  private readonly redis: Redis | undefined;

  private readonly signInFailures: RateLimiterAbstract;
  private readonly usedTotpCodes: RateLimiterAbstract;

  constructor(
    redisUrl: string | undefined,
    private readonly userLimitPerMinute: number,
    private readonly signInFailuresPerAddress = 30,
  ) {
    if (redisUrl) {
      this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
      this.redis.on('error', () => undefined);
    }
    this.signInFailures = this.limiter({ points: signInFailuresPerAddress, duration: SIGN_IN_WINDOW_SECONDS, keyPrefix: 'omega:signin-failures' });
    this.usedTotpCodes = this.limiter({ points: 1, duration: TOTP_REUSE_SECONDS, keyPrefix: 'omega:totp-used' });
  }

  /** Refuses a sign-in from an address that failed too often lately, whichever accounts it tried. */
  async admitSignIn(address: string): Promise<void> {
    const record = await this.signInFailures.get(address);
    if (record && record.consumedPoints >= this.signInFailuresPerAddress) throw new RateLimitedError(Math.max(1, Math.ceil(record.msBeforeNext / 1000)));
  }

  async countSignInFailure(address: string): Promise<void> {
    await this.signInFailures.penalty(address);
  }

  /** True the first time a user presents this TOTP code within its validity; false for a replay. */
  async firstUseOfTotp(userId: string, code: string): Promise<boolean> {
    try {
      await this.usedTotpCodes.consume(`${userId}:${code}`);
      return true;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return false;
      throw rejection;
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
      limiter = this.limiter({ points, duration: WINDOW_SECONDS, keyPrefix: `omega:ratelimit:${points}` });
      this.limiters.set(points, limiter);
    }
    return limiter;
  }

  private limiter(options: { points: number; duration: number; keyPrefix: string }): RateLimiterAbstract {
    return this.redis
      ? new RateLimiterRedis({ ...options, storeClient: this.redis, insuranceLimiter: new RateLimiterMemory(options) })
      : new RateLimiterMemory(options);
  }
}
