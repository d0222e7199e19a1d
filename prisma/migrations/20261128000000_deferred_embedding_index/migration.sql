-- A chunk can be stored without paying its HNSW insert (several milliseconds of CPU each in the
-- embedded database's WebAssembly) and be indexed later, in small batches, by a background job.
-- Each dimension's HNSW index covers only the rows whose embedding_indexed is true; a search adds
-- an exact scan of the others, so every chunk is found from the moment it is stored; the job sets
-- the flag, and the update puts the row into its index. Rows stored before this migration are in
-- their index already. Where pgvector is missing (real[], exact scan only) rows are stored as true.
ALTER TABLE "document_chunks" ADD COLUMN "embedding_indexed" BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE "document_chunks" ALTER COLUMN "embedding_indexed" SET DEFAULT false;

-- The rows waiting for the job, per tenant and collection, read without touching the indexed ones.
CREATE INDEX "document_chunks_pending_idx" ON "document_chunks" ("tenant_id", "collection_id") WHERE NOT "embedding_indexed";

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
  -- Built in memory while the graph fits maintenance_work_mem; past it, row by row and several times slower.
  IF pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes('512MB') THEN
    PERFORM set_config('maintenance_work_mem', '512MB', true);
  END IF;
  -- HNSW indexes vector up to 2,000 dimensions and halfvec up to 4,000.
  index_type := CASE WHEN dimensions <= 2000 THEN 'vector' ELSE 'halfvec' END;
  EXECUTE format(
    'CREATE INDEX IF NOT EXISTS %I ON public.document_chunks USING hnsw ((embedding::%I.%I(%s)) %I.%I) WHERE %I.vector_dims(embedding) = %s AND embedding_indexed',
    -- 1536 keeps the name the first vector migration gave its index, so rerunning that one is a no-op.
    CASE WHEN dimensions = 1536 THEN 'idx_document_chunks_embedding' ELSE 'idx_document_chunks_embedding_' || dimensions END,
    vec_schema, index_type, dimensions,
    vec_schema, index_type || '_cosine_ops', vec_schema, dimensions);
  RETURN true;
END
$$;

-- Each existing HNSW index again, now over the indexed rows only (all of them, here): built in bulk,
-- which costs a fraction of inserting the same rows one by one.
DO $$
DECLARE
  existing record;
  dimensions integer;
BEGIN
  FOR existing IN
    SELECT c.relname::text AS name
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_am am ON am.oid = c.relam
    WHERE i.indrelid = 'public.document_chunks'::regclass AND am.amname = 'hnsw'
  LOOP
    IF existing.name = 'idx_document_chunks_embedding' THEN
      dimensions := 1536;
    ELSIF existing.name ~ '^idx_document_chunks_embedding_[0-9]+$' THEN
      dimensions := substring(existing.name FROM '[0-9]+$')::integer;
    ELSE
      CONTINUE;
    END IF;
    EXECUTE format('DROP INDEX public.%I', existing.name);
    PERFORM ensure_document_chunks_embedding_index(dimensions);
  END LOOP;
END $$;
