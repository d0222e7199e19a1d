-- An HNSW index built over rows already stored (a new dimension's index over existing chunks, or
-- an index built after a bulk load) is built in memory only while its graph fits
-- maintenance_work_mem; past it pgvector inserts the rest one by one, several times slower. The
-- embedded database's default (64 MB) holds about 10,000 embeddings of 1,536 dimensions, so the
-- build raises it to 512 MB for its own transaction where it is lower.
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
  IF pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes('512MB') THEN
    PERFORM set_config('maintenance_work_mem', '512MB', true);
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
