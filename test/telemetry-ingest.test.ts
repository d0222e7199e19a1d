import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClusterMetricsDocument,
  IngestNodeMetricsDocument,
  IngestSessionMetricsDocument,
  MetricSeriesDocument,
  RecordSystemMetricsDocument,
  type NodeMetricPointInput,
} from './generated/graphql.js';
import { aRunningSession, aRegisteredNode, globalId, rawId } from './helpers/builders.js';
import { runPostgresTests, runRedisTests, TEST_REDIS_URL } from './helpers/backing-services.js';
import { startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const HOUR_MS = 3_600_000;
const BATCH = 10_000;

/** Whole hours before now, so bucket boundaries are known. */
const hoursAgo = (hours: number) => new Date(Math.floor(Date.now() / HOUR_MS) * HOUR_MS - hours * HOUR_MS);

function points(nodeId: string, start: Date, count: number, valueOf: (i: number) => number, metricType = 'gpu_util', offset = 0): NodeMetricPointInput[] {
  return Array.from({ length: count }, (_, i) => ({
    nodeId,
    metricType,
    value: valueOf(offset + i),
    time: new Date(start.getTime() + (offset + i) * 1000).toISOString(),
    unit: '%',
  }));
}

async function nodeMetricRows(server: TestServer, tenantId: string): Promise<number> {
  const [row] = await server.db.system.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM node_metrics WHERE tenant_id = ${tenantId}::uuid`;
  return row?.n ?? 0;
}

describe.each(kinds)('metrics ingest over HTTP on %s', (kind) => {
  let server: TestServer;
  let agent: SignedInUser;
  let nodeId: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    agent = await server.signIn({ role: 'operator' });
    nodeId = (await aRegisteredNode(agent)).id;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('stores a batch and reads avg, min, max and count per bucket back', async () => {
    const start = hoursAgo(5);
    const minute = (m: number, value: number) => ({ nodeId, metricType: 'cpu_usage', value, time: new Date(start.getTime() + m * 60_000).toISOString() });
    const ingested = await agent.request(IngestNodeMetricsDocument, {
      input: { points: [minute(1, 10), minute(2, 20), minute(3, 60), minute(61, 5), minute(62, 7)] },
    });
    expect(ingested.data?.ingestNodeMetrics).toEqual({ __typename: 'IngestNodeMetricsSuccess', accepted: 5 });

    const series = await agent.request(MetricSeriesDocument, {
      nodeId,
      metricType: 'cpu_usage',
      from: start.toISOString(),
      to: new Date(start.getTime() + 3 * HOUR_MS).toISOString(),
      bucket: 'ONE_HOUR',
    });
    expect(series.errors).toBeUndefined();
    expect(series.data?.metricSeries).toEqual({
      metricType: 'cpu_usage',
      bucketSeconds: 3600,
      usedHourlyRollup: false,
      buckets: [
        { bucket: start.toISOString(), avg: 30, min: 10, max: 60, count: 3 },
        { bucket: new Date(start.getTime() + HOUR_MS).toISOString(), avg: 6, min: 5, max: 7, count: 2 },
      ],
    });
  });

  it('ingests 100,000 points in batches of 10,000 and reads the same totals back', async () => {
    const start = hoursAgo(30);
    const valueOf = (i: number) => (i % 1000) / 10;
    for (let offset = 0; offset < 100_000; offset += BATCH) {
      const result = await agent.request(IngestNodeMetricsDocument, { input: { points: points(nodeId, start, BATCH, valueOf, 'gpu_util', offset) } });
      expect(result.data?.ingestNodeMetrics).toEqual({ __typename: 'IngestNodeMetricsSuccess', accepted: BATCH });
    }
    const series = await agent.request(MetricSeriesDocument, {
      nodeId,
      metricType: 'gpu_util',
      from: start.toISOString(),
      to: new Date(start.getTime() + 100_000 * 1000).toISOString(),
      bucket: 'ONE_HOUR',
    });
    const buckets = series.data!.metricSeries.buckets;
    expect(buckets).toHaveLength(28);
    expect(buckets.reduce((sum, b) => sum + b.count, 0)).toBe(100_000);
    expect(buckets.slice(0, 27).every((b) => b.count === 3600)).toBe(true);
    expect(buckets[27]!.count).toBe(100_000 - 27 * 3600);
    const total = buckets.reduce((sum, b) => sum + b.avg * b.count, 0);
    expect(total / 100_000).toBeCloseTo(49.95, 6);
    expect(Math.min(...buckets.map((b) => b.min))).toBe(0);
    expect(Math.max(...buckets.map((b) => b.max))).toBe(99.9);

    const cluster = await agent.request(ClusterMetricsDocument, { since: start.toISOString() });
    expect(cluster.data?.clusterMetrics.find((m) => m.metricType === 'gpu_util')).toEqual({
      metricType: 'gpu_util',
      avgValue: expect.closeTo(49.95, 6),
      maxValue: 99.9,
      minValue: 0,
      sampleCount: 100_000,
      nodeCount: 1,
    });
  });

  it('refuses a batch naming a node of another tenant, and stores none of its points', async () => {
    const stranger = await server.signIn({ role: 'operator' });
    const theirNode = (await aRegisteredNode(stranger)).id;
    const before = await nodeMetricRows(server, agent.tenantId);
    const batch = [...points(nodeId, hoursAgo(2), 3, () => 1), ...points(theirNode, hoursAgo(2), 2, () => 1)];
    const result = await agent.request(IngestNodeMetricsDocument, { input: { points: batch } });
    const outcome = result.data!.ingestNodeMetrics;
    if (outcome.__typename !== 'ValidationError') throw new Error(`unexpected ${outcome.__typename}`);
    expect(outcome.issues).toEqual([
      { path: 'points.3.nodeId', message: 'no such node in this tenant' },
      { path: 'points.4.nodeId', message: 'no such node in this tenant' },
    ]);
    expect(await nodeMetricRows(server, agent.tenantId)).toBe(before);
  });

  it('refuses points from the future, bad metric names and batches over 10,000', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const result = await agent.request(IngestNodeMetricsDocument, {
      input: {
        points: [
          { nodeId, metricType: 'cpu', value: 1, time: future },
          { nodeId, metricType: "cpu'; DROP TABLE node_metrics; --", value: 1, time: hoursAgo(1).toISOString() },
          { nodeId, metricType: 'cpu', value: 1, time: '1999-12-31T23:00:00Z' },
        ],
      },
    });
    const outcome = result.data!.ingestNodeMetrics;
    if (outcome.__typename !== 'ValidationError') throw new Error(`unexpected ${outcome.__typename}`);
    expect(outcome.issues.map((issue) => issue.path)).toEqual(['points.0.time', 'points.1.metricType', 'points.2.time']);

    const tooMany = await agent.request(IngestNodeMetricsDocument, { input: { points: points(nodeId, hoursAgo(4), BATCH + 1, () => 1) } });
    const refused = tooMany.data!.ingestNodeMetrics;
    if (refused.__typename !== 'ValidationError') throw new Error(`unexpected ${refused.__typename}`);
    expect(refused.issues).toEqual([{ path: 'points', message: 'must hold at most 10000 points' }]);
  });

  it('keeps labels and units as data, quotes and all', async () => {
    const time = hoursAgo(1);
    const labels = { note: "x'); DELETE FROM node_metrics; --", path: 'a\\b"c' };
    const result = await agent.request(IngestNodeMetricsDocument, {
      input: { points: [{ nodeId, metricType: 'temp', value: 71.5, time: time.toISOString(), unit: "°C'--", labels }] },
    });
    expect(result.data?.ingestNodeMetrics.__typename).toBe('IngestNodeMetricsSuccess');
    const [row] = await server.db.system.$queryRaw<{ unit: string; labels: unknown }[]>`
      SELECT unit, labels FROM node_metrics WHERE node_id = ${rawId(nodeId)}::uuid AND metric_type = 'temp'`;
    expect(row).toEqual({ unit: "°C'--", labels });
  });

  it('treats malicious filter strings as data and refuses malicious intervals', async () => {
    const before = await nodeMetricRows(server, agent.tenantId);
    const from = hoursAgo(40).toISOString();
    const to = new Date().toISOString();
    const injected = await agent.request(MetricSeriesDocument, { nodeId, metricType: "gpu_util' OR '1'='1", from, to, bucket: 'ONE_HOUR' });
    expect(injected.data?.metricSeries.buckets).toEqual([]);

    const badBucket = await agent.request(MetricSeriesDocument, { nodeId, metricType: 'gpu_util', from, to, bucket: "1 hour'); DROP TABLE node_metrics; --" as never });
    expect(badBucket.data).toBeUndefined();
    expect(badBucket.errors?.[0]?.message).toMatch(/MetricBucket/);

    const badWindow = await agent.request(ClusterMetricsDocument, { lastSeconds: "3600'; DROP TABLE node_metrics; --" as never });
    expect(badWindow.errors?.[0]?.message).toMatch(/Int/);
    const badSince = await agent.request(ClusterMetricsDocument, { since: "1 hour'; DROP TABLE node_metrics; --" });
    expect(badSince.errors?.[0]?.message).toMatch(/ISO-8601/);
    const outOfRange = await agent.request(ClusterMetricsDocument, { lastSeconds: -5 });
    expect(outOfRange.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: 'lastSeconds' }] });

    expect(await nodeMetricRows(server, agent.tenantId)).toBe(before);
  });

  it('refuses a series of too many buckets or without exactly one of node and session', async () => {
    const year = await agent.request(MetricSeriesDocument, {
      nodeId,
      metricType: 'gpu_util',
      from: new Date(Date.now() - 300 * 86_400_000).toISOString(),
      to: new Date().toISOString(),
      bucket: 'ONE_MINUTE',
    });
    expect(year.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: 'bucket' }] });
    const neither = await agent.request(MetricSeriesDocument, { metricType: 'x', from: hoursAgo(2).toISOString(), to: hoursAgo(1).toISOString(), bucket: 'ONE_HOUR' });
    expect(neither.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: 'nodeId' }] });
  });

  it('keeps one tenant out of another tenant’s series and cluster metrics', async () => {
    const stranger = await server.signIn({ role: 'admin' });
    const series = await stranger.request(MetricSeriesDocument, {
      nodeId,
      metricType: 'cpu_usage',
      from: hoursAgo(6).toISOString(),
      to: new Date().toISOString(),
      bucket: 'ONE_HOUR',
    });
    expect(series.data?.metricSeries.buckets).toEqual([]);
    const cluster = await stranger.request(ClusterMetricsDocument, { lastSeconds: 7 * 86_400 });
    expect(cluster.data?.clusterMetrics).toEqual([]);
  });

  it('ingests points of compute sessions of the tenant only', async () => {
    const sessionId = await aRunningSession(server.db.system, agent.tenantId, agent.userId);
    const start = hoursAgo(3);
    const sessionPoints = [0, 1, 2, 3].map((i) => ({
      sessionId: globalId('Session', sessionId),
      metricType: 'loss',
      value: 4 - i,
      time: new Date(start.getTime() + i * 600_000).toISOString(),
    }));
    const result = await agent.request(IngestSessionMetricsDocument, { input: { points: sessionPoints } });
    expect(result.data?.ingestSessionMetrics).toEqual({ __typename: 'IngestSessionMetricsSuccess', accepted: 4 });
    const series = await agent.request(MetricSeriesDocument, {
      sessionId: globalId('Session', sessionId),
      metricType: 'loss',
      from: start.toISOString(),
      to: new Date(start.getTime() + HOUR_MS).toISOString(),
      bucket: 'FIFTEEN_MINUTES',
    });
    expect(series.data?.metricSeries.buckets).toEqual([
      { bucket: start.toISOString(), avg: 3.5, min: 3, max: 4, count: 2 },
      { bucket: new Date(start.getTime() + 15 * 60_000).toISOString(), avg: 2, min: 2, max: 2, count: 1 },
      { bucket: new Date(start.getTime() + 30 * 60_000).toISOString(), avg: 1, min: 1, max: 1, count: 1 },
    ]);

    const stranger = await server.signIn({ role: 'operator' });
    const refused = await stranger.request(IngestSessionMetricsDocument, { input: { points: sessionPoints.slice(0, 1) } });
    expect(refused.data?.ingestSessionMetrics).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'points.0.sessionId' }] });
  });

  it('records a host snapshot of a node', async () => {
    const result = await agent.request(RecordSystemMetricsDocument, { input: { nodeId, cpuPercent: 42.5, gpuPercent: 97, memoryPercent: 63.25, diskWritesSC: 12 } });
    const outcome = result.data!.recordSystemMetrics;
    if (outcome.__typename !== 'RecordSystemMetricsSuccess') throw new Error(`unexpected ${outcome.__typename}`);
    expect(outcome.snapshot).toMatchObject({ cpuPercent: 42.5, gpuPercent: 97, memoryPercent: 63.25, diskWritesSC: 12, node: { id: nodeId } });

    const invalid = await agent.request(RecordSystemMetricsDocument, { input: { nodeId, cpuPercent: 140 } });
    expect(invalid.data?.recordSystemMetrics).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'cpuPercent' }] });
    const stranger = await server.signIn({ role: 'operator' });
    const foreign = await stranger.request(RecordSystemMetricsDocument, { input: { nodeId, cpuPercent: 1 } });
    expect(foreign.data?.recordSystemMetrics).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'nodeId' }] });
  });

  it('lets a read-only user query but not ingest', async () => {
    const reader = await server.signIn({ role: 'readonly', tenantId: agent.tenantId });
    const refused = await reader.request(IngestNodeMetricsDocument, { input: { points: points(nodeId, hoursAgo(1), 1, () => 1) } });
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const allowed = await reader.request(ClusterMetricsDocument, { lastSeconds: 3600 });
    expect(allowed.errors).toBeUndefined();
  });
});

describe('long ranges read the hourly rollup', () => {
  let server: TestServer;
  let agent: SignedInUser;
  let nodeId: string;

  beforeAll(async () => {
    server = await startTestServer('pglite');
    agent = await server.signIn({ role: 'operator' });
    nodeId = (await aRegisteredNode(agent)).id;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('combines rolled-up hours with raw points at the edges and after the last refresh', async () => {
    // One point every 10 minutes for 3 days, value = hour of the range (0..71).
    const start = hoursAgo(80);
    const early = Array.from({ length: 72 * 6 }, (_, i) => ({
      nodeId,
      metricType: 'power',
      value: Math.floor(i / 6),
      time: new Date(start.getTime() + i * 600_000).toISOString(),
    }));
    expect((await agent.request(IngestNodeMetricsDocument, { input: { points: early } })).data?.ingestNodeMetrics).toMatchObject({ accepted: 432 });
    await server.db.system.$queryRaw`SELECT refresh_node_metrics_hourly()`;
    // Raw points of the first day are gone (as retention would drop them); the rollup still has them.
    await server.db.system.$executeRaw`
      DELETE FROM node_metrics WHERE node_id = ${rawId(nodeId)}::uuid AND time < ${new Date(start.getTime() + 24 * HOUR_MS)}::timestamptz`;
    // Points after the refresh: only raw rows hold them.
    const late = [0, 1, 2].map((i) => ({ nodeId, metricType: 'power', value: 100, time: new Date(start.getTime() + (72 * 60 + i) * 60_000).toISOString() }));
    await agent.request(IngestNodeMetricsDocument, { input: { points: late } });

    const series = await agent.request(MetricSeriesDocument, {
      nodeId,
      metricType: 'power',
      from: start.toISOString(),
      to: new Date(start.getTime() + 80 * HOUR_MS).toISOString(),
      bucket: 'ONE_DAY',
    });
    const result = series.data!.metricSeries;
    expect(result.usedHourlyRollup).toBe(true);
    expect(result.buckets.reduce((sum, b) => sum + b.count, 0)).toBe(432 + 3);
    const sum = result.buckets.reduce((total, b) => total + b.avg * b.count, 0);
    const expected = early.reduce((total, p) => total + p.value, 0) + 300;
    expect(sum).toBeCloseTo(expected, 6);
    expect(Math.max(...result.buckets.map((b) => b.max))).toBe(100);
    expect(Math.min(...result.buckets.map((b) => b.min))).toBe(0);
  });
});


describe.runIf(runRedisTests)('metrics publishing through Redis', () => {
  let server: TestServer;
  let subscriber: Redis;
  const messages: { tenantId: string; points: { nodeId: string; metricType: string; value: number; unit: string | null; time: string }[] }[] = [];

  beforeAll(async () => {
    server = await startTestServer('pglite', { redisUrl: TEST_REDIS_URL });
    subscriber = new Redis(TEST_REDIS_URL);
    // Whatever namespace, tenant suffix or envelope the bus puts around the topic's payload.
    subscriber.on('pmessage', (_pattern, _channel, message) => {
      const parsed = JSON.parse(message) as { p?: unknown };
      messages.push((parsed.p ?? parsed) as (typeof messages)[number]);
    });
    await subscriber.psubscribe('*telemetry.metrics.ingested*');
  });
  afterAll(async () => {
    subscriber?.disconnect();
    await server?.close();
  });

  it('publishes a batch of 10,000 points as one message carrying every point', async () => {
    const agent = await server.signIn({ role: 'operator' });
    const nodeId = (await aRegisteredNode(agent)).id;
    const start = hoursAgo(4);
    const result = await agent.request(IngestNodeMetricsDocument, { input: { points: points(nodeId, start, BATCH, (i) => i) } });
    expect(result.data?.ingestNodeMetrics).toMatchObject({ accepted: BATCH });
    await expect.poll(() => messages.filter((m) => m.tenantId === agent.tenantId).length).toBe(1);
    const [message] = messages.filter((m) => m.tenantId === agent.tenantId);
    expect(message!.points).toHaveLength(BATCH);
    expect(message!.points[9_999]).toEqual({
      nodeId: rawId(nodeId),
      sessionId: null,
      metricType: 'gpu_util',
      value: 9_999,
      unit: '%',
      time: new Date(start.getTime() + 9_999_000).toISOString(),
    });
  });
});
