import { z } from 'zod';
import { ValidationError } from '../shared/errors.js';
import { parseInput } from '../shared/validation.js';

export const MAX_POINTS_PER_BATCH = 10_000;
/** Agents' clocks drift; a point further ahead than this is a bug or an attack, not a measurement. */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;
/** A series longer than this is refused: ask for a wider bucket instead. */
export const MAX_BUCKETS_PER_SERIES = 5_000;
export const MAX_WINDOW_SECONDS = 366 * 86_400;
const MAX_LABELS_JSON = 2_048;
/** Issues reported for one batch; a batch of 10,000 bad points would otherwise answer with 10,000 lines. */
const MAX_REPORTED_ISSUES = 50;

/** The bucket widths a series may be cut into, in seconds. */
export const BUCKET_SECONDS = [10, 60, 300, 900, 3_600, 21_600, 86_400, 604_800] as const;

export const uuid = z.guid('must be a UUID');
export const metricTypeName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,49}$/, 'must be 1-50 letters, digits or _ . : / - and start with a letter or digit');
const notInFuture = (time: Date) => time.getTime() <= Date.now() + MAX_FUTURE_SKEW_MS;
export const measuredAt = z
  .date()
  .refine((time) => time.getTime() >= Date.UTC(2000, 0, 1), 'must be after 2000-01-01')
  .refine(notInFuture, `must not be more than ${MAX_FUTURE_SKEW_MS / 60_000} minutes in the future`);
const labels = z
  .record(z.string(), z.unknown())
  .default({})
  .transform((value) => JSON.stringify(value))
  .refine((json) => json.length <= MAX_LABELS_JSON, `must be at most ${MAX_LABELS_JSON} characters as JSON`);

const pointFields = {
  metricType: metricTypeName,
  value: z.number().finite(),
  time: measuredAt,
  unit: z.string().trim().min(1).max(20).optional(),
  labels,
};
const nodePoint = z.object({ nodeId: uuid, ...pointFields });
const sessionPoint = z.object({ sessionId: uuid, ...pointFields });

const batch = <T extends z.ZodType>(point: T) =>
  z.object({ points: z.array(point).min(1, 'must hold at least one point').max(MAX_POINTS_PER_BATCH, `must hold at most ${MAX_POINTS_PER_BATCH} points`) });

export type NodeMetricPoint = z.output<typeof nodePoint>;
export type SessionMetricPoint = z.output<typeof sessionPoint>;

/** Parses a batch, reporting at most MAX_REPORTED_ISSUES issues plus a count of the rest. */
function parseBatch<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  try {
    return parseInput(schema, input);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw truncatedValidationError(error.issues);
  }
}

export function truncatedValidationError(issues: ValidationError['issues']): ValidationError {
  if (issues.length <= MAX_REPORTED_ISSUES) return new ValidationError(issues);
  return new ValidationError([
    ...issues.slice(0, MAX_REPORTED_ISSUES),
    { path: 'points', message: `${issues.length - MAX_REPORTED_ISSUES} more issues not listed` },
  ]);
}

/** An agent's key for one batch: a batch sent again under the same key is stored once. */
const idempotencyKey = z.string().trim().min(1).max(255).optional();

export const parseNodeMetricBatch = (input: unknown) => parseBatch(batch(nodePoint).extend({ idempotencyKey }), input);
export const parseSessionMetricBatch = (input: unknown) => parseBatch(batch(sessionPoint), input);

const percent = z.number().finite().min(0).max(100).optional();
const amount = z.number().finite().min(0).optional();
const temperature = z.number().finite().min(-100).max(300).optional();

const systemSnapshot = z.object({
  nodeId: uuid.optional(),
  timestamp: measuredAt.optional(),
  cpuPercent: percent,
  cpuTemperature: temperature,
  memoryPercent: percent,
  memoryUsedMb: amount,
  memoryTemperature: temperature,
  gpuPercent: percent,
  gpuTemperature: temperature,
  gpuFansRpm: amount,
  gpuWatt: amount,
  vramPercent: percent,
  vramUsedMb: amount,
  networkReceived: amount,
  networkSent: amount,
  diskWritesSC: amount,
  diskReadsSC: amount,
  diskWritesSD: amount,
  diskReadsSD: amount,
  systemUptimeSeconds: amount,
  appUptimeSeconds: amount,
});
export type SystemSnapshotInput = z.output<typeof systemSnapshot>;
export const parseSystemSnapshot = (input: unknown): SystemSnapshotInput => parseInput(systemSnapshot, input);

const timeRange = z
  .object({ from: z.date(), to: z.date() })
  .refine((range) => range.from.getTime() < range.to.getTime(), { path: ['to'], message: 'must be after from' })
  .refine((range) => range.to.getTime() - range.from.getTime() <= MAX_WINDOW_SECONDS * 1000, {
    path: ['to'],
    message: `the range may span at most ${MAX_WINDOW_SECONDS / 86_400} days`,
  });

const bucketSeconds = z
  .number()
  .int()
  .refine((seconds) => (BUCKET_SECONDS as readonly number[]).includes(seconds), `must be one of ${BUCKET_SECONDS.join(', ')} seconds`);

