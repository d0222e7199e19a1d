import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ListChatSessionsDocument,
  ListDocumentCollectionsDocument,
  ListDocumentsDocument,
  ListModelsDocument,
  ListToolSessionsDocument,
  type ChatSessionFilter,
  type DocumentCollectionFilter,
  type DocumentFilter,
  type ModelFilter,
  type ToolSessionFilter,
} from './generated/graphql.js';
import { globalId } from './helpers/builders.js';
import { everyPage, refusalOf } from './helpers/list-paging.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const day = (n: number) => new Date(Date.UTC(2026, 0, n));

/** The rows of a read that must succeed. */
function rowsOf<T>(result: { data?: T | null; errors?: readonly unknown[] }): T {
  if (result.errors?.length) throw new Error(JSON.stringify(result.errors));
  return result.data!;
}

describe.each(kinds)('AI and tool lists for dashboards, on %s', (kind) => {
  let server: TestServer;
  let admin: SignedInUser;
  let colleague: SignedInUser;
  const collections: Record<string, string> = {};

  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false });
    admin = await server.signIn({ role: 'admin' });
    colleague = await server.signIn({ role: 'user', tenantId: admin.tenantId });
    const system = server.db.system;
    const tenantId = admin.tenantId;

    const models: [string, string, string, string, number, number | null, object, boolean][] = [
      ['llama3-8b', 'Llama 3 8B', 'meta', 'llama', 8192, 16, { license: 'open', tags: ['chat'] }, true],
      ['llama3-70b', 'Llama 3 70B', 'meta', 'llama', 8192, 140, { license: 'open', tags: ['chat', 'large'] }, true],
      ['mistral-7b', 'Mistral 7B', 'mistral', 'mistral', 32768, 14, { license: 'apache' }, true],
      ['phi-3_mini', 'Phi 3 mini', 'microsoft', 'phi', 4096, null, {}, true],
      ['gemma-2b', 'Gemma 2B', 'google', 'gemma', 8192, 4, {}, false],
    ];
    for (const [modelId, name, provider, family, contextLength, gpuMemoryRequiredGb, metadata, isActive] of models) {
      await system.model.create({ data: { modelId, name, provider, family, contextLength, gpuMemoryRequiredGb, metadata, isActive } });
    }

    for (const [name, embeddingDimensions, embeddingModel, created] of [
      ['handbook', 1536, null, 1],
      ['wiki_large', 3072, 'text-3-large', 2],
      ['wikismall', 384, null, 3],
    ] as const) {
      collections[name] = (await system.documentCollection.create({ data: { tenantId, name, embeddingDimensions, embeddingModel, createdAt: day(created) } })).id;
    }
    const documents: [string | null, string | null, string | null, object, number][] = [
      ['GPU guide', 'wiki', null, { lang: 'en' }, 1],
      ['CPU guide', 'wiki', 'wikismall', { lang: 'de' }, 2],
      ['Onboarding', 'handbook', 'wiki_large', { lang: 'en', team: 'ops' }, 3],
      ['100% uptime', 'blog', null, {}, 4],
      [null, null, 'wikismall', {}, 5],
    ];
    for (const [title, source, collection, metadata, created] of documents) {
      await system.document.create({
        data: { tenantId, title, source, content: 'text', metadata, collectionId: collection ? collections[collection] : null, createdAt: day(created) },
      });
    }

    const chats: [string | null, string, string | null, number, number][] = [
      ['Billing question', 'active', admin.userId, 1, 5],
      ['GPU quota', 'closed', colleague.userId, 2, 4],
      ['Refund 50%', 'active', admin.userId, 3, 3],
      [null, 'closed', null, 4, 2],
    ];
    for (const [title, status, userId, created, active] of chats) {
      await system.chatSession.create({ data: { tenantId, title, status, userId, createdAt: day(created), lastActive: day(active) } });
    }

    const tools: [string, string, number, number | null, number][] = [
      ['claude-code', '1.0', 1, 2, 500],
      ['claude-code', '1.1', 2, null, 500],
      ['cursor', '0.9', 3, 3, 100],
      ['codex_cli', '2.0', 4, null, 900],
    ];
    for (const [toolId, toolVersion, started, ended, tokensSaved] of tools) {
      await system.toolSession.create({
        data: { tenantId, toolId, toolVersion, startedAt: day(started), lastActivity: day(ended ?? 9), endedAt: ended ? day(ended) : null, tokensSaved },
      });
    }
  });
  afterAll(async () => {
    await server?.close();
  });

  describe('models', () => {
    const list = async (filter: ModelFilter) => rowsOf(await admin.request(ListModelsDocument, { first: 50, filter })).models;
    const ids = async (filter: ModelFilter) => (await list(filter)).edges.map((edge) => edge.node.modelId);

    it('filters the catalog by provider, family, ranges, metadata and escaped text, by model id by default', async () => {
      expect(await ids({})).toEqual(['gemma-2b', 'llama3-70b', 'llama3-8b', 'mistral-7b', 'phi-3_mini']);
      expect(await ids({ providerIn: ['meta', 'google'] })).toEqual(['gemma-2b', 'llama3-70b', 'llama3-8b']);
      expect(await ids({ familyIn: ['phi'] })).toEqual(['phi-3_mini']);
      expect(await ids({ minContextLength: 8192, maxContextLength: 8192 })).toEqual(['gemma-2b', 'llama3-70b', 'llama3-8b']);
      expect(await ids({ minGpuMemoryRequiredGb: 15 })).toEqual(['llama3-70b', 'llama3-8b']);
      expect(await ids({ maxGpuMemoryRequiredGb: 15 })).toEqual(['gemma-2b', 'mistral-7b']);
      expect(await ids({ metadata: { license: 'open' } })).toEqual(['llama3-70b', 'llama3-8b']);
      expect(await ids({ metadata: { tags: ['large'] } })).toEqual(['llama3-70b']);
      expect(await ids({ search: '_' })).toEqual(['phi-3_mini']);
      expect(await ids({ search: '%' })).toEqual([]);
      expect(await ids({ isActive: false })).toEqual(['gemma-2b']);
    });

    it('composes conditions, counts them and pages an order by a repeated value', async () => {
      const either = await list({ or: [{ familyIn: ['phi'] }, { minContextLength: 30_000 }], not: { isActive: false } });
      expect(either.edges.map((edge) => edge.node.modelId)).toEqual(['mistral-7b', 'phi-3_mini']);
      expect(either.totalCount).toBe(2);
      const rows = await everyPage(async (after) => rowsOf(await admin.request(ListModelsDocument, { first: 2, after, orderBy: [{ field: 'CONTEXT_LENGTH', direction: 'ASC' }] })).models);
      expect(rows.map((row) => row.contextLength)).toEqual([4096, 8192, 8192, 8192, 32768]);
      expect(new Set(rows.map((row) => row.id)).size).toBe(5);
    });

    it('refuses a backwards range and non-object metadata with a typed error naming the argument', async () => {
      expect(refusalOf(await admin.request(ListModelsDocument, { filter: { minContextLength: 9000, maxContextLength: 100 } }))).toEqual({
        code: 'BAD_USER_INPUT',
        paths: ['filter.maxContextLength'],
      });
      expect(refusalOf(await admin.request(ListModelsDocument, { filter: { metadata: ['open'] } }))).toEqual({ code: 'BAD_USER_INPUT', paths: ['filter.metadata'] });
    });
  });

  describe('documents and collections', () => {
    const list = async (filter: DocumentFilter) => rowsOf(await admin.request(ListDocumentsDocument, { first: 50, filter })).documents;
    const titles = async (filter: DocumentFilter) => (await list(filter)).edges.map((edge) => edge.node.title);
    const collectionId = (name: string) => globalId('DocumentCollection', collections[name]!);

    it('filters documents by source, collection, metadata, time and escaped title text, newest first by default', async () => {
      expect(await titles({})).toEqual([null, '100% uptime', 'Onboarding', 'CPU guide', 'GPU guide']);
      expect(await titles({ source: 'wiki' })).toEqual(['CPU guide', 'GPU guide']);
      expect(await titles({ sourceIn: ['wiki', 'blog'] })).toEqual(['100% uptime', 'CPU guide', 'GPU guide']);
      expect(await titles({ collectionId: collectionId('wikismall') })).toEqual([null, 'CPU guide']);
      expect(await titles({ collectionIdIn: [collectionId('wikismall'), collectionId('wiki_large')] })).toEqual([null, 'Onboarding', 'CPU guide']);
      expect(await titles({ inDefaultCollection: true })).toEqual(['100% uptime', 'GPU guide']);
      expect(await titles({ metadata: { lang: 'en' } })).toEqual(['Onboarding', 'GPU guide']);
      expect(await titles({ search: '%' })).toEqual(['100% uptime']);
      expect(await titles({ createdAfter: day(2).toISOString(), createdBefore: day(4).toISOString() })).toEqual(['Onboarding', 'CPU guide']);
    });

    it('composes document conditions, counts them, pages an order with missing titles last and refuses the id of another type', async () => {
      const either = await list({ or: [{ source: 'handbook' }, { search: 'guide' }], not: { metadata: { lang: 'de' } } });
      expect(either.edges.map((edge) => edge.node.title)).toEqual(['Onboarding', 'GPU guide']);
      expect(either.totalCount).toBe(2);
      const byTitle = await everyPage(async (after) => rowsOf(await admin.request(ListDocumentsDocument, { first: 2, after, orderBy: [{ field: 'TITLE', direction: 'ASC' }] })).documents);
      expect(byTitle.map((row) => row.title)).toEqual(['100% uptime', 'CPU guide', 'GPU guide', 'Onboarding', null]);
      const wrongType = await admin.request(ListDocumentsDocument, { filter: { collectionId: globalId('Model', collections.handbook!) } });
      expect(refusalOf(wrongType)).toEqual({ code: 'BAD_USER_INPUT', paths: ['documents.filter.collectionId'] });
    });

    it('filters, orders and counts collections', async () => {
      const names = async (filter: DocumentCollectionFilter) =>
        rowsOf(await admin.request(ListDocumentCollectionsDocument, { first: 50, filter })).documentCollections.edges.map((edge) => edge.node.name);
      expect(await names({})).toEqual(['handbook', 'wiki_large', 'wikismall']);
      expect(await names({ embeddingDimensions: 3072 })).toEqual(['wiki_large']);
      expect(await names({ embeddingDimensionsIn: [384, 3072] })).toEqual(['wiki_large', 'wikismall']);
      expect(await names({ name: '_' })).toEqual(['wiki_large']);
      expect(await names({ embeddingModel: 'text-3-large' })).toEqual(['wiki_large']);
      expect(await names({ or: [{ name: 'hand' }, { createdAfter: day(3).toISOString() }] })).toEqual(['handbook', 'wikismall']);
      const byDimension = rowsOf(await admin.request(ListDocumentCollectionsDocument, { first: 2, orderBy: [{ field: 'EMBEDDING_DIMENSIONS' }] })).documentCollections;
      expect(byDimension.edges.map((edge) => edge.node.embeddingDimensions)).toEqual([3072, 1536]);
      expect(byDimension.totalCount).toBe(3);
    });
  });

  describe('chat sessions', () => {
    const list = async (filter: ChatSessionFilter) => rowsOf(await admin.request(ListChatSessionsDocument, { first: 50, filter })).chatSessions;
    const titles = async (filter: ChatSessionFilter) => (await list(filter)).edges.map((edge) => edge.node.title);

    it('filters by status, user, escaped title text and activity, most recently active first by default', async () => {
      expect(await titles({})).toEqual(['Billing question', 'GPU quota', 'Refund 50%', null]);
      expect(await titles({ status: 'CLOSED' })).toEqual(['GPU quota', null]);
      expect(await titles({ statusIn: ['ACTIVE'] })).toEqual(['Billing question', 'Refund 50%']);
      expect(await titles({ userId: globalId('User', admin.userId) })).toEqual(['Billing question', 'Refund 50%']);
      expect(await titles({ userIdIn: [globalId('User', colleague.userId)] })).toEqual(['GPU quota']);
      expect(await titles({ title: '50%' })).toEqual(['Refund 50%']);
      expect(await titles({ title: '%' })).toEqual(['Refund 50%']);
      expect(await titles({ activeAfter: day(3).toISOString(), activeBefore: day(5).toISOString() })).toEqual(['GPU quota', 'Refund 50%']);
    });

    it('composes conditions, counts them and pages an order by a repeated value', async () => {
      const either = await list({ or: [{ userId: globalId('User', colleague.userId) }, { title: 'refund' }], not: { status: 'CLOSED' } });
      expect(either.edges.map((edge) => edge.node.title)).toEqual(['Refund 50%']);
      expect(either.totalCount).toBe(1);
      const rows = await everyPage(async (after) => rowsOf(await admin.request(ListChatSessionsDocument, { first: 1, after, orderBy: [{ field: 'STATUS', direction: 'ASC' }] })).chatSessions);
      expect(new Set(rows.map((row) => row.id)).size).toBe(4);
      expect(rows.slice(0, 2).map((row) => row.title).sort()).toEqual(['Billing question', 'Refund 50%']);
    });

    it('refuses a malformed user id and a backwards range with a typed error naming the argument', async () => {
      const malformed = await admin.request(ListChatSessionsDocument, { filter: { userId: globalId('User', 'not-a-uuid') } });
      expect(refusalOf(malformed)).toEqual({ code: 'BAD_USER_INPUT', paths: ['chatSessions.filter.userId'] });
      const backwards = await admin.request(ListChatSessionsDocument, { filter: { activeAfter: day(5).toISOString(), activeBefore: day(3).toISOString() } });
      expect(refusalOf(backwards)).toEqual({ code: 'BAD_USER_INPUT', paths: ['filter.activeBefore'] });
    });
  });

  describe('tool sessions', () => {
    const list = async (filter: ToolSessionFilter) => rowsOf(await admin.request(ListToolSessionsDocument, { first: 50, filter })).toolSessions;
    const tools = async (filter: ToolSessionFilter) => (await list(filter)).edges.map((edge) => `${edge.node.toolId} ${edge.node.tokensSaved}`);

    it('filters by tool, activity, savings, time and escaped text, newest first by default', async () => {
      expect(await tools({})).toEqual(['codex_cli 900', 'cursor 100', 'claude-code 500', 'claude-code 500']);
      expect(await tools({ toolId: 'cursor' })).toEqual(['cursor 100']);
      expect(await tools({ toolIdIn: ['cursor', 'codex_cli'] })).toEqual(['codex_cli 900', 'cursor 100']);
      expect(await tools({ active: true })).toEqual(['codex_cli 900', 'claude-code 500']);
      expect(await tools({ minTokensSaved: 500 })).toEqual(['codex_cli 900', 'claude-code 500', 'claude-code 500']);
      expect(await tools({ maxTokensSaved: 499 })).toEqual(['cursor 100']);
      expect(await tools({ search: '_' })).toEqual(['codex_cli 900']);
      expect(await tools({ startedAfter: day(2).toISOString(), startedBefore: day(4).toISOString() })).toEqual(['cursor 100', 'claude-code 500']);
    });

    it('composes conditions, counts them and pages an order by a repeated value', async () => {
      const either = await list({ or: [{ toolId: 'cursor' }, { minTokensSaved: 900 }], not: { active: false } });
      expect(either.edges.map((edge) => edge.node.toolId)).toEqual(['codex_cli']);
      expect(either.totalCount).toBe(1);
      const rows = await everyPage(async (after) => rowsOf(await admin.request(ListToolSessionsDocument, { first: 1, after, orderBy: [{ field: 'TOKENS_SAVED', direction: 'ASC' }] })).toolSessions);
      expect(rows.map((row) => row.tokensSaved)).toEqual([100, 500, 500, 900]);
      expect(new Set(rows.map((row) => row.id)).size).toBe(4);
      const backwards = await admin.request(ListToolSessionsDocument, { filter: { minTokensSaved: 900, maxTokensSaved: 100 } });
      expect(refusalOf(backwards)).toEqual({ code: 'BAD_USER_INPUT', paths: ['filter.maxTokensSaved'] });
    });
  });

  it("keeps other tenants' rows out of lists and totals, while the catalog is everyone's", async () => {
    const stranger = await server.signIn({ role: 'admin' });
    expect(rowsOf(await stranger.request(ListDocumentsDocument, { first: 5 })).documents.totalCount).toBe(0);
    expect(rowsOf(await stranger.request(ListDocumentCollectionsDocument, { first: 5 })).documentCollections.totalCount).toBe(0);
    expect(rowsOf(await stranger.request(ListChatSessionsDocument, { first: 5 })).chatSessions.totalCount).toBe(0);
    expect(rowsOf(await stranger.request(ListToolSessionsDocument, { first: 5 })).toolSessions.totalCount).toBe(0);
    expect(rowsOf(await stranger.request(ListModelsDocument, { first: 5 })).models.totalCount).toBe(5);
  });
});
