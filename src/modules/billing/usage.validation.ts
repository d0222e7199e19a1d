import { z } from 'zod';
import { ValidationError } from '../shared/errors.js';
import { parseInput } from '../shared/validation.js';

export const USAGE_PERIODS = ['day', 'month'] as const;
export const USAGE_DIMENSIONS = ['api_key', 'model', 'environment'] as const;
export type UsagePeriod = (typeof USAGE_PERIODS)[number];
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number];

const MAX_TOKENS = 100_000_000;
/** Clock skew a reporting client may have; anything later is refused as a future record. */
const FUTURE_SKEW_MS = 5 * 60_000;

const uuid = z.guid();
const catalogModelId = z.string().trim().min(1).max(255);
const environmentName = z.string().trim().min(1).max(20);
const requestId = z
  .string()
  .trim()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

const recordLlmRequestInput = z.object({
  tenantId: uuid,
  environmentId: uuid.nullish(),
  apiKeyId: uuid.nullish(),
  /** The catalog's model_id (e.g. "meta-llama/Llama-3.1-8B-Instruct") or the model's UUID. */
  modelId: catalogModelId,
  nodeId: uuid.nullish(),
  requestId,
  promptTokens: z.number().int().min(0).max(MAX_TOKENS),
  completionTokens: z.number().int().min(0).max(MAX_TOKENS),
  latencyMs: z.number().finite().min(0).max(86_400_000).nullish(),
  recordedAt: z
    .date()
    .refine((date) => date.getTime() <= Date.now() + FUTURE_SKEW_MS, 'must not be in the future')
    .nullish(),
});

export type RecordLlmRequestInput = z.input<typeof recordLlmRequestInput>;
export type ParsedLlmRequest = z.output<typeof recordLlmRequestInput>;

export const parseRecordLlmRequest = (input: unknown): ParsedLlmRequest => parseInput(recordLlmRequestInput, input);

const recordUsageInput = z.object({
  requestId,
  model: catalogModelId,
  promptTokens: z.number().int().min(0).max(MAX_TOKENS),
  completionTokens: z.number().int().min(0).max(MAX_TOKENS),
  latencyMs: z.number().finite().min(0).max(86_400_000).nullish(),
  recordedAt: z.date().nullish(),
  environment: environmentName.nullish(),
});

export const parseRecordUsage = (input: unknown): z.output<typeof recordUsageInput> => parseInput(recordUsageInput, input);

const usageFilter = z
  .object({
    from: z.date().nullish(),
    to: z.date().nullish(),
    apiKeyId: uuid.nullish(),
    modelId: catalogModelId.nullish(),
    environment: environmentName.nullish(),
  })
  .refine((filter) => !filter.from || !filter.to || filter.from < filter.to, { path: ['to'], message: 'must be after from' });

export type UsageFilter = z.output<typeof usageFilter>;

export const parseUsageFilter = (input: unknown): UsageFilter => parseInput(usageFilter, input ?? {});

const usageGrouping = z.object({
  period: z.enum(USAGE_PERIODS).nullish(),
  groupBy: z
    .array(z.enum(USAGE_DIMENSIONS))
    .max(USAGE_DIMENSIONS.length)
    .refine((dimensions) => new Set(dimensions).size === dimensions.length, 'lists a dimension twice')
    .default([]),
});

export type UsageGrouping = z.output<typeof usageGrouping>;

export const parseUsageGrouping = (input: unknown): UsageGrouping => parseInput(usageGrouping, input);

/** One value of a list filter, refused under the argument's own path. */
function parseAt<S extends z.ZodType>(schema: S, value: unknown, path: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(result.error.issues.map((issue) => ({ path, message: issue.message })));
}

/** A catalog model id the usage list is narrowed to. */
export const filterModelId = (value: unknown, path: string): string => parseAt(catalogModelId, value, path);
/** An environment name (dev, staging, prod) the usage list is narrowed to. */
export const filterEnvironmentName = (value: unknown, path: string): string => parseAt(environmentName, value, path);