const seriesQuery = z
  .object({
    nodeId: uuid.optional(),
    sessionId: uuid.optional(),
    // A filter, so any text is data here; only its length is bounded.
    metricType: z.string().min(1).max(50),
    from: z.date(),
    to: z.date(),
    bucketSeconds,
  })
  .superRefine((query, ctx) => {
    if ((query.nodeId === undefined) === (query.sessionId === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['nodeId'], message: 'give exactly one of nodeId and sessionId' });
    }
    checkSeriesSpan(query, ctx);
  });
export type SeriesQuery = z.output<typeof seriesQuery>;
export const parseSeriesQuery = (input: unknown): SeriesQuery => parseInput(seriesQuery, input);

/** A series' range must run forwards, within the longest window, in at most MAX_BUCKETS_PER_SERIES buckets. */
function checkSeriesSpan(query: { from: Date; to: Date; bucketSeconds: number }, ctx: z.RefinementCtx): void {
  const span = query.to.getTime() - query.from.getTime();
  if (span <= 0) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
  if (span / 1000 > MAX_WINDOW_SECONDS) {
    ctx.addIssue({ code: 'custom', path: ['to'], message: `the range may span at most ${MAX_WINDOW_SECONDS / 86_400} days` });
  }
  if (span / 1000 / query.bucketSeconds > MAX_BUCKETS_PER_SERIES) {
    ctx.addIssue({ code: 'custom', path: ['bucket'], message: `the range holds more than ${MAX_BUCKETS_PER_SERIES} buckets; choose a wider bucket` });
  }
}

/** The measurements of a host snapshot a series can be drawn from: columns of system_metrics. */
export const SYSTEM_METRIC_COLUMNS = [
  'cpu_percent',
  'cpu_temperature',
  'memory_percent',
  'memory_used_mb',
  'memory_temperature',
  'gpu_percent',
  'gpu_temperature',
  'gpu_fans_rpm',
  'gpu_watt',
  'vram_percent',
  'vram_used_mb',
  'network_received',
  'network_sent',
  'disk_writes_s_c',
  'disk_reads_s_c',
  'disk_writes_s_d',
  'disk_reads_s_d',
  'system_uptime_seconds',
  'app_uptime_seconds',
] as const;
export type SystemMetricColumn = (typeof SYSTEM_METRIC_COLUMNS)[number];

const systemSeriesQuery = z
  .object({ nodeId: uuid, measurement: z.enum(SYSTEM_METRIC_COLUMNS), from: z.date(), to: z.date(), bucketSeconds })
  .superRefine(checkSeriesSpan);
export type SystemSeriesQuery = z.output<typeof systemSeriesQuery>;
export const parseSystemSeriesQuery = (input: unknown): SystemSeriesQuery => parseInput(systemSeriesQuery, input);

const clusterQuery = z
  .object({
    since: z.date().optional(),
    lastSeconds: z.number().int().min(1).max(MAX_WINDOW_SECONDS).optional(),
  })
  .refine((query) => query.since === undefined || query.lastSeconds === undefined, {
    path: ['since'],
    message: 'give since or lastSeconds, not both',
  });
export type ClusterMetricsQuery = z.output<typeof clusterQuery>;
export const parseClusterMetricsQuery = (input: unknown): ClusterMetricsQuery => parseInput(clusterQuery, input);

const llmMetrics = z
  .object({
    modelId: z.string().trim().min(1).max(255),
    requestId: z.string().trim().min(1).max(255),
    chatSessionId: uuid.optional(),
    nodeId: uuid.optional(),
    timestamp: measuredAt.optional(),
    tokensGenerated: z.number().int().min(0).max(10_000_000),
    generationTimeMs: z.number().finite().positive().max(86_400_000),
    tokensPerSecond: z.number().finite().min(0).optional(),
    timeToFirstTokenMs: z.number().finite().min(0).max(86_400_000).optional(),
    cacheHit: z.boolean().default(false),
    promptTokens: z.number().int().min(0).max(10_000_000).optional(),
    totalTokens: z.number().int().min(0).max(20_000_000).optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((m) => m.totalTokens === undefined || m.totalTokens >= m.tokensGenerated + (m.promptTokens ?? 0), {
    path: ['totalTokens'],
    message: 'must be at least promptTokens + tokensGenerated',
  });
export type LlmMetricsInput = z.output<typeof llmMetrics>;
export const parseLlmMetrics = (input: unknown): LlmMetricsInput => parseInput(llmMetrics, input);

const llmStatsQuery = timeRange.and(
  z.object({
    modelId: z.string().min(1).max(255).optional(),
    bucketSeconds: bucketSeconds.optional(),
  }),
);
export type LlmStatsQuery = z.output<typeof llmStatsQuery>;
export const parseLlmStatsQuery = (input: unknown): LlmStatsQuery => {
  const query = parseInput(llmStatsQuery, input);
  const span = query.to.getTime() - query.from.getTime();
  if (query.bucketSeconds !== undefined && span / 1000 / query.bucketSeconds > MAX_BUCKETS_PER_SERIES) {
    throw new ValidationError([{ path: 'bucket', message: `the range holds more than ${MAX_BUCKETS_PER_SERIES} buckets; choose a wider bucket` }]);
  }
  return query;
};
