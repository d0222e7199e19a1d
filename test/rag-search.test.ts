import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '../src/generated/prisma/client.js';
import { createLogger } from '../src/infra/logger.js';
import { embeddedTableMaintenance } from '../src/infra/table-maintenance.js';
import { embeddingIndexName, hnswNearestChunksSql } from '../src/modules/ai/vector-store.js';
import {
  CreateDocumentCollectionDocument,
  DeleteDocumentDocument,
  DocumentCollectionsDocument,
  DocumentsDocument,
  IngestDocumentDocument,
  SearchDocumentsDocument,
  type IngestDocumentInput,
} from './generated/graphql.js';
import { rawId } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { servicesOf, startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const DIMENSIONS = 1536;

/** A sparse embedding: weights on a few axes, zero elsewhere. */
function embedding(weights: Record<number, number>, dimensions = DIMENSIONS): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  for (const [axis, weight] of Object.entries(weights)) vector[Number(axis)] = weight;
  return vector;
}
function cosine(a: number[], b: number[]): number {
  const dot = a.reduce((sum, x, i) => sum + x * b[i]!, 0);
  const norm = (v: number[]) => Math.sqrt(v.reduce((sum, x) => sum + x * x, 0));
  return dot / (norm(a) * norm(b));
}

const GPU_GUIDE = [
  { content: 'H100 nodes have 80 GB each', embedding: embedding({ 0: 1 }) },
  { content: 'MIG splits a GPU', embedding: embedding({ 0: 1, 1: 0.5 }) },
  { content: 'NVLink joins GPUs', embedding: embedding({ 1: 1 }) },
];
const BILLING = [
  { content: 'Invoices are monthly', embedding: embedding({ 2: 1 }) },
  { content: 'GPU hours are billed per second', embedding: embedding({ 0: 1, 2: 1 }) },
];
const QUERY = embedding({ 0: 1, 1: 0.1 });

/** Each database kind's answer to the same search, compared once both ran. */
const answers = new Map<DatabaseKind, { content: string; score: number }[]>();

