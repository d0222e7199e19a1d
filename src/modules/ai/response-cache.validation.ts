import { z } from 'zod';
import { parseInput } from '../shared/validation.js';

export const MAX_TTL_SECONDS = 30 * 86_400;

const key = {
  prompt: z.string().min(1).max(1_000_000),
  parameters: z.record(z.string(), z.unknown()).default({}),
  modelId: z.string().trim().min(1).max(255).optional(),
};

const lookup = z.object(key);
export type CacheLookupInput = z.output<typeof lookup>;
export const parseCacheLookup = (input: unknown): CacheLookupInput => parseInput(lookup, input);

const store = z.object({
  ...key,
  response: z.string().min(1).max(5_000_000),
  metrics: z.record(z.string(), z.unknown()).optional(),
  ttlSeconds: z.number().int().min(1).max(MAX_TTL_SECONDS).default(3_600),
});
export type CacheStoreInput = z.output<typeof store>;
export const parseCacheStore = (input: unknown): CacheStoreInput => parseInput(store, input);
