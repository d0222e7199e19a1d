import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';

/**
 * How document_chunks.embedding is stored here, as the vector migrations chose: pgvector's vector
 * (any dimension, one partial HNSW cosine index per dimension), or real[] searched by an exact scan.
 */
export type EmbeddingStore = { kind: 'pgvector'; vectorTypeOid: number } | { kind: 'real-array' };

/** pgvector's HNSW index takes vector up to this many dimensions, halfvec above it (up to 4,000). */
export const MAX_VECTOR_INDEX_DIMENSIONS = 2000;
export const MAX_EMBEDDING_DIMENSIONS = 4000;

export async function detectEmbeddingStore(db: PrismaClient): Promise<EmbeddingStore> {
  const [column] = await db.$queryRaw<{ type: string; oid: number }[]>`
    SELECT t.typname::text AS type, t.oid::int AS oid
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid = 'public.document_chunks'::regclass AND a.attname = 'embedding' AND NOT a.attisdropped`;
  if (!column) throw new Error('document_chunks.embedding is missing: run the migrations');
  if (column.type === 'vector') return { kind: 'pgvector', vectorTypeOid: column.oid };
  if (column.type === '_float4') return { kind: 'real-array' };
  throw new Error(`document_chunks.embedding has type ${column.type}, which neither search path reads`);
}

/** The HNSW index of one dimension (1536 kept the name of the index that predates collections). */
export const embeddingIndexName = (dimensions: number): string =>
  dimensions === 1536 ? 'idx_document_chunks_embedding' : `idx_document_chunks_embedding_${dimensions}`;

/** Creates the HNSW index for one dimension if pgvector is here and it is missing; idempotent. */
export async function ensureEmbeddingIndex(db: PrismaClient, dimensions: number): Promise<void> {
  await db.$queryRaw`SELECT ensure_document_chunks_embedding_index(${dimensions}::int)`;
}

/** A vector as a real[] literal; both stores take it, pgvector through its real[] cast. */
export const realArrayLiteral = (vector: readonly number[]): string => `{${vector.join(',')}}`;

export function euclideanNorm(vector: readonly number[]): number {
  let sum = 0;
  for (const x of vector) sum += x * x;
  return Math.sqrt(sum);
}

/**
 * Embeddings as one vector[] parameter in the binary wire format (array_recv of vector_recv: a
 * 20-byte array header, then per vector its length, dimension, a reserved int16 and big-endian
 * float4s). The server reads it without parsing decimal text, which costs the embedded database
 * several times more than storing and indexing the row.
 */
export function vectorArrayParameter(vectorTypeOid: number, vectors: readonly (readonly number[])[]): Uint8Array {
  const size = 20 + vectors.reduce((sum, vector) => sum + 8 + 4 * vector.length, 0);
  const view = new DataView(new ArrayBuffer(size));
  view.setInt32(0, 1);
  view.setInt32(4, 0);
  view.setInt32(8, vectorTypeOid);
  view.setInt32(12, vectors.length);
  view.setInt32(16, 1);
  let offset = 20;
  for (const vector of vectors) {
    view.setInt32(offset, 4 + 4 * vector.length);
    view.setInt16(offset + 4, vector.length);
    view.setInt16(offset + 6, 0);
    offset += 8;
    for (const x of vector) {
      view.setFloat32(offset, x);
      offset += 4;
    }
  }
  return new Uint8Array(view.buffer);
}

/** The chunks' embeddings as an array expression in the store's own element type, for unnest. */
export function embeddingsArray(store: EmbeddingStore, vectors: readonly (readonly number[])[]): Prisma.Sql {
  return store.kind === 'pgvector'
    ? Prisma.sql`${vectorArrayParameter(store.vectorTypeOid, vectors)}::vector[]`
    : Prisma.sql`${vectors.map(realArrayLiteral)}::text[]`;
}

/** The embedding column's value for one element of `embeddingsArray`. */
export const embeddingValue = (store: EmbeddingStore, element: Prisma.Sql): Prisma.Sql =>
  store.kind === 'pgvector' ? element : Prisma.sql`${element}::real[]`;

export interface NearestChunk {
  id: string;
  distance: number;
}

export interface NearestChunksQuery {
  tenantId: string;
  query: readonly number[];
  /** The collection's dimension, which `query` has (checked by the caller). */
  dimensions: number;
  k: number;
  /** Further conditions on `c` (document_chunks), including the collection. */
  filter: Prisma.Sql;
}

/**
 * The statement that finds the k nearest indexed chunks with pgvector: ordered by the cast its
 * dimension's partial HNSW index is built on, scanning iteratively so that filters do not starve
 * the result; the distance returned is the full-precision one, also where the index orders by
 * halfvec. Chunks not yet indexed are not in it: `pendingNearestChunks` finds those.
 */