describe.each(kinds)('RAG documents and vector search over HTTP on %s', (kind) => {
  let server: TestServer;
  let writer: SignedInUser;
  let guideId: string;

  const ingest = async (input: IngestDocumentInput, as: SignedInUser = writer) => (await as.request(IngestDocumentDocument, { input })).data!.ingestDocument;
  const search = async (variables: { embedding: number[]; k?: number; filter?: Record<string, unknown>; collectionId?: string }, as: SignedInUser = writer) => {
    const result = (await as.request(SearchDocumentsDocument, variables)).data!.searchDocuments;
    if (result.__typename !== 'SearchDocumentsSuccess') throw new Error(`unexpected ${result.__typename}`);
    return result.hits;
  };

  beforeAll(async () => {
    // The scheduled maintenance pass stays out of the way; the test below runs one itself.
    server = await startTestServer(kind, { tableMaintenanceIntervalMs: 3_600_000 });
    writer = await server.signIn({ role: 'user' });
    const guide = await ingest({ title: 'GPU guide', source: 'wiki', content: 'All about GPUs', chunks: GPU_GUIDE });
    if (guide.__typename !== 'IngestDocumentSuccess') throw new Error(JSON.stringify(guide));
    expect(guide.document).toMatchObject({ title: 'GPU guide', source: 'wiki', chunkCount: 3 });
    guideId = guide.document.id;
    const billing = await ingest({ title: 'Billing', source: 'handbook', content: 'How billing works', chunks: BILLING });
    expect(billing.__typename).toBe('IngestDocumentSuccess');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('stores embeddings in the store this database has', async () => {
    const [column] = await server.db.system.$queryRaw<{ type: string }[]>`
      SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = 'public.document_chunks'::regclass AND attname = 'embedding'`;
    expect(column?.type).toBe(kind === 'pglite' ? 'vector' : 'real[]');
  });

  it('returns the k nearest chunks by cosine distance, with their documents and scores', async () => {
    const hits = await search({ embedding: QUERY, k: 3 });
    expect(hits.map((hit) => [hit.document.title, hit.chunk.content])).toEqual([
      ['GPU guide', 'H100 nodes have 80 GB each'],
      ['GPU guide', 'MIG splits a GPU'],
      ['Billing', 'GPU hours are billed per second'],
    ]);
    const expected = [GPU_GUIDE[0]!, GPU_GUIDE[1]!, BILLING[1]!].map((chunk) => cosine(QUERY, chunk.embedding));
    hits.forEach((hit, i) => {
      expect(hit.score).toBeCloseTo(expected[i]!, 5);
      expect(hit.distance).toBeCloseTo(1 - expected[i]!, 5);
    });
    answers.set(kind, hits.map((hit) => ({ content: hit.chunk.content, score: hit.score })));
  });

  it('filters by document and by source, treating the filter as data', async () => {
    const inGuide = await search({ embedding: QUERY, k: 5, filter: { documentIds: [guideId] } });
    expect(inGuide.map((hit) => hit.chunk.chunkIndex)).toEqual([0, 1, 2]);
    const inHandbook = await search({ embedding: QUERY, k: 5, filter: { source: 'handbook' } });
    expect(inHandbook.map((hit) => hit.chunk.content)).toEqual(['GPU hours are billed per second', 'Invoices are monthly']);
    expect(await search({ embedding: QUERY, k: 5, filter: { source: "wiki' OR '1'='1" } })).toEqual([]);
  });

  it('refuses embeddings of the wrong dimension with a typed error', async () => {
    const wrong = await ingest({
      title: 'Other model',
      content: 'x',
      chunks: [{ content: 'fine', embedding: embedding({ 0: 1 }) }, { content: 'short', embedding: embedding({ 0: 1 }, 768) }],
    });
    expect(wrong).toEqual({ __typename: 'DimensionMismatchError', message: 'chunks.1.embedding: expected 1536 dimensions, got 768', path: 'chunks.1.embedding', expected: 1536, actual: 768 });
    expect((await server.db.system.document.count({ where: { title: 'Other model' } }))).toBe(0);

    const query = (await writer.request(SearchDocumentsDocument, { embedding: [1, 0, 0] })).data!.searchDocuments;
    expect(query).toEqual({ __typename: 'DimensionMismatchError', path: 'embedding', expected: 1536, actual: 3 });
    const zero = (await writer.request(SearchDocumentsDocument, { embedding: embedding({}) })).data!.searchDocuments;
    expect(zero).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'embedding' }] });
    // Beyond float4, where embeddings are stored: refused by name, not failed in the database.
    const huge = await ingest({ title: 'Huge', content: 'x', chunks: [{ content: 'overflows', embedding: embedding({ 0: 1, 7: 1e39 }) }] });
    expect(huge).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'chunks.0.embedding.7' }] });
    expect((await server.db.system.document.count({ where: { title: 'Huge' } }))).toBe(0);
    const tooMany = (await writer.request(SearchDocumentsDocument, { embedding: QUERY, k: 101 })).data!.searchDocuments;
    expect(tooMany).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'k' }] });
  });

  it('keeps other tenants out of documents and search results', async () => {
    const stranger = await server.signIn({ role: 'user' });
    expect(await search({ embedding: QUERY, k: 5 }, stranger)).toEqual([]);
    expect(await search({ embedding: QUERY, k: 5, filter: { documentIds: [guideId] } }, stranger)).toEqual([]);
    expect((await stranger.request(DocumentsDocument, { first: 10 })).data?.documents.edges).toEqual([]);
    expect((await stranger.request(DeleteDocumentDocument, { id: guideId })).data?.deleteDocument.__typename).toBe('NotFoundError');
    const listed = await writer.request(DocumentsDocument, { first: 10, filter: { source: 'wiki' } });
    expect(listed.data?.documents.edges.map((e) => [e.node.title, e.node.chunkCount, e.node.chunks.edges.map((c) => c.node.chunkIndex)])).toEqual([['GPU guide', 3, [0, 1, 2]]]);
    expect((await writer.request(DocumentsDocument, { first: 10, filter: { source: "wiki' OR '1'='1" } })).data?.documents.edges).toEqual([]);
    expect((await writer.request(DocumentsDocument, { first: 10, filter: { search: 'gpu GUIDE' } })).data?.documents.edges.map((e) => e.node.title)).toEqual(['GPU guide']);
  });

  it('keeps collections of any dimension apart, each searched at its own dimension', async () => {
    const create = async (name: string, embeddingDimensions: number) =>
      (await writer.request(CreateDocumentCollectionDocument, { input: { name, embeddingDimensions, embeddingModel: `model-${embeddingDimensions}` } })).data!
        .createDocumentCollection;
    const small = await create('minilm', 384);
    const large = await create('text-embedding-3-large', 3072);
    if (small.__typename !== 'CreateDocumentCollectionSuccess' || large.__typename !== 'CreateDocumentCollectionSuccess') throw new Error('not created');
    expect(small.collection).toMatchObject({ name: 'minilm', embeddingDimensions: 384, embeddingModel: 'model-384' });
    expect(await create('minilm', 768)).toEqual({ __typename: 'ConflictError', message: 'a collection named minilm already exists', field: 'name' });
    expect(await create('too-wide', 4001)).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'embeddingDimensions' }] });

    for (const [collection, dimensions] of [[small.collection, 384], [large.collection, 3072]] as const) {
      const doc = await ingest({
        collectionId: collection.id,
        title: `In ${dimensions}`,
        content: 'c',
        chunks: [
          { content: `near ${dimensions}`, embedding: embedding({ 3: 1, 4: 0.2 }, dimensions) },
          { content: `far ${dimensions}`, embedding: embedding({ 9: 1 }, dimensions) },
        ],
      });
      expect(doc.__typename).toBe('IngestDocumentSuccess');
      const hits = await search({ embedding: embedding({ 3: 1 }, dimensions), k: 5, collectionId: collection.id });
      expect(hits.map((hit) => hit.chunk.content)).toEqual([`near ${dimensions}`, `far ${dimensions}`]);
      expect(hits[0]!.score).toBeCloseTo(cosine(embedding({ 3: 1 }, dimensions), embedding({ 3: 1, 4: 0.2 }, dimensions)), 5);

      const wrong = (await writer.request(SearchDocumentsDocument, { embedding: QUERY, collectionId: collection.id })).data!.searchDocuments;
      expect(wrong).toEqual({ __typename: 'DimensionMismatchError', path: 'embedding', expected: dimensions, actual: 1536 });
      const wrongIngest = await ingest({ collectionId: collection.id, content: 'x', chunks: [{ content: 'default-sized', embedding: QUERY }] });
      expect(wrongIngest).toMatchObject({ __typename: 'DimensionMismatchError', path: 'chunks.0.embedding', expected: dimensions, actual: 1536 });
    }
    // The default collection does not see the others' chunks.
    expect((await search({ embedding: QUERY, k: 100 })).map((hit) => hit.chunk.content)).not.toContain('near 384');

    const listed = await writer.request(DocumentCollectionsDocument, { first: 10, filter: { embeddingDimensions: 3072 } });
    expect(listed.data?.documentCollections.edges.map((e) => [e.node.name, e.node.documentCount])).toEqual([['text-embedding-3-large', 1]]);
    const stranger = await server.signIn({ role: 'user' });
    const foreign = (await stranger.request(SearchDocumentsDocument, { embedding: embedding({ 3: 1 }, 384), collectionId: small.collection.id })).data!.searchDocuments;
    expect(foreign.__typename).toBe('NotFoundError');

    if (kind === 'pglite') {
      const indexes = await server.db.system.$queryRaw<{ name: string; definition: string }[]>`
        SELECT indexname AS name, indexdef AS definition FROM pg_indexes WHERE tablename = 'document_chunks' AND indexdef LIKE '%hnsw%' ORDER BY indexname`;
      expect(indexes.map((index) => index.name)).toEqual(['idx_document_chunks_embedding', 'idx_document_chunks_embedding_3072', 'idx_document_chunks_embedding_384']);
      expect(indexes[1]!.definition).toContain('halfvec(3072)');
      expect(indexes[2]!.definition).toContain('vector(384)');
    }
  });

  it.runIf(kind === 'pglite')('plans the first search after the indexing job on the HNSW index, with no manual ANALYZE', async () => {
    const dimensions = 384;
    const created = (await writer.request(CreateDocumentCollectionDocument, { input: { name: 'plan', embeddingDimensions: dimensions } })).data!.createDocumentCollection;
    if (created.__typename !== 'CreateDocumentCollectionSuccess') throw new Error(created.__typename);
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
    for (let batch = 0; batch < 4; batch++) {
      const chunks = Array.from({ length: 250 }, (_, i) => ({ content: `chunk ${batch}.${i}`, embedding: Array.from({ length: dimensions }, random) }));
      expect((await ingest({ collectionId: created.collection.id, content: 'bulk', chunks })).__typename).toBe('IngestDocumentSuccess');
    }
    // The job's work (the server's own job may have done part of it): every chunk into the index.
    await servicesOf(server).embeddingIndex.indexAll();
    expect(await server.db.system.documentChunk.count({ where: { collectionId: rawId(created.collection.id), embeddingIndexed: false } })).toBe(0);
    const statement = hnswNearestChunksSql({
      tenantId: writer.tenantId,
      query: Array.from({ length: dimensions }, random),
      dimensions,
      k: 10,
      filter: Prisma.sql`AND c.collection_id = ${rawId(created.collection.id)}::uuid`,
    });
    const plan = await server.db.system.$queryRaw<{ 'QUERY PLAN': string }[]>`EXPLAIN ${statement}`;
    expect(plan.map((row) => row['QUERY PLAN']).join('\n')).toContain(`Index Scan using ${embeddingIndexName(dimensions)} `);
  });

  it.runIf(kind === 'pglite')('vacuums and analyzes, in its scheduled pass, every table that writes left without statistics', async () => {
    const unanalyzed = () => server.db.system.$queryRaw<{ name: string }[]>`
      SELECT c.oid::regclass::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname IN ('public', 'security') AND c.reltuples < 0 AND pg_relation_size(c.oid) > 0`;
    expect((await unanalyzed()).map((table) => table.name)).toContain('documents');
    const maintenance = embeddedTableMaintenance(server.db, createLogger('silent'));
    expect(await maintenance.runPass()).toContain('documents');
    expect(await unanalyzed()).toEqual([]);
    expect(await maintenance.runPass()).toEqual([]);
  });

  it('deletes a document with its chunks', async () => {
    const doc = await ingest({ title: 'Temporary', content: 't', chunks: [{ content: 'gone soon', embedding: embedding({ 5: 1 }) }] });
    if (doc.__typename !== 'IngestDocumentSuccess') throw new Error(doc.__typename);
    expect((await writer.request(DeleteDocumentDocument, { id: doc.document.id })).data?.deleteDocument).toEqual({ __typename: 'DeleteDocumentSuccess', deletedId: doc.document.id });
    expect(await server.db.system.documentChunk.count({ where: { documentId: rawId(doc.document.id) } })).toBe(0);
  });
});

