import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/infra/logger.js';
import { createMemoryPubSub } from '../src/infra/pubsub.js';
import { runInTenant } from '../src/infra/tenant-scope.js';
import { LlmMetricsService, type LlmRequestRecorded } from '../src/modules/telemetry/llm-metrics.service.js';
import type { Services } from '../src/services.js';
import {
  DailyMetricsSummariesDocument,
  IngestNodeMetricsDocument,
  IngestSessionMetricsDocument,
  LlmStatsDocument,
  RecordLlmMetricsDocument,
  RecordSystemMetricsDocument,
  type RecordLlmMetricsInput,
} from './generated/graphql.js';
import { aRunningSession, aRegisteredNode, globalId, rawId } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { servicesOf, startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const log = createLogger('silent');
const hourStart = (hoursAgo: number) => new Date(Math.floor(Date.now() / HOUR_MS) * HOUR_MS - hoursAgo * HOUR_MS);
const yesterday = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS);
const yesterdayText = yesterday.toISOString().slice(0, 10);
const at = (day: Date, hour: number) => new Date(day.getTime() + hour * HOUR_MS).toISOString();

let requestSeq = 0;
const request = (overrides: Partial<RecordLlmMetricsInput>): RecordLlmMetricsInput => ({
  modelId: 'llama-3.1-8b-instruct',
  requestId: `req-${(requestSeq += 1)}`,
  tokensGenerated: 50,
  generationTimeMs: 100,
  ...overrides,
});

