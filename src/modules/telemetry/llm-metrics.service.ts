import { Prisma, type LlmMetric, type PrismaClient } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/logger.js';
import type { PubSub } from '../../infra/pubsub.js';
import { Topic } from '../../infra/topics.js';
import { ValidationError, type FieldIssue } from '../shared/errors.js';
import { parseLlmMetrics, parseLlmStatsQuery } from './metrics.validation.js';
import { bucketStart, timeseriesFeaturesOf, type TimeseriesFeatures } from './timeseries.js';

/** One recorded LLM request, as handed to whoever accounts for it (usage records, billing). */
export interface LlmRequestRecorded {
  tenantId: string;
  /** The API key that made the request, when a key did. */
  apiKeyId: string | null;
  metric: LlmMetric;
}

export interface LlmMetricsDeps {
  prisma: PrismaClient;
  system: PrismaClient;
  pubsub: PubSub;
  log: Logger;
  /**
   * Called once per recorded request, after its metrics are committed: the place to record usage.
   * Its failure is logged and does not fail the request's metrics.
   */
  onLlmRequestRecorded?: (event: LlmRequestRecorded) => Promise<void>;
}

export interface LlmStatsRow {
  modelId: string;
  /** Start of the period; null when the whole range is one period. */
  periodStart: Date | null;
  requests: number;
  tokensGenerated: number;
  promptTokens: number;
  avgTokensPerSecond: number | null;
  p50LatencyMs: number;
  p95LatencyMs: number;
  p99LatencyMs: number;
  avgTimeToFirstTokenMs: number | null;
  cacheHits: number;
  cacheHitRate: number;
}

type RawStatsRow = Omit<LlmStatsRow, 'requests' | 'tokensGenerated' | 'promptTokens' | 'cacheHits'> & {
  requests: bigint;
  tokensGenerated: bigint;
  promptTokens: bigint;
  cacheHits: bigint;
};

export class LlmMetricsService {
  private readonly prisma: PrismaClient;
  private readonly features: () => Promise<TimeseriesFeatures>;

  constructor(private readonly deps: LlmMetricsDeps) {
    this.prisma = deps.prisma;
    this.features = timeseriesFeaturesOf(deps.system);
  }

  /** Records one request's generation metrics, marks its catalog model as used and hands it to onLlmRequestRecorded. */
  async recordLlmMetrics(tenantId: string, apiKeyId: string | null, rawInput: unknown): Promise<LlmMetric> {
    const input = parseLlmMetrics(rawInput);
    const issues: FieldIssue[] = [];
    if (input.nodeId !== undefined && !(await this.prisma.node.findFirst({ where: { id: input.nodeId, tenantId }, select: { id: true } }))) {
      issues.push({ path: 'nodeId', message: 'no such node in this tenant' });
    }
    if (
      input.chatSessionId !== undefined &&
      !(await this.prisma.chatSession.findFirst({ where: { id: input.chatSessionId, tenantId }, select: { id: true } }))
    ) {
      issues.push({ path: 'chatSessionId', message: 'no such chat session in this tenant' });
    }
    if (issues.length > 0) throw new ValidationError(issues);

    const metric = await this.prisma.llmMetric.create({
      data: {
        tenantId,
        apiKeyId,
        modelId: input.modelId,
        requestId: input.requestId,
        chatSessionId: input.chatSessionId,
        nodeId: input.nodeId,
        timestamp: input.timestamp,
        tokensGenerated: input.tokensGenerated,
        generationTimeMs: input.generationTimeMs,
        tokensPerSecond: input.tokensPerSecond ?? input.tokensGenerated / (input.generationTimeMs / 1000),
        timeToFirstTokenMs: input.timeToFirstTokenMs,
        cacheHit: input.cacheHit,
        promptTokens: input.promptTokens,
        totalTokens: input.totalTokens ?? input.tokensGenerated + (input.promptTokens ?? 0),
        parameters: input.parameters as Prisma.InputJsonObject | undefined,
      },
    });
    // The catalog is global; only a later use moves last_used forward.
    await this.prisma.model.updateMany({
      where: { modelId: metric.modelId, OR: [{ lastUsed: null }, { lastUsed: { lt: metric.timestamp } }] },
      data: { lastUsed: metric.timestamp },
    });
    const time = metric.timestamp.toISOString();
    await this.deps.pubsub
      .publish(Topic.MetricsIngested, {
        tenantId,
        points: [
          { nodeId: metric.nodeId, sessionId: null, metricType: 'llm_tokens_per_second', value: metric.tokensPerSecond ?? 0, time },
          { nodeId: metric.nodeId, sessionId: null, metricType: 'llm_generation_time_ms', value: metric.generationTimeMs, time },
        ],
      })
      .catch((error: unknown) => this.deps.log.warn('llm metrics not published', { requestId: metric.requestId, reason: String(error) }));
    await this.deps.onLlmRequestRecorded?.({ tenantId, apiKeyId, metric }).catch((error: unknown) =>
      this.deps.log.error('recorded LLM request not accounted for', { requestId: metric.requestId, reason: String(error) }),
    );
    return metric;
  }

  /** Per model (and period, when a bucket is given): throughput, latency percentiles and cache hit rate. */
  async llmStats(tenantId: string, rawQuery: unknown): Promise<LlmStatsRow[]> {
    const query = parseLlmStatsQuery(rawQuery);
    const features = await this.features();
    const period =
      query.bucketSeconds === undefined ? Prisma.sql`NULL::timestamptz` : bucketStart(features, query.bucketSeconds, Prisma.sql`timestamp`);
    const model = query.modelId === undefined ? Prisma.empty : Prisma.sql`AND model_id = ${query.modelId}`;
    const rows = await this.prisma.$queryRaw<RawStatsRow[]>`
      SELECT model_id AS "modelId",
             ${period} AS "periodStart",
             count(*)::bigint AS requests,
             coalesce(sum(tokens_generated), 0)::bigint AS "tokensGenerated",
             coalesce(sum(prompt_tokens), 0)::bigint AS "promptTokens",
             avg(tokens_per_second)::float8 AS "avgTokensPerSecond",
             percentile_cont(0.5) WITHIN GROUP (ORDER BY generation_time_ms)::float8 AS "p50LatencyMs",
             percentile_cont(0.95) WITHIN GROUP (ORDER BY generation_time_ms)::float8 AS "p95LatencyMs",
             percentile_cont(0.99) WITHIN GROUP (ORDER BY generation_time_ms)::float8 AS "p99LatencyMs",
             avg(time_to_first_token_ms)::float8 AS "avgTimeToFirstTokenMs",
             count(*) FILTER (WHERE cache_hit)::bigint AS "cacheHits",
             (count(*) FILTER (WHERE cache_hit))::float8 / count(*) AS "cacheHitRate"
      FROM llm_metrics
      WHERE tenant_id = ${tenantId}::uuid AND timestamp >= ${query.from}::timestamptz AND timestamp < ${query.to}::timestamptz ${model}
      GROUP BY 1, 2
      ORDER BY 2 NULLS FIRST, 1`;
    return rows.map((row) => ({
      ...row,
      requests: Number(row.requests),
      tokensGenerated: Number(row.tokensGenerated),
      promptTokens: Number(row.promptTokens),
      cacheHits: Number(row.cacheHits),
    }));
  }
}
