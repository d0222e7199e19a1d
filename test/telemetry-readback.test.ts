import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LlmMetricsDocument,
  RecordLlmMetricsDocument,
  RecordSystemMetricsDocument,
  RecordToolOperationDocument,
  StartToolSessionDocument,
  SystemMetricSeriesDocument,
  SystemMetricsDocument,
  ToolSessionCountersDocument,
} from './generated/graphql.js';
import { aRegisteredNode } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { expectResult, startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const HOUR = 3_600_000;
// Whole hours in the past, so the snapshots fall into known hourly buckets.
const base = Math.floor(Date.now() / HOUR) * HOUR - 5 * HOUR;
const at = (minutes: number) => new Date(base + minutes * 60_000).toISOString();

describe.each(kinds)('reading back what is written, on %s', (kind) => {
  let server: TestServer;
  let operator: SignedInUser;
  let nodeId: string;
  let otherNodeId: string;

  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false });
    operator = await server.signIn({ role: 'operator' });
    nodeId = (await aRegisteredNode(operator)).id;
    otherNodeId = (await aRegisteredNode(operator)).id;
    const snapshots: [string, number, number, number | null][] = [
      [nodeId, 0, 10, 50],
      [nodeId, 30, 30, null],
      [nodeId, 60, 50, 70],
      [nodeId, 90, 70, 90],
      [otherNodeId, 30, 99, 99],
    ];
    for (const [node, minutes, cpuPercent, gpuPercent] of snapshots) {
      expectResult(await operator.request(RecordSystemMetricsDocument, { input: { nodeId: node, timestamp: at(minutes), cpuPercent, gpuPercent } }), 'RecordSystemMetricsSuccess');
    }
    const requests: [string, string, number][] = [
      ['req-1', 'llama3-8b', 10],
      ['req-2', 'mistral-7b', 20],
      ['req-3', 'llama3-8b', 30],
      ['req-4', 'llama3-8b', 40],
    ];
    for (const [index, [requestId, modelId, minutes]] of requests.entries()) {
      expectResult(
        await operator.request(RecordLlmMetricsDocument, { input: { requestId, modelId, tokensGenerated: 100 * (index + 1), generationTimeMs: 500, timestamp: at(minutes) } }),
        'RecordLlmMetricsSuccess',
      );
    }
  });
  afterAll(async () => {
    await server?.close();
  });

  it("pages through a node's host snapshots newest first, within a period", async () => {
    const first = (await operator.request(SystemMetricsDocument, { first: 3, filter: { nodeId } })).data!.systemMetrics;
    expect(first.edges.map((edge) => edge.node.cpuPercent)).toEqual([70, 50, 30]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = (await operator.request(SystemMetricsDocument, { first: 3, after: first.pageInfo.endCursor, filter: { nodeId } })).data!.systemMetrics;
    expect(rest.edges.map((edge) => edge.node.cpuPercent)).toEqual([10]);
    const period = (await operator.request(SystemMetricsDocument, { first: 10, filter: { nodeId, from: at(30), to: at(90) } })).data!.systemMetrics;
    expect(period.edges.map((edge) => edge.node.cpuPercent)).toEqual([50, 30]);
  });

  it('cuts one measurement into buckets, leaving out snapshots without it', async () => {
    const series = (await operator.request(SystemMetricSeriesDocument, { nodeId, measurement: 'GPU_PERCENT', from: at(0), to: at(120), bucket: 'ONE_HOUR' })).data!
      .systemMetricSeries;
    expect(series.metricType).toBe('gpu_percent');
    expect(series.buckets).toEqual([
      { bucket: at(0), avg: 50, min: 50, max: 50, count: 1 },
      { bucket: at(60), avg: 80, min: 70, max: 90, count: 2 },
    ]);
    const refused = await operator.request(SystemMetricSeriesDocument, { nodeId, measurement: 'CPU_PERCENT', from: at(120), to: at(0), bucket: 'ONE_HOUR' });
    expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('lists raw LLM requests filtered by model, request id and time, paginated', async () => {
    const list = async (filter: Record<string, unknown>, first = 10) =>
      (await operator.request(LlmMetricsDocument, { first, filter })).data!.llmMetrics;
    expect((await list({})).edges.map((edge) => edge.node.requestId)).toEqual(['req-4', 'req-3', 'req-2', 'req-1']);
    expect((await list({ modelId: 'llama3-8b' })).edges.map((edge) => edge.node.requestId)).toEqual(['req-4', 'req-3', 'req-1']);
    expect((await list({ requestId: 'req-2' })).edges.map((edge) => edge.node.tokensGenerated)).toEqual([200]);
    expect((await list({ from: at(15), to: at(40) })).edges.map((edge) => edge.node.requestId)).toEqual(['req-3', 'req-2']);
    const page = await list({ modelId: 'llama3-8b' }, 2);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const next = (await operator.request(LlmMetricsDocument, { first: 2, after: page.pageInfo.endCursor, filter: { modelId: 'llama3-8b' } })).data!.llmMetrics;
    expect(next.edges.map((edge) => edge.node.requestId)).toEqual(['req-1']);
  });

  it("keeps other tenants' snapshots and requests out", async () => {
    const stranger = await server.signIn({ role: 'admin' });
    expect((await stranger.request(SystemMetricsDocument, { first: 10, filter: { nodeId } })).data!.systemMetrics.edges).toEqual([]);
    expect((await stranger.request(LlmMetricsDocument, { first: 10 })).data!.llmMetrics.edges).toEqual([]);
  });

  it("counts a tool session's compressions, embeddings and workflows as operations are recorded", async () => {
    const session = expectResult(await operator.request(StartToolSessionDocument, { input: { toolId: 'claude-code' } }), 'StartToolSessionSuccess').toolSession;
    const operation = (toolName: string, operationMode: string, parameters: Record<string, unknown> = {}) =>
      operator.request(RecordToolOperationDocument, { input: { sessionId: session.id, toolName, operationMode, parameters, tokensOriginal: 100, tokensActual: 40 } });
    await operation('read', 'full', { compress: true });
    await operation('search', 'semantic');
    await operation('search', 'tri_index', { compress: true });
    await operation('workflow', 'full');
    await operation('read', 'overview');
    const counters = (await operator.request(ToolSessionCountersDocument, { id: session.id })).data!.toolSession;
    expect(counters).toEqual({ totalCompressions: 2, totalEmbeddings: 2, totalWorkflows: 1 });
  });
});
