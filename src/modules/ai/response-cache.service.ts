import { createHash } from 'node:crypto';
import { Prisma, type PrismaClient, type ResponseCache } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/logger.js';
import { withExclusiveLock } from '../../infra/locks.js';
import { parseCacheLookup, parseCacheStore, type CacheLookupInput } from './response-cache.validation.js';

export interface CacheLookup {
  hit: boolean;
  cacheKey: string;
  entry: ResponseCache | null;
}

const PURGE_BATCH_SIZE = 5_000;

/** JSON with object keys sorted at every depth, so equal parameters hash equally whatever their order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The cache key: a SHA-256 over the model, the prompt and the generation parameters. */
export function cacheKeyOf(input: Pick<CacheLookupInput, 'prompt' | 'parameters' | 'modelId'>): string {
  return createHash('sha256')
    .update(canonicalJson({ modelId: input.modelId ?? null, prompt: input.prompt, parameters: input.parameters }))
    .digest('hex');
}

/** Responses to prompts, kept until they expire; a lookup that finds one counts a hit. */
export class ResponseCacheService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly system: PrismaClient,
    private readonly log: Logger,
  ) {}

  /** Finds an unexpired response for exactly this prompt and these parameters, counting the hit. */
  async lookup(tenantId: string, rawInput: unknown): Promise<CacheLookup> {
    const input = parseCacheLookup(rawInput);
    const cacheKey = cacheKeyOf(input);
    try {
      const entry = await this.prisma.responseCache.update({
        where: { tenantId_cacheKey: { tenantId, cacheKey }, expiresAt: { gt: new Date() } },
        data: { hitCount: { increment: 1 } },
      });
      return { hit: true, cacheKey, entry };
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025') return { hit: false, cacheKey, entry: null };
      throw error;
    }
  }

  /** Stores (or replaces) the response for a prompt and its parameters, for ttlSeconds. */
  async store(tenantId: string, rawInput: unknown): Promise<ResponseCache> {
    const input = parseCacheStore(rawInput);
    const cacheKey = cacheKeyOf(input);
    const now = new Date();
    const entry = {
      prompt: input.prompt,
      parameters: input.parameters as Prisma.InputJsonObject,
      modelId: input.modelId ?? null,
      response: input.response,
      metrics: (input.metrics as Prisma.InputJsonObject | undefined) ?? Prisma.DbNull,
      createdAt: now,
      expiresAt: new Date(now.getTime() + input.ttlSeconds * 1000),
      hitCount: 0,
    };
    return this.prisma.responseCache.upsert({
      where: { tenantId_cacheKey: { tenantId, cacheKey } },
      create: { tenantId, cacheKey, ...entry },
      update: entry,
    });
  }

  /** Deletes expired responses of every tenant, in batches; returns how many. */
  async purgeExpired(now = new Date()): Promise<number> {
    let purged = 0;
    for (;;) {
      const deleted = await withExclusiveLock(
        this.system,
        'ai.response-cache-purge',
        (tx) => tx.$executeRaw`
          DELETE FROM response_cache WHERE id IN (
            SELECT id FROM response_cache WHERE expires_at <= ${now}::timestamptz LIMIT ${PURGE_BATCH_SIZE})`,
      );
      if (deleted === undefined) break;
      purged += deleted;
      if (deleted < PURGE_BATCH_SIZE) break;
    }
    if (purged > 0) this.log.info('expired cached responses purged', { purged });
    return purged;
  }
}
