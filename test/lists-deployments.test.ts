import type { ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeploymentCountsDocument, ListDeploymentsDocument, type DeploymentFilter } from './generated/graphql.js';
import { globalId } from './helpers/builders.js';
import { everyPage, refusalOf } from './helpers/list-paging.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const day = (n: number) => new Date(Date.UTC(2026, 0, n));

describe.each(kinds)('the deployments list for dashboards, on %s', (kind) => {
  let server: TestServer;
  let reader: SignedInUser;
  const models: Record<string, string> = {};

  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false });
    reader = await server.signIn({ role: 'readonly' });
    for (const modelId of ['llama-8b', 'llama-70b', 'mistral-7b']) {
      models[modelId] = (await server.db.system.model.create({ data: { modelId, name: modelId, contextLength: 8192 } })).id;
    }
    // Replica counts repeat, so an order by them pages through ties.
    const rows: [string, string, string, number, string, string[], number][] = [
      ['chat-east', 'llama-8b', 'active', 2, 'L4', ['us-east'], 1],
      ['chat-west', 'llama-8b', 'degraded', 1, 'L4', ['us-west'], 2],
      ['batch', 'llama-70b', 'active', 2, 'H100', ['us-east', 'eu-west'], 3],
      ['summarise', 'mistral-7b', 'pending', 0, 'A100', [], 4],
      ['chat-eu', 'llama-70b', 'failed', 1, 'H100', ['eu-west'], 5],
      ['ranker', 'mistral-7b', 'active', 2, 'L4', ['us-east'], 6],
    ];
    for (const [name, model, status, currentReplicas, resolvedGpuType, regions, created] of rows) {
      await server.db.system.deployment.create({
        data: { tenantId: reader.tenantId, name, modelId: models[model]!, status, currentReplicas, resolvedGpuType, regions, createdAt: day(created) },
      });
    }
  });
  afterAll(async () => {
    await server?.close();
  });

  const list = async (filter: DeploymentFilter) => {
    const result = await reader.request(ListDeploymentsDocument, { first: 50, filter });
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    return result.data!.deployments;
  };
  const names = async (filter: DeploymentFilter) => (await list(filter)).edges.map((edge) => edge.node.name);

  it('filters by status, model, name, GPU type, region, replicas and creation time, newest first by default', async () => {
    expect(await names({})).toEqual(['ranker', 'chat-eu', 'summarise', 'batch', 'chat-west', 'chat-east']);
    expect(await names({ status: ['ACTIVE', 'PENDING'] })).toEqual(['ranker', 'summarise', 'batch', 'chat-east']);
    expect(await names({ model: 'llama-8b' })).toEqual(['chat-west', 'chat-east']);
    expect(await names({ modelIn: ['llama-70b', 'mistral-7b'] })).toEqual(['ranker', 'chat-eu', 'summarise', 'batch']);
    expect(await names({ modelIdIn: [globalId('Model', models['mistral-7b']!)] })).toEqual(['ranker', 'summarise']);
    expect(await names({ name: 'CHAT' })).toEqual(['chat-eu', 'chat-west', 'chat-east']);
    expect(await names({ resolvedGpuType: ['H100', 'A100'] })).toEqual(['chat-eu', 'summarise', 'batch']);
    expect(await names({ region: 'eu-west' })).toEqual(['chat-eu', 'batch']);
    expect(await names({ minCurrentReplicas: 1, maxCurrentReplicas: 1 })).toEqual(['chat-eu', 'chat-west']);
    expect(await names({ createdAfter: day(2).toISOString(), createdBefore: day(4).toISOString() })).toEqual(['batch', 'chat-west']);
  });

  it("matches a name search's % and _ as themselves, and a model key as data", async () => {
    expect(await names({ name: 'c%t' })).toEqual([]);
    expect(await names({ name: 'ch_t' })).toEqual([]);
    expect(await names({ model: "llama-8b' OR '1'='1" })).toEqual([]);
  });

  it('composes conditions with and, or and not, and counts what matches', async () => {
    const either = await list({ or: [{ status: ['FAILED'] }, { name: 'batch' }], not: { model: 'llama-8b' } });
    expect(either.edges.map((edge) => edge.node.name)).toEqual(['chat-eu', 'batch']);
    expect(either.totalCount).toBe(2);
    const both = await list({ and: [{ modelIn: ['llama-8b', 'llama-70b'] }, { not: { status: ['ACTIVE'] } }] });
    expect(both.edges.map((edge) => edge.node.name)).toEqual(['chat-eu', 'chat-west']);
    expect(both.totalCount).toBe(2);
    expect((await list({})).totalCount).toBe(6);
  });

  it('pages an order by a repeated value without repeating or skipping a deployment', async () => {
    for (const direction of ['ASC', 'DESC'] as const) {
      const rows = await everyPage(async (after) => {
        const result = await reader.request(ListDeploymentsDocument, { first: 2, after, orderBy: [{ field: 'CURRENT_REPLICAS', direction }] });
        if (result.errors) throw new Error(JSON.stringify(result.errors));
        return result.data!.deployments;
      });
      expect(new Set(rows.map((row) => row.id)).size).toBe(6);
      expect(rows.map((row) => row.currentReplicas)).toEqual(direction === 'ASC' ? [0, 1, 1, 2, 2, 2] : [2, 2, 2, 1, 1, 0]);
    }
    const byName = await reader.request(ListDeploymentsDocument, { first: 3, orderBy: [{ field: 'NAME', direction: 'ASC' }] });
    expect(byName.data!.deployments.edges.map((edge) => edge.node.name)).toEqual(['batch', 'chat-east', 'chat-eu']);
  });

  it('counts deployments by status and by model, within the filter', async () => {
    const byStatus = (await reader.request(DeploymentCountsDocument, { by: 'STATUS' })).data!.deploymentCounts;
    expect(byStatus).toEqual([
      { key: 'active', count: 3 },
      { key: 'degraded', count: 1 },
      { key: 'failed', count: 1 },
      { key: 'pending', count: 1 },
    ]);
    const byModel = (await reader.request(DeploymentCountsDocument, { by: 'MODEL', filter: { not: { status: ['PENDING'] } } })).data!.deploymentCounts;
    expect(byModel).toEqual(
      expect.arrayContaining([
        { key: globalId('Model', models['llama-8b']!), count: 2 },
        { key: globalId('Model', models['llama-70b']!), count: 2 },
        { key: globalId('Model', models['mistral-7b']!), count: 1 },
      ]),
    );
    expect(byModel).toHaveLength(3);
  });

  it('refuses bad arguments with a typed error naming the argument, never an internal error', async () => {
    for (const model of ['llama\u00008b', 'x'.repeat(server.config.edge.maxStringLength + 1)]) {
      const result = await reader.request(ListDeploymentsDocument, { first: 5, filter: { model } });
      expect(refusalOf(result)).toEqual({ code: 'BAD_USER_INPUT', paths: ['deployments.filter.model'] });
    }
    const literal = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...reader.headers },
      body: JSON.stringify({ query: '{ deployments(filter: { model: "llama\\u00008b" }) { totalCount } }' }),
    });
    expect(refusalOf((await literal.json()) as ExecutionResult).code).toBe('BAD_USER_INPUT');
    const wrongType = await reader.request(ListDeploymentsDocument, { filter: { modelIdIn: [globalId('ClusterNode', models['llama-8b']!)] } });
    expect(refusalOf(wrongType)).toEqual({ code: 'BAD_USER_INPUT', paths: ['deployments.filter.modelIdIn.0'] });
    const backwards = await reader.request(ListDeploymentsDocument, { filter: { createdAfter: day(4).toISOString(), createdBefore: day(2).toISOString() } });
    expect(refusalOf(backwards)).toEqual({ code: 'BAD_USER_INPUT', paths: ['filter.createdBefore'] });
    let deep: DeploymentFilter = { status: ['ACTIVE'] };
    for (let level = 0; level < 6; level++) deep = { not: deep };
    expect(refusalOf(await reader.request(ListDeploymentsDocument, { filter: deep })).code).toBe('BAD_USER_INPUT');
    expect(refusalOf(await reader.request(ListDeploymentsDocument, { first: 2, after: 'junk' })).code).toBe('BAD_USER_INPUT');
    const unknownStatus = await reader.request(DeploymentCountsDocument, { by: 'STATUS', filter: { status: ['SLEEPING' as never] } });
    expect(unknownStatus.errors?.[0]?.message).toMatch(/SLEEPING.*DeploymentStatus/);
    expect(unknownStatus.data ?? undefined).toBeUndefined();
  });

  it("keeps other tenants' deployments out of the list, its total and its counts", async () => {
    const stranger = await server.signIn({ role: 'admin' });
    expect((await stranger.request(ListDeploymentsDocument, { first: 5 })).data!.deployments.totalCount).toBe(0);
    expect((await stranger.request(DeploymentCountsDocument, { by: 'MODEL' })).data!.deploymentCounts).toEqual([]);
  });
});
