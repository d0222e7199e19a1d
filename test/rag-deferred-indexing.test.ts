import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../src/config.js';
import type { EmbeddingIndexSettings } from '../src/modules/ai/embedding-index.settings.js';
import { DocumentsDocument, IngestDocumentDocument, SearchDocumentsDocument, type DocumentChunkInput } from './generated/graphql.js';
import { rawId } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { eventually } from './helpers/realtime.js';
import { servicesOf, startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const DIMENSIONS = 1536;
// Far off: each test runs the indexing itself, or starts a server whose job runs it.
const JOB_AWAY_MS = 3_600_000;

let seed = 23;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
const dense = (): number[] => Array.from({ length: DIMENSIONS }, random);
const chunksOf = (name: string, count: number): DocumentChunkInput[] => Array.from({ length: count }, (_, i) => ({ content: `${name} ${i}`, embedding: dense() }));

function cosine(a: number[], b: number[]): number {
  const dot = a.reduce((sum, x, i) => sum + x * b[i]!, 0);
  const norm = (v: number[]) => Math.sqrt(v.reduce((sum, x) => sum + x * x, 0));
  return dot / (norm(a) * norm(b));
}
/** The answer by definition: the k highest cosine similarities. */
const exact = (query: number[], among: DocumentChunkInput[], k: number) =>
  among
    .map((chunk) => ({ content: chunk.content, score: cosine(query, chunk.embedding) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);

function indexSettings(overrides: Partial<EmbeddingIndexSettings>): Pick<Config, 'database'> {
  const { database } = loadConfig({});
  return { database: { ...database, embeddingIndex: { ...database.embeddingIndex, ...overrides } } };
}

async function ingest(as: SignedInUser, title: string, chunks: DocumentChunkInput[]): Promise<string> {
  const result = (await as.request(IngestDocumentDocument, { input: { title, content: title, chunks } })).data!.ingestDocument;
  if (result.__typename !== 'IngestDocumentSuccess') throw new Error(`unexpected ${result.__typename}`);
  return result.document.id;
}

async function search(as: SignedInUser, variables: { embedding: number[]; k: number; filter?: Record<string, unknown> }) {
  const result = (await as.request(SearchDocumentsDocument, variables)).data!.searchDocuments;
  if (result.__typename !== 'SearchDocumentsSuccess') throw new Error(`unexpected ${result.__typename}`);
  return result.hits.map((hit) => ({ content: hit.chunk.content, score: hit.score }));
}

function expectSame(actual: { content: string; score: number }[], expected: { content: string; score: number }[]): void {
  expect(actual.map((hit) => hit.content)).toEqual(expected.map((hit) => hit.content));
  actual.forEach((hit, i) => expect(hit.score).toBeCloseTo(expected[i]!.score, 5));
}

/** A tenant's chunks by whether they are in the HNSW index yet. */
async function chunkStates(server: TestServer, tenantId: string): Promise<{ indexed: number; waiting: number }> {
  const [row] = await server.db.system.$queryRaw<{ indexed: number; waiting: number }[]>`
    SELECT count(*) FILTER (WHERE embedding_indexed)::int AS indexed, count(*) FILTER (WHERE NOT embedding_indexed)::int AS waiting
    FROM document_chunks WHERE tenant_id = ${tenantId}::uuid`;
  return row!;
}

describe.each(kinds)('chunks outside the HNSW index, searched over HTTP on %s', (kind) => {
  let server: TestServer;
  let writer: SignedInUser;
  let stranger: SignedInUser;
  const first = chunksOf('first', 40);
  const queries = Array.from({ length: 3 }, dense);

  beforeAll(async () => {
    server = await startTestServer(kind, indexSettings({ intervalMs: JOB_AWAY_MS }));
    writer = await server.signIn({ role: 'user' });
    stranger = await server.signIn({ role: 'user' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('finds chunks at the very next search after their ingest, before any indexing, as the exact answer has them', async () => {
    await ingest(writer, 'First', first);
    // The embedded database defers the HNSW insert; PostgreSQL without pgvector has no index to wait for.
    expect(await chunkStates(server, writer.tenantId)).toEqual(kind === 'pglite' ? { indexed: 0, waiting: 40 } : { indexed: 40, waiting: 0 });
    for (const query of queries) expectSame(await search(writer, { embedding: query, k: 10 }), exact(query, first, 10));
    const itself = await search(writer, { embedding: first[7]!.embedding, k: 1 });
    expect(itself[0]!.content).toBe('first 7');
    expect(itself[0]!.score).toBeCloseTo(1, 5);
  });

  it("keeps each tenant's chunks to itself, in the index or not", async () => {
    // The same embeddings under another tenant: only the tenant's own come back, to each.
    const copies = first.slice(0, 10).map((chunk, i) => ({ content: `copy ${i}`, embedding: chunk.embedding }));
    const copyId = await ingest(stranger, 'Copy', copies);
    const query = first[3]!.embedding;
    expectSame(await search(stranger, { embedding: query, k: 5 }), exact(query, copies, 5));
    expectSame(await search(writer, { embedding: query, k: 5 }), exact(query, first, 5));
    expect(await search(writer, { embedding: query, k: 5, filter: { documentIds: [copyId] } })).toEqual([]);
    expect((await writer.request(DocumentsDocument, { first: 10 })).data?.documents.edges.map((edge) => edge.node.title)).toEqual(['First']);

    if (kind === 'pglite') {
      // The job works tenant by tenant through the tenant's own connection; both tenants' chunks move.
      expect(await servicesOf(server).embeddingIndex.indexAll()).toBe(50);
      expect(await chunkStates(server, stranger.tenantId)).toEqual({ indexed: 10, waiting: 0 });
      expectSame(await search(stranger, { embedding: query, k: 5 }), exact(query, copies, 5));
      expectSame(await search(writer, { embedding: query, k: 5 }), exact(query, first, 5));
    }
  });

  it.runIf(kind === 'pglite')('answers as the exact scan does once indexed, and with indexed and waiting chunks together', async () => {
    await servicesOf(server).embeddingIndex.indexAll();
    expect(await chunkStates(server, writer.tenantId)).toEqual({ indexed: 40, waiting: 0 });
    for (const query of queries) expectSame(await search(writer, { embedding: query, k: 10 }), exact(query, first, 10));

    // New chunks wait outside the index beside the indexed ones; one answer ranks both.
    const second = chunksOf('second', 20);
    await ingest(writer, 'Second', second);
    expect(await chunkStates(server, writer.tenantId)).toEqual({ indexed: 40, waiting: 20 });
    for (const query of [...queries, second[4]!.embedding]) expectSame(await search(writer, { embedding: query, k: 10 }), exact(query, [...first, ...second], 10));
  });

  it.runIf(kind === 'pglite')('gives back the memory of the chunks it scanned once they are indexed', async () => {
    const heldBytes = async () => Number(/^omega_vector_scan_memory_bytes (\S+)$/m.exec(await (await server.get('/metrics')).text())?.[1]);
    await search(writer, { embedding: queries[1]!, k: 3 });
    expect(await heldBytes()).toBeGreaterThanOrEqual(20 * DIMENSIONS * 4);
    await servicesOf(server).embeddingIndex.indexAll();
    await search(writer, { embedding: queries[1]!, k: 3 });
    expect(await heldBytes()).toBeLessThan(20 * DIMENSIONS * 4);
  });
});

describe('how chunks reach the HNSW index on the embedded database', () => {
  const servers: TestServer[] = [];
  const started = async (settings: Partial<EmbeddingIndexSettings>) => {
    const server = await startTestServer('pglite', indexSettings(settings));
    servers.push(server);
    return { server, writer: await server.signIn({ role: 'user' }) };
  };
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });

  it("are indexed by the server's own job once ingest is quiet", async () => {
    const { server, writer } = await started({ intervalMs: 50 });
    const chunks = chunksOf('quiet', 30);
    await ingest(writer, 'Quiet', chunks);
    await eventually(async () => ((await chunkStates(server, writer.tenantId)).waiting === 0 ? true : undefined), 'the job to index the chunks');
    expect(await chunkStates(server, writer.tenantId)).toEqual({ indexed: 30, waiting: 0 });
    const query = chunks[11]!.embedding;
    expectSame(await search(writer, { embedding: query, k: 10 }), exact(query, chunks, 10));
  });

  it('are indexed by the ingest itself past the backlog bound', async () => {
    // A bound of 0: whatever an ingest leaves outside the index, it indexes before returning.
    const { server, writer } = await started({ intervalMs: JOB_AWAY_MS, backlogBytes: 0 });
    const chunks = chunksOf('bounded', 12);
    await ingest(writer, 'Bounded', chunks);
    expect(await chunkStates(server, writer.tenantId)).toEqual({ indexed: 12, waiting: 0 });
    expectSame(await search(writer, { embedding: chunks[0]!.embedding, k: 5 }), exact(chunks[0]!.embedding, chunks, 5));
  });

  it('go into the index at ingest where indexing is not deferred', async () => {
    const { server, writer } = await started({ intervalMs: JOB_AWAY_MS, deferred: false });
    const chunks = chunksOf('immediate', 12);
    const documentId = await ingest(writer, 'Immediate', chunks);
    expect(await chunkStates(server, writer.tenantId)).toEqual({ indexed: 12, waiting: 0 });
    expectSame(await search(writer, { embedding: chunks[5]!.embedding, k: 5, filter: { documentIds: [documentId] } }), exact(chunks[5]!.embedding, chunks, 5));
    expect(await server.db.system.documentChunk.count({ where: { documentId: rawId(documentId) } })).toBe(12);
  });
});
