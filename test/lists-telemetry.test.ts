import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateChatSessionDocument,
  ListDailyMetricsSummariesDocument,
  ListLlmMetricsDocument,
  ListSystemMetricsDocument,
  RecordLlmMetricsDocument,
  RecordSystemMetricsDocument,
  type ListDailyMetricsSummariesQueryVariables,
  type LlmMetricsFilter,
  type SystemMetricsFilter,
} from './generated/graphql.js';
import { aRegisteredNode, globalId } from './helpers/builders.js';
import { everyPage, refusalOf } from './helpers/list-paging.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { expectResult, startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const HOUR = 3_600_000;
// Whole hours in the past, so every row falls into partitions that exist.
const base = Math.floor(Date.now() / HOUR) * HOUR - 5 * HOUR;
const at = (minutes: number) => new Date(base + minutes * 60_000).toISOString();
const day = (daysAgo: number) => new Date(Date.UTC(2026, 0, 20 - daysAgo));

describe.each(kinds)('telemetry lists for dashboards, on %s', (kind) => {
  let server: TestServer;
  let admin: SignedInUser;
  let nodeId: string;
  let otherNodeId: string;
  let chatSessionId: string;

  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false });
    admin = await server.signIn({ role: 'admin' });
    nodeId = (await aRegisteredNode(admin)).id;
    otherNodeId = (await aRegisteredNode(admin)).id;
    chatSessionId = expectResult(await admin.request(CreateChatSessionDocument, { input: { title: 'support' } }), 'CreateChatSessionSuccess').chatSession.id;

    // Host snapshots: two pairs share a CPU figure and two have none, so orders by CPU need their tie-breaker.
    const snapshots: [string, number, number | null][] = [
      [nodeId, 0, 20],
      [nodeId, 10, 50],
      [nodeId, 20, 50],
      [nodeId, 30, null],
      [nodeId, 40, 80],
      [nodeId, 50, 20],
      [nodeId, 60, null],
      [otherNodeId, 30, 99],
    ];
    for (const [node, minutes, cpuPercent] of snapshots) {
      expectResult(await admin.request(RecordSystemMetricsDocument, { input: { nodeId: node, timestamp: at(minutes), cpuPercent } }), 'RecordSystemMetricsSuccess');
    }

    // LLM requests: generation times repeat, so an order by them pages through ties.
    const requests: [string, string, number, boolean, string | undefined, string | undefined][] = [
      ['req-1', 'llama3-8b', 100, false, nodeId, chatSessionId],
      ['req-2', 'llama3-8b', 300, true, nodeId, undefined],
      ['req-3', 'mistral-7b', 100, false, otherNodeId, chatSessionId],
      ['req-4', 'phi-3', 300, false, undefined, undefined],
      ['req-5', 'mistral-7b', 100, true, nodeId, undefined],
      ['req-6', 'llama3-8b', 900, false, undefined, undefined],
    ];
    for (const [index, [requestId, modelId, generationTimeMs, cacheHit, node, chat]] of requests.entries()) {
      expectResult(
        await admin.request(RecordLlmMetricsDocument, {
          input: { requestId, modelId, tokensGenerated: 10, generationTimeMs, cacheHit, nodeId: node, chatSessionId: chat, timestamp: at(index * 10) },
        }),
        'RecordLlmMetricsSuccess',
      );
    }

    const summaries: [number, number, string, number | null][] = [
      [0, 50, 'llama3-8b', 90],
      [1, 20, 'mistral-7b', null],
      [2, 50, 'llama3-8b', 40],
      [3, 10, 'phi-3', 70],
      [4, 20, 'llama3-8b', 30],
    ];
    for (const [daysAgo, totalRequests, mostUsedModel, peakGpuPercent] of summaries) {
      await server.db.system.dailyMetricsSummary.create({ data: { tenantId: admin.tenantId, date: day(daysAgo), totalRequests, mostUsedModel, peakGpuPercent } });
    }
  });
  afterAll(async () => {
    await server?.close();
  });

  const llm = async (filter: LlmMetricsFilter, orderBy?: { field: 'GENERATION_TIME_MS' | 'TIMESTAMP' | 'MODEL_ID'; direction?: 'ASC' | 'DESC' }[]) => {
    const result = await admin.request(ListLlmMetricsDocument, { first: 50, filter, orderBy });
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    return result.data!.llmMetrics;
  };
  const requestIds = async (filter: LlmMetricsFilter) => (await llm(filter)).edges.map((edge) => edge.node.requestId);

  it('filters LLM requests by model, node, chat session, cache hits and ranges, newest first by default', async () => {
    expect(await requestIds({})).toEqual(['req-6', 'req-5', 'req-4', 'req-3', 'req-2', 'req-1']);
    expect(await requestIds({ modelId: 'llama3-8b' })).toEqual(['req-6', 'req-2', 'req-1']);
    expect(await requestIds({ modelIdIn: ['phi-3', 'mistral-7b'] })).toEqual(['req-5', 'req-4', 'req-3']);
    expect(await requestIds({ nodeId })).toEqual(['req-5', 'req-2', 'req-1']);
    expect(await requestIds({ nodeIdIn: [otherNodeId, nodeId] })).toEqual(['req-5', 'req-3', 'req-2', 'req-1']);
    expect(await requestIds({ chatSessionId })).toEqual(['req-3', 'req-1']);
    expect(await requestIds({ cacheHit: true })).toEqual(['req-5', 'req-2']);
    expect(await requestIds({ minGenerationTimeMs: 300 })).toEqual(['req-6', 'req-4', 'req-2']);
    expect(await requestIds({ minGenerationTimeMs: 200, maxGenerationTimeMs: 300 })).toEqual(['req-4', 'req-2']);
    expect(await requestIds({ from: at(10), to: at(30) })).toEqual(['req-3', 'req-2']);
    expect(await requestIds({ requestId: "req-1' OR '1'='1" })).toEqual([]);
  });

  it('composes LLM request conditions with and, or and not, and counts what matches', async () => {
    const either = await llm({ or: [{ modelId: 'phi-3' }, { cacheHit: true }], not: { modelId: 'mistral-7b' } });
    expect(either.edges.map((edge) => edge.node.requestId)).toEqual(['req-4', 'req-2']);
    expect(either.totalCount).toBe(2);
    const both = await llm({ and: [{ modelIdIn: ['llama3-8b', 'mistral-7b'] }, { not: { minGenerationTimeMs: 300 } }] });
    expect(both.edges.map((edge) => edge.node.requestId)).toEqual(['req-5', 'req-3', 'req-1']);
    expect(both.totalCount).toBe(3);
    expect((await llm({})).totalCount).toBe(6);
  });

  it('pages LLM requests ordered by a repeated value without repeating or skipping one', async () => {
    for (const direction of ['ASC', 'DESC'] as const) {
      const rows = await everyPage(async (after) => {
        const result = await admin.request(ListLlmMetricsDocument, { first: 2, after, orderBy: [{ field: 'GENERATION_TIME_MS', direction }] });
        return result.data!.llmMetrics;
      });
      expect(new Set(rows.map((row) => row.requestId)).size).toBe(6);
      const times = rows.map((row) => row.generationTimeMs);
      expect(times).toEqual([...times].sort((a, b) => (direction === 'ASC' ? a - b : b - a)));
    }
  });

  it('refuses malformed LLM request filters with a typed error naming the argument', async () => {
    const backwards = await admin.request(ListLlmMetricsDocument, { filter: { from: at(30), to: at(10) } });
    expect(refusalOf(backwards)).toEqual({ code: 'BAD_USER_INPUT', paths: ['filter.to'] });
    const wrongType = await admin.request(ListLlmMetricsDocument, { filter: { chatSessionId: nodeId } });
    expect(refusalOf(wrongType)).toEqual({ code: 'BAD_USER_INPUT', paths: ['llmMetrics.filter.chatSessionId'] });
    const malformed = await admin.request(ListLlmMetricsDocument, { filter: { nodeIdIn: [globalId('ClusterNode', 'not-a-uuid')] } });
    expect(refusalOf(malformed)).toEqual({ code: 'BAD_USER_INPUT', paths: ['llmMetrics.filter.nodeIdIn.0'] });
    const junkCursor = await admin.request(ListLlmMetricsDocument, { first: 2, after: 'junk' });
    expect(refusalOf(junkCursor).code).toBe('BAD_USER_INPUT');
  });

  const snapshots = async (filter: SystemMetricsFilter) => {
    const result = await admin.request(ListSystemMetricsDocument, { first: 50, filter });
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    return result.data!.systemMetrics;
  };
  const cpu = async (filter: SystemMetricsFilter) => (await snapshots(filter)).edges.map((edge) => edge.node.cpuPercent);

  it("filters a node's host snapshots by period and measurement ranges, composed, and counts them", async () => {
    expect(await cpu({ nodeId })).toEqual([null, 20, 80, null, 50, 50, 20]);
    expect(await cpu({ nodeId, minCpuPercent: 50 })).toEqual([80, 50, 50]);
    expect(await cpu({ nodeId, minCpuPercent: 30, maxCpuPercent: 60 })).toEqual([50, 50]);
    // A snapshot without a CPU reading is not one of at most 40%: the not keeps it.
    expect(await cpu({ nodeId, from: at(0), to: at(40), not: { nodeId, maxCpuPercent: 40 } })).toEqual([null, 50, 50]);
    const either = await snapshots({ nodeId, or: [{ nodeId, minCpuPercent: 70 }, { nodeId, maxCpuPercent: 20 }] });
    expect(either.edges.map((edge) => edge.node.cpuPercent)).toEqual([20, 80, 20]);
    expect(either.totalCount).toBe(3);
    expect((await snapshots({ nodeId: otherNodeId })).totalCount).toBe(1);
  });

  it('pages host snapshots ordered by a measurement with repeated and missing values, missing last', async () => {
    for (const direction of ['ASC', 'DESC'] as const) {
      const rows = await everyPage(async (after) => {
        const result = await admin.request(ListSystemMetricsDocument, { first: 2, after, filter: { nodeId }, orderBy: [{ field: 'CPU_PERCENT', direction }] });
        if (result.errors) throw new Error(JSON.stringify(result.errors));
        return result.data!.systemMetrics;
      });
      expect(new Set(rows.map((row) => row.id)).size).toBe(7);
      expect(rows.map((row) => row.cpuPercent)).toEqual(direction === 'ASC' ? [20, 20, 50, 50, 80, null, null] : [80, 50, 50, 20, 20, null, null]);
    }
  });

  it("still requires a host snapshot filter to name its node, and refuses another type's id there", async () => {
    const unnamed = await admin.request(ListSystemMetricsDocument, { first: 5, filter: { from: at(0) } as SystemMetricsFilter });
    expect(unnamed.errors?.[0]?.message).toMatch(/nodeId/);
    expect(unnamed.data ?? undefined).toBeUndefined();
    const wrongType = await admin.request(ListSystemMetricsDocument, { first: 5, filter: { nodeId: chatSessionId } });
    expect(refusalOf(wrongType)).toEqual({ code: 'BAD_USER_INPUT', paths: ['systemMetrics.filter.nodeId'] });
    const backwards = await admin.request(ListSystemMetricsDocument, { first: 5, filter: { nodeId, minCpuPercent: 60, maxCpuPercent: 40 } });
    expect(refusalOf(backwards)).toEqual({ code: 'BAD_USER_INPUT', paths: ['filter.maxCpuPercent'] });
  });

  it('filters, orders and counts daily summaries, keeping the day range arguments', async () => {
    const read = async (variables: ListDailyMetricsSummariesQueryVariables) => {
      const result = await admin.request(ListDailyMetricsSummariesDocument, { first: 50, ...variables });
      if (result.errors) throw new Error(JSON.stringify(result.errors));
      return result.data!.dailyMetricsSummaries;
    };
    const dates = (connection: { edges: { node: { date: string } }[] }) => connection.edges.map((edge) => edge.node.date);
    const iso = (daysAgo: number) => day(daysAgo).toISOString().slice(0, 10);
    expect(dates(await read({}))).toEqual([0, 1, 2, 3, 4].map(iso));
    expect(dates(await read({ from: iso(3), to: iso(1) }))).toEqual([1, 2, 3].map(iso));
    const llama = await read({ filter: { mostUsedModel: ['llama3-8b'], not: { minPeakGpuPercent: 80 } } });
    expect(dates(llama)).toEqual([2, 4].map(iso));
    expect(llama.totalCount).toBe(2);
    expect((await read({ from: iso(3), filter: { or: [{ minTotalRequests: 50 }, { maxTotalRequests: 10 }] } })).totalCount).toBe(3);
    const byRequests = await everyPage(async (after) => read({ first: 2, after, orderBy: [{ field: 'TOTAL_REQUESTS', direction: 'ASC' }] }));
    expect(byRequests.map((row) => row.totalRequests)).toEqual([10, 20, 20, 50, 50]);
    expect(new Set(byRequests.map((row) => row.date)).size).toBe(5);
    const backwards = await admin.request(ListDailyMetricsSummariesDocument, { filter: { minTotalRequests: 30, maxTotalRequests: 20 } });
    expect(refusalOf(backwards)).toEqual({ code: 'BAD_USER_INPUT', paths: ['filter.maxTotalRequests'] });
  });

  it("keeps other tenants' rows out of lists and totals", async () => {
    const stranger = await server.signIn({ role: 'admin' });
    expect((await stranger.request(ListLlmMetricsDocument, { first: 5 })).data!.llmMetrics.totalCount).toBe(0);
    expect((await stranger.request(ListSystemMetricsDocument, { first: 5, filter: { nodeId } })).data!.systemMetrics.totalCount).toBe(0);
    expect((await stranger.request(ListDailyMetricsSummariesDocument, { first: 5 })).data!.dailyMetricsSummaries.totalCount).toBe(0);
  });
});
