-- Document collections, each with its own embedding dimension. document_chunks.embedding holds
-- vectors of any dimension; where pgvector exists, each dimension in use gets its own partial
-- HNSW index over a cast to vector(n) (halfvec(n) above pgvector's 2,000-dimension vector index
-- limit), made by ensure_document_chunks_embedding_index(n). Where pgvector is missing,
-- embedding is real[] and embedding_norm (stored at ingest) lets the exact scan compute each
-- cosine distance in one pass.

CREATE TABLE "document_collections" (
  "id" UUID NOT NULL DEFAULT gen_random_uuid(),
  "tenant_id" UUID NOT NULL,
  "name" VARCHAR(100) NOT NULL,
  "embedding_dimensions" INTEGER NOT NULL,
  "embedding_model" VARCHAR(255),
  "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "document_collections_pkey" PRIMARY KEY ("id"),
  -- pgvector indexes halfvec up to 4,000 dimensions; nothing larger could be searched by index.
  CONSTRAINT "document_collections_dimensions_check" CHECK ("embedding_dimensions" BETWEEN 1 AND 4000)
);
CREATE UNIQUE INDEX "document_collections_tenant_id_name_key" ON "document_collections"("tenant_id", "name");
ALTER TABLE "document_collections" ADD CONSTRAINT "document_collections_tenant_id_fkey"
  FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE "document_collections" ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "document_collections"
  USING (tenant_id = app_current_tenant_id()) WITH CHECK (tenant_id = app_current_tenant_id());

ALTER TABLE "documents" ADD COLUMN "collection_id" UUID;
CREATE INDEX "documents_collection_id_idx" ON "documents"("collection_id");
ALTER TABLE "documents" ADD CONSTRAINT "documents_collection_id_fkey"
  FOREIGN KEY ("collection_id") REFERENCES "document_collections"("id") ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE "document_chunks" ADD COLUMN "collection_id" UUID, ADD COLUMN "embedding_norm" DOUBLE PRECISION;
CREATE INDEX "document_chunks_collection_id_idx" ON "document_chunks"("collection_id");
ALTER TABLE "document_chunks" ADD CONSTRAINT "document_chunks_collection_id_fkey"
  FOREIGN KEY ("collection_id") REFERENCES "document_collections"("id") ON DELETE CASCADE ON UPDATE CASCADE;

CREATE OR REPLACE FUNCTION ensure_document_chunks_embedding_index(dimensions integer) RETURNS boolean
  LANGUAGE plpgsql
  AS $$
DECLARE
  vec_schema name;
  index_type text;
BEGIN
  SELECT n.nspname INTO vec_schema
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
  WHERE e.extname = 'vector';
  IF vec_schema IS NULL OR NOT EXISTS (SELECT 1 FROM pg_am WHERE amname = 'hnsw')
     OR (SELECT t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
         WHERE a.attrelid = 'public.document_chunks'::regclass AND a.attname = 'embedding') <> 'vector' THEN
    RETURN false;
  END IF;
  -- HNSW indexes vector up to 2,000 dimensions and halfvec up to 4,000.
  index_type := CASE WHEN dimensions <= 2000 THEN 'vector' ELSE 'halfvec' END;
  EXECUTE format(
    'CREATE INDEX IF NOT EXISTS %I ON public.document_chunks USING hnsw ((embedding::%I.%I(%s)) %I.%I) WHERE %I.vector_dims(embedding) = %s',
    -- 1536 keeps the name the first vector migration gave its index, so rerunning that one is a no-op.
    CASE WHEN dimensions = 1536 THEN 'idx_document_chunks_embedding' ELSE 'idx_document_chunks_embedding_' || dimensions END,
    vec_schema, index_type, dimensions,
    vec_schema, index_type || '_cosine_ops', vec_schema, dimensions);
  RETURN true;
END
$$;

DO $$
DECLARE
  vec_schema name;
  col_type name;
BEGIN
  SELECT n.nspname INTO vec_schema
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
  WHERE e.extname = 'vector';

  SELECT t.typname INTO col_type
  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
  WHERE a.attrelid = 'public.document_chunks'::regclass AND a.attname = 'embedding' AND NOT a.attisdropped;

  IF col_type = 'vector' THEN
    -- The old index is over the column itself, which loses its dimension.
    DROP INDEX IF EXISTS public.idx_document_chunks_embedding;
    -- Dropping the typmod is binary-compatible: no table rewrite.
    EXECUTE format('ALTER TABLE public.document_chunks ALTER COLUMN embedding TYPE %I.vector', vec_schema);
    EXECUTE format('UPDATE public.document_chunks SET embedding_norm = %I.vector_norm(embedding) WHERE embedding IS NOT NULL', vec_schema);
    -- Per-value statistics of embeddings help no plan and make ANALYZE sort thousands of vectors.
    ALTER TABLE public.document_chunks ALTER COLUMN embedding SET STATISTICS 0;
    PERFORM ensure_document_chunks_embedding_index(1536);
    RAISE NOTICE 'vector collections: embedding holds any dimension; an HNSW cosine index per dimension in use';
  ELSIF col_type = '_float4' THEN
    ALTER TABLE public.document_chunks DROP CONSTRAINT IF EXISTS document_chunks_embedding_dims_check;
    ALTER TABLE public.document_chunks ADD CONSTRAINT document_chunks_embedding_dims_check CHECK (
      embedding IS NULL
      OR (array_ndims(embedding) = 1 AND cardinality(embedding) BETWEEN 1 AND 4000 AND array_position(embedding, NULL) IS NULL)
    );
    -- Floats barely compress: storing them uncompressed spares the scan a decompression per row;
    -- per-element statistics of embeddings help no plan and make ANALYZE take many seconds.
    ALTER TABLE public.document_chunks ALTER COLUMN embedding SET STORAGE EXTERNAL;
    ALTER TABLE public.document_chunks ALTER COLUMN embedding SET STATISTICS 0;
    UPDATE public.document_chunks
    SET embedding_norm = (SELECT sqrt(sum(x::float8 * x::float8)) FROM unnest(embedding) AS u(x))
    WHERE embedding IS NOT NULL;
    RAISE NOTICE 'vector collections: pgvector not available: embedding is real[] of any dimension up to 4000, searched by an exact scan';
  END IF;
END $$;

-- The exact scan's dot product: not inlinable, so the planner evaluates it once per row. The
-- unnests stand in the select list (a ProjectSet, row by row), which runs about twice as fast as
-- unnest(a, b) in FROM (a function scan that first copies both arrays into a tuplestore).
CREATE OR REPLACE FUNCTION real_array_dot(a real[], b real[]) RETURNS double precision
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT sum(x::float8 * y::float8) FROM (SELECT unnest(a) AS x, unnest(b) AS y) AS pairs $$;