describe.runIf(kinds.length === 2)('pgvector (PGlite) and the exact scan (PostgreSQL)', () => {
  it('give the same top k with the same scores', () => {
    const pglite = answers.get('pglite')!;
    const postgres = answers.get('postgres')!;
    expect(postgres.map((hit) => hit.content)).toEqual(pglite.map((hit) => hit.content));
    postgres.forEach((hit, i) => expect(hit.score).toBeCloseTo(pglite[i]!.score, 5));
  });
});

describe.runIf(runPostgresTests)('the exact scan without pgvector: in memory, in SQL past its bound, current across instances', () => {
  const COUNT = 60;
  let seed = 11;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
  const dense = () => Array.from({ length: DIMENSIONS }, random);
  const chunks = Array.from({ length: COUNT }, (_, i) => ({ content: `dense ${i}`, embedding: dense() }));
  const queries = Array.from({ length: 4 }, dense);
  // Computed here, by the definition: the k highest cosine similarities.
  const exact = (query: number[], among: typeof chunks, k: number) =>
    among
      .map((chunk) => ({ content: chunk.content, score: cosine(query, chunk.embedding) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, k);

  let held: TestServer;
  let bounded: TestServer;
  let writer: SignedInUser;
  let onBounded: SignedInUser;
  let firstHalfId: string;

  const search = async (as: SignedInUser, variables: { embedding: number[]; k?: number; filter?: Record<string, unknown> }) => {
    const result = (await as.request(SearchDocumentsDocument, variables)).data!.searchDocuments;
    if (result.__typename !== 'SearchDocumentsSuccess') throw new Error(`unexpected ${result.__typename}`);
    return result.hits.map((hit) => ({ content: hit.chunk.content, score: hit.score }));
  };
  const expectSame = (actual: { content: string; score: number }[], expected: { content: string; score: number }[]) => {
    expect(actual.map((hit) => hit.content)).toEqual(expected.map((hit) => hit.content));
    actual.forEach((hit, i) => expect(hit.score).toBeCloseTo(expected[i]!.score, 5));
  };
  const heldBytes = async (server: TestServer) => {
    const text = await (await server.get('/metrics')).text();
    return Number(/^omega_vector_scan_memory_bytes (\S+)$/m.exec(text)?.[1]);
  };

  beforeAll(async () => {
    held = await startTestServer('postgres', { jobsEnabled: false });
    // A second instance on the same database whose bound no collection fits: the SQL scan answers there.
    bounded = await startTestServer('postgres', { jobsEnabled: false, databaseUrl: held.rawDatabaseUrl, database: { ...held.config.database, vectorScanMemoryBytes: 1 } });
    writer = await held.signIn({ role: 'user' });
    onBounded = await bounded.signIn({ role: 'user', tenantId: writer.tenantId });
    const first = await writer.request(IngestDocumentDocument, { input: { title: 'First half', source: 'a', content: 'x', chunks: chunks.slice(0, COUNT / 2) } });
    const second = await writer.request(IngestDocumentDocument, { input: { title: 'Second half', source: 'b', content: 'y', chunks: chunks.slice(COUNT / 2) } });
    if (first.data?.ingestDocument.__typename !== 'IngestDocumentSuccess' || second.data?.ingestDocument.__typename !== 'IngestDocumentSuccess') throw new Error('not ingested');
    firstHalfId = first.data.ingestDocument.document.id;
  });
  afterAll(async () => {
    await bounded?.close();
    await held?.close();
  });

  it('answers the exact top k, in memory and in SQL alike, filters included', async () => {
    for (const query of queries) {
      const expected = exact(query, chunks, 10);
      expectSame(await search(writer, { embedding: query, k: 10 }), expected);
      expectSame(await search(onBounded, { embedding: query, k: 10 }), expected);
      const inFirst = exact(query, chunks.slice(0, COUNT / 2), 5);
      for (const filter of [{ documentIds: [firstHalfId] }, { source: 'a' }]) {
        expectSame(await search(writer, { embedding: query, k: 5, filter }), inFirst);
        expectSame(await search(onBounded, { embedding: query, k: 5, filter }), inFirst);
      }
    }
    expect(await heldBytes(held)).toBeGreaterThanOrEqual(COUNT * DIMENSIONS * 4);
    expect(await heldBytes(bounded)).toBe(0);
    const stranger = await held.signIn({ role: 'user' });
    expect(await search(stranger, { embedding: queries[0]!, k: 5 })).toEqual([]);
  });

  it('sees chunks another instance ingests and deletes, at the next search', async () => {
    const query = queries[1]!;
    await search(writer, { embedding: query, k: 3 });
    const added = (await onBounded.request(IngestDocumentDocument, { input: { title: 'Added', content: 'z', chunks: [{ content: 'the query itself', embedding: query }] } })).data!.ingestDocument;
    if (added.__typename !== 'IngestDocumentSuccess') throw new Error(added.__typename);
    const withAdded = await search(writer, { embedding: query, k: 3 });
    expect(withAdded[0]).toMatchObject({ content: 'the query itself' });
    expect(withAdded[0]!.score).toBeCloseTo(1, 5);
    expectSame(withAdded.slice(1), exact(query, chunks, 2));

    expect((await onBounded.request(DeleteDocumentDocument, { id: firstHalfId })).data?.deleteDocument.__typename).toBe('DeleteDocumentSuccess');
    expectSame(await search(writer, { embedding: query, k: 3 }), [{ content: 'the query itself', score: 1 }, ...exact(query, chunks.slice(COUNT / 2), 2)]);
  });
});
