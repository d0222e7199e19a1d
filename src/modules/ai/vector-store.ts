import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';

/**
 * How document_chunks.embedding is stored here, as the vector migration chose: pgvector's
 * vector(n) with an HNSW cosine index, or real[] of n numbers searched by an exact scan.
 */
export interface EmbeddingStore {
  kind: 'pgvector' | 'real-array';
  /** The column's dimension; null when the column does not fix one. */
  dimensions: number | null;
}

export async function detectEmbeddingStore(db: PrismaClient): Promise<EmbeddingStore> {
  const [column] = await db.$queryRaw<{ type: string; typmod: number; dims_check: string | null }[]>`
    SELECT t.typname::text AS type, a.atttypmod AS typmod,
           (SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
            WHERE c.conrelid = a.attrelid AND c.conname = 'document_chunks_embedding_dims_check') AS dims_check
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid = 'public.document_chunks'::regclass AND a.attname = 'embedding' AND NOT a.attisdropped`;
  if (!column) throw new Error('document_chunks.embedding is missing: run the migrations');
  if (column.type === 'vector') return { kind: 'pgvector', dimensions: column.typmod > 0 ? column.typmod : null };
  if (column.type === '_float4') {
    const fixed = column.dims_check?.match(/cardinality\(embedding\) = (\d+)/);
    return { kind: 'real-array', dimensions: fixed?.[1] ? Number(fixed[1]) : null };
  }
  throw new Error(`document_chunks.embedding has type ${column.type}, which neither search path reads`);
}

/** A vector as a real[] literal; both stores take it, pgvector through its real[] cast. */
export const realArrayLiteral = (vector: readonly number[]): string => `{${vector.join(',')}}`;

/** The embedding expression for a bound real[] literal, in the store's own type. */
export const embeddingValue = (store: EmbeddingStore, literal: Prisma.Sql): Prisma.Sql =>
  store.kind === 'pgvector' ? Prisma.sql`${literal}::real[]::vector` : Prisma.sql`${literal}::real[]`;

export interface NearestChunk {
  id: string;
  distance: number;
}

/**
 * The k chunks of a tenant nearest to `query` by cosine distance, nearest first (ties by id).
 * pgvector: the HNSW index, scanning iteratively so that filters do not starve the result.
 * real[]: an exact scan computing the same distance in SQL.
 */
export async function nearestChunks(
  db: PrismaClient,
  store: EmbeddingStore,
  tenantId: string,
  query: readonly number[],
  k: number,
  filter: Prisma.Sql,
): Promise<NearestChunk[]> {
  const literal = realArrayLiteral(query);
  if (store.kind === 'pgvector') {
    const [, rows] = await db.$transaction([
      db.$queryRaw`SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', ${String(Math.max(40, k))}, true)`,
      db.$queryRaw<NearestChunk[]>`
        WITH nearest AS MATERIALIZED (
          SELECT c.id::text AS id, (c.embedding <=> ${literal}::real[]::vector)::float8 AS distance
          FROM document_chunks c
          WHERE c.tenant_id = ${tenantId}::uuid AND c.embedding IS NOT NULL ${filter}
          ORDER BY c.embedding <=> ${literal}::real[]::vector
          LIMIT ${k}
        )
        SELECT id, distance FROM nearest ORDER BY distance, id`,
    ]);
    return rows;
  }
  return db.$queryRaw<NearestChunk[]>`
    SELECT s.id, s.distance FROM (
      SELECT c.id::text AS id,
             1 - (SELECT sum(a::float8 * b::float8) / nullif(sqrt(sum(a::float8 * a::float8)) * sqrt(sum(b::float8 * b::float8)), 0)
                  FROM unnest(c.embedding, ${literal}::real[]) AS u(a, b)) AS distance
      FROM document_chunks c
      WHERE c.tenant_id = ${tenantId}::uuid AND c.embedding IS NOT NULL ${filter}
    ) s
    WHERE s.distance IS NOT NULL
    ORDER BY s.distance, s.id
    LIMIT ${k}`;
}