describe.each(kinds)('LLM metrics, daily summaries and retention over HTTP on %s', (kind) => {
  let server: TestServer;
  let agent: SignedInUser;
  let maintenance: Services['telemetryMaintenance'];

  beforeAll(async () => {
    server = await startTestServer(kind);
    agent = await server.signIn({ role: 'operator' });
    maintenance = servicesOf(server).telemetryMaintenance;
    await server.db.system.model.create({ data: { modelId: 'llama-3.1-8b-instruct', name: 'Llama 3.1 8B', contextLength: 131072 } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('records a request, derives tokens per second and total tokens, and marks the catalog model used', async () => {
    const timestamp = hourStart(1).toISOString();
    const result = await agent.request(RecordLlmMetricsDocument, {
      input: request({ requestId: 'req-solo', tokensGenerated: 120, generationTimeMs: 400, promptTokens: 30, timestamp }),
    });
    expect(result.data?.recordLlmMetrics).toMatchObject({
      __typename: 'RecordLlmMetricsSuccess',
      metrics: { modelId: 'llama-3.1-8b-instruct', requestId: 'req-solo', tokensGenerated: 120, tokensPerSecond: 300, totalTokens: 150, cacheHit: false },
    });
    const model = await server.db.system.model.findUniqueOrThrow({ where: { modelId: 'llama-3.1-8b-instruct' } });
    expect(model.lastUsed?.toISOString()).toBe(timestamp);

    const invalid = await agent.request(RecordLlmMetricsDocument, { input: request({ generationTimeMs: 0, promptTokens: 10, totalTokens: 5 }) });
    expect(invalid.data?.recordLlmMetrics).toMatchObject({ __typename: 'ValidationError' });
    if (invalid.data?.recordLlmMetrics.__typename !== 'ValidationError') throw new Error('unreachable');
    expect(invalid.data.recordLlmMetrics.issues.map((i) => i.path).sort()).toEqual(['generationTimeMs', 'totalTokens']);

    const stranger = await server.signIn({ role: 'operator' });
    const foreignNode = (await aRegisteredNode(agent)).id;
    const foreign = await stranger.request(RecordLlmMetricsDocument, { input: request({ nodeId: foreignNode }) });
    expect(foreign.data?.recordLlmMetrics).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'nodeId' }] });
  });

  it('reports latency percentiles, throughput and cache hit rate per model and period', async () => {
    const analyst = await server.signIn({ role: 'operator' });
    const first = hourStart(3);
    const second = hourStart(2);
    const times = [100, 200, 300, 400];
    for (const [i, generationTimeMs] of times.entries()) {
      await analyst.request(RecordLlmMetricsDocument, {
        input: request({ generationTimeMs, cacheHit: i === 0, timeToFirstTokenMs: 10 * (i + 1), timestamp: new Date((i < 2 ? first : second).getTime() + i * 60_000).toISOString() }),
      });
    }
    await analyst.request(RecordLlmMetricsDocument, { input: request({ modelId: 'mistral-7b', tokensGenerated: 10, generationTimeMs: 50, timestamp: second.toISOString() }) });

    const overall = await analyst.request(LlmStatsDocument, { from: hourStart(4).toISOString(), to: new Date().toISOString() });
    expect(overall.errors).toBeUndefined();
    expect(overall.data?.llmStats).toEqual([
      {
        modelId: 'llama-3.1-8b-instruct',
        periodStart: null,
        requests: 4,
        tokensGenerated: 200,
        promptTokens: 0,
        avgTokensPerSecond: expect.closeTo((500 + 250 + 500 / 3 + 125) / 4, 9),
        p50LatencyMs: 250,
        p95LatencyMs: expect.closeTo(385, 9),
        p99LatencyMs: expect.closeTo(397, 9),
        avgTimeToFirstTokenMs: 25,
        cacheHits: 1,
        cacheHitRate: 0.25,
      },
      {
        modelId: 'mistral-7b',
        periodStart: null,
        requests: 1,
        tokensGenerated: 10,
        promptTokens: 0,
        avgTokensPerSecond: 200,
        p50LatencyMs: 50,
        p95LatencyMs: 50,
        p99LatencyMs: 50,
        avgTimeToFirstTokenMs: null,
        cacheHits: 0,
        cacheHitRate: 0,
      },
    ]);

    const hourly = await analyst.request(LlmStatsDocument, { from: hourStart(4).toISOString(), to: new Date().toISOString(), modelId: 'llama-3.1-8b-instruct', bucket: 'ONE_HOUR' });
    expect(hourly.data?.llmStats.map((s) => [s.periodStart, s.requests, s.p50LatencyMs, s.cacheHitRate])).toEqual([
      [first.toISOString(), 2, 150, 0.5],
      [second.toISOString(), 2, 350, 0],
    ]);

    const injected = await analyst.request(LlmStatsDocument, { from: hourStart(4).toISOString(), to: new Date().toISOString(), modelId: "x' OR '1'='1" });
    expect(injected.data?.llmStats).toEqual([]);
    const stranger = await server.signIn({ role: 'admin' });
    const isolated = await stranger.request(LlmStatsDocument, { from: hourStart(4).toISOString(), to: new Date().toISOString() });
    expect(isolated.data?.llmStats).toEqual([]);
  });

  it('hands each recorded request once to onLlmRequestRecorded, and survives its failure', async () => {
    const seen: LlmRequestRecorded[] = [];
    const service = new LlmMetricsService({
      prisma: server.db.prisma,
      system: server.db.system,
      pubsub: createMemoryPubSub(),
      log,
      onLlmRequestRecorded: async (event) => {
        seen.push(event);
        if (event.metric.requestId === 'req-hook-2') throw new Error('usage store down');
      },
    });
    const recorded = await runInTenant(agent.tenantId, () => service.recordLlmMetrics(agent.tenantId, null, request({ requestId: 'req-hook-1', promptTokens: 7 })));
    await runInTenant(agent.tenantId, () => service.recordLlmMetrics(agent.tenantId, null, request({ requestId: 'req-hook-2' })));
    expect(seen.map((event) => [event.tenantId, event.apiKeyId, event.metric.requestId, event.metric.promptTokens])).toEqual([
      [agent.tenantId, null, 'req-hook-1', 7],
      [agent.tenantId, null, 'req-hook-2', null],
    ]);
    expect(seen[0]!.metric.id).toBe(recorded.id);
    expect(await server.db.system.llmMetric.count({ where: { tenantId: agent.tenantId, requestId: { in: ['req-hook-1', 'req-hook-2'] } } })).toBe(2);
  });

  it('summarizes a finished day per tenant, and a re-run replaces the summary', async () => {
    const owner = await server.signIn({ role: 'operator' });
    const other = await server.signIn({ role: 'operator' });
    const node = (await aRegisteredNode(owner)).id;
    for (const input of [
      request({ modelId: 'model-a', tokensGenerated: 100, generationTimeMs: 1000, timestamp: at(yesterday, 1) }),
      request({ modelId: 'model-a', tokensGenerated: 300, generationTimeMs: 1000, cacheHit: true, timestamp: at(yesterday, 2) }),
      request({ modelId: 'model-b', tokensGenerated: 200, generationTimeMs: 2000, timestamp: at(yesterday, 3) }),
      request({ modelId: 'model-b', tokensGenerated: 999, generationTimeMs: 1, timestamp: at(new Date(yesterday.getTime() - DAY_MS), 23) }),
    ]) {
      expect((await owner.request(RecordLlmMetricsDocument, { input })).data?.recordLlmMetrics.__typename).toBe('RecordLlmMetricsSuccess');
    }
    for (const [cpuPercent, gpuPercent, hour] of [[50, 90, 4], [80, 10, 5]] as const) {
      await owner.request(RecordSystemMetricsDocument, { input: { nodeId: node, cpuPercent, gpuPercent, memoryPercent: 40, timestamp: at(yesterday, hour) } });
    }
    await other.request(RecordLlmMetricsDocument, { input: request({ modelId: 'model-z', timestamp: at(yesterday, 6) }) });

    expect(await maintenance.summarizeDay(yesterday)).toBeGreaterThanOrEqual(2);
    const expected = {
      date: yesterdayText,
      totalRequests: 3,
      totalTokensGenerated: 600,
      avgTokensPerSecond: (100 + 300 + 100) / 3,
      avgResponseTimeMs: 4000 / 3,
      cacheHits: 1,
      cacheMisses: 2,
      mostUsedModel: 'model-a',
      peakCpuPercent: 80,
      peakMemoryPercent: 40,
      peakGpuPercent: 90,
    };
    const read = async () => (await owner.request(DailyMetricsSummariesDocument, { from: yesterdayText, to: yesterdayText })).data?.dailyMetricsSummaries.edges.map((e) => e.node);
    expect(await read()).toEqual([{ ...expected, avgTokensPerSecond: expect.closeTo(expected.avgTokensPerSecond, 9), avgResponseTimeMs: expect.closeTo(expected.avgResponseTimeMs, 9) }]);

    await owner.request(RecordLlmMetricsDocument, { input: request({ modelId: 'model-b', tokensGenerated: 400, generationTimeMs: 1000, timestamp: at(yesterday, 7) }) });
    await maintenance.summarizeFinishedDays();
    const [rerun] = (await read())!;
    expect(rerun).toMatchObject({ totalRequests: 4, totalTokensGenerated: 1000, cacheHits: 1, cacheMisses: 3, mostUsedModel: 'model-a' });
    expect(await server.db.system.dailyMetricsSummary.count({ where: { tenantId: owner.tenantId } })).toBe(2);

    const theirs = (await other.request(DailyMetricsSummariesDocument, {})).data?.dailyMetricsSummaries.edges.map((e) => e.node);
    expect(theirs).toEqual([expect.objectContaining({ date: yesterdayText, totalRequests: 1, mostUsedModel: 'model-z', peakCpuPercent: null })]);

    const bad = await owner.request(DailyMetricsSummariesDocument, { from: "2026-01-01'; DROP TABLE daily_metrics_summary; --" });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: 'from' }] });
  });

  it('removes raw metrics past the retention period and keeps the rest', async () => {
    const owner = await server.signIn({ role: 'operator' });
    const nodeId = (await aRegisteredNode(owner)).id;
    const sessionId = await aRunningSession(server.db.system, owner.tenantId, owner.userId);
    const old = new Date(Date.now() - 40 * DAY_MS);
    const recent = hourStart(2);
    const points = (start: Date, count: number) =>
      Array.from({ length: count }, (_, i) => ({ nodeId, metricType: 'cpu', value: i, time: new Date(start.getTime() + i * 1000).toISOString() }));
    await owner.request(IngestNodeMetricsDocument, { input: { points: points(old, 10_000) } });
    await owner.request(IngestNodeMetricsDocument, { input: { points: points(new Date(old.getTime() + 10_000_000), 2_000) } });
    await owner.request(IngestNodeMetricsDocument, { input: { points: points(recent, 5) } });
    await owner.request(IngestSessionMetricsDocument, {
      input: { points: [old, recent].map((time) => ({ sessionId: globalId('Session', sessionId), metricType: 'loss', value: 1, time: time.toISOString() })) },
    });
    await owner.request(RecordSystemMetricsDocument, { input: { nodeId, cpuPercent: 1, timestamp: old.toISOString() } });
    await owner.request(RecordLlmMetricsDocument, { input: request({ timestamp: old.toISOString() }) });

    const result = await maintenance.applyRetention();
    // Without TimescaleDB the tables are partitioned by month; rows older than the partitions made ahead sit in the default one.
    expect(result.method).toBe('partitions');
    expect(result.removed.node_metrics).toBeGreaterThanOrEqual(12_000);
    const count = async (table: 'node_metrics' | 'session_metrics') =>
      table === 'node_metrics'
        ? server.db.system.nodeMetric.count({ where: { nodeId: rawId(nodeId) } })
        : server.db.system.sessionMetric.count({ where: { sessionId } });
    expect(await count('node_metrics')).toBe(5);
    expect(await count('session_metrics')).toBe(1);
    expect(await server.db.system.systemMetric.count({ where: { tenantId: owner.tenantId } })).toBe(0);
    expect(await server.db.system.llmMetric.count({ where: { tenantId: owner.tenantId } })).toBe(0);
    expect((await maintenance.applyRetention()).removed).toEqual({ node_metrics: 0, session_metrics: 0, system_metrics: 0, llm_metrics: 0 });
  });

  it('files late rows into their own month on demand, and drops whole months past retention', async () => {
    const owner = await server.signIn({ role: 'operator' });
    const { id: nodeId } = await aRegisteredNode(owner);
    const threeMonthsAgo = new Date(Date.now() - 95 * DAY_MS);
    const points = Array.from({ length: 300 }, (_, i) => ({ nodeId, metricType: 'gpu', value: i, time: new Date(threeMonthsAgo.getTime() + i * 1000).toISOString() }));
    expect((await owner.request(IngestNodeMetricsDocument, { input: { points } })).errors).toBeUndefined();
    const month = `${threeMonthsAgo.getUTCFullYear()}${String(threeMonthsAgo.getUTCMonth() + 1).padStart(2, '0')}`;
    const partitionRows = () =>
      server.db.system.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM telemetry_partitions.node_metrics_p${month}`).then((rows) => rows[0]!.n);

    expect(await maintenance.partitions.ensurePartitions()).toBeGreaterThanOrEqual(1);
    expect(await partitionRows()).toBeGreaterThanOrEqual(300);
    expect(await server.db.system.nodeMetric.count({ where: { nodeId: rawId(nodeId) } })).toBe(300);

    const result = await maintenance.applyRetention();
    expect(result.method).toBe('partitions');
    expect(result.partitionsDropped!.node_metrics).toBeGreaterThanOrEqual(1);
    await expect(partitionRows()).rejects.toThrow(/does not exist/);
    expect(await server.db.system.nodeMetric.count({ where: { nodeId: rawId(nodeId) } })).toBe(0);
  });
});