export function hnswNearestChunksSql({ tenantId, query, dimensions, k, filter }: NearestChunksQuery): Prisma.Sql {
  // The typmod and the index predicate's constant must be literals for the planner to match the
  // partial index; `dimensions` is a validated integer from the collection, never client text.
  const n = Prisma.raw(String(Math.trunc(dimensions)));
  const indexType = Prisma.raw(dimensions <= MAX_VECTOR_INDEX_DIMENSIONS ? 'vector' : 'halfvec');
  const literal = realArrayLiteral(query);
  return Prisma.sql`
    WITH nearest AS MATERIALIZED (
      SELECT c.id::text AS id, (c.embedding <=> ${literal}::real[]::vector)::float8 AS distance
      FROM document_chunks c
      WHERE c.tenant_id = ${tenantId}::uuid AND vector_dims(c.embedding) = ${n} AND c.embedding_indexed ${filter}
      ORDER BY c.embedding::${indexType}(${n}) <=> ${literal}::real[]::${indexType}(${n})
      LIMIT ${k}
    )
    SELECT id, distance FROM nearest ORDER BY distance, id`;
}

/**
 * The exact scan over real[]: one dot product per row (real_array_dot, which the planner cannot
 * inline and so evaluates once) divided by the norms stored at ingest.
 */
function exactNearestChunksSql({ tenantId, query, k, filter }: NearestChunksQuery): Prisma.Sql {
  const norm = euclideanNorm(query);
  return Prisma.sql`
    SELECT c.id::text AS id, 1 - real_array_dot(c.embedding, ${realArrayLiteral(query)}::real[]) / (c.embedding_norm * ${norm}::float8) AS distance
    FROM document_chunks c
    WHERE c.tenant_id = ${tenantId}::uuid AND c.embedding_norm > 0 ${filter}
    ORDER BY distance, c.id
    LIMIT ${k}`;
}

// The SQL scan of a large collection on a busy server can outlast the client's default 5 s for a
// transaction, which would turn a slow answer into a failed one.
const SQL_SCAN_TIMEOUT_MS = 120_000;

/**
 * The exact scan over the chunks pgvector's index does not hold yet, in SQL: what answers where the
 * in-process scan does not hold them (off, or past its memory).
 */
function pendingNearestChunksSql({ tenantId, query, k, filter }: NearestChunksQuery): Prisma.Sql {
  return Prisma.sql`
    SELECT c.id::text AS id, (c.embedding <=> ${realArrayLiteral(query)}::real[]::vector)::float8 AS distance
    FROM document_chunks c
    WHERE c.tenant_id = ${tenantId}::uuid AND NOT c.embedding_indexed ${filter}
    ORDER BY distance, c.id
    LIMIT ${k}`;
}

export async function pendingNearestChunks(db: PrismaClient, search: NearestChunksQuery): Promise<NearestChunk[]> {
  const [, rows] = await db.$transaction(
    [db.$queryRaw`SELECT set_config('jit', 'off', true)`, db.$queryRaw<NearestChunk[]>(pendingNearestChunksSql(search))],
    { timeout: SQL_SCAN_TIMEOUT_MS },
  );
  return rows;
}

/** The k nearest of two answers for the same search, each chunk once, nearest first (ties by id). */
export function mergeNearest(k: number, ...answers: NearestChunk[][]): NearestChunk[] {
  const best = new Map<string, NearestChunk>();
  for (const hit of answers.flat()) {
    const seen = best.get(hit.id);
    if (!seen || hit.distance < seen.distance) best.set(hit.id, hit);
  }
  return [...best.values()].sort((a, b) => a.distance - b.distance || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).slice(0, k);
}

/**
 * The k chunks of a tenant nearest to the query by cosine distance, nearest first (ties by id);
 * with pgvector, among the indexed chunks only.
 */
export async function nearestChunks(db: PrismaClient, store: EmbeddingStore, search: NearestChunksQuery): Promise<NearestChunk[]> {
  if (store.kind === 'pgvector') {
    const [, rows] = await db.$transaction([
      db.$queryRaw`SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', ${String(Math.max(40, search.k))}, true)`,
      db.$queryRaw<NearestChunk[]>(hnswNearestChunksSql(search)),
    ]);
    return rows;
  }
  // A scan this costly in the planner's eyes would be JIT-compiled, which takes longer than the scan.
  const [, rows] = await db.$transaction(
    [db.$queryRaw`SELECT set_config('jit', 'off', true)`, db.$queryRaw<NearestChunk[]>(exactNearestChunksSql(search))],
    { timeout: SQL_SCAN_TIMEOUT_MS },
  );
  return rows;
}
