-- document_chunks.embedding: vector(1536) with an HNSW cosine index where pgvector exists;
-- otherwise real[] holding exactly 1536 numbers, searched by an exact scan. A NOTICE says which.

DO $$
DECLARE
  vec_schema name;
  vec_version text;
  col_type name;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')
     AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS vector;
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE 'vector: pgvector is available but CREATE EXTENSION failed (%)', SQLERRM;
    END;
  END IF;

  SELECT n.nspname, e.extversion INTO vec_schema, vec_version
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
  WHERE e.extname = 'vector';

  SELECT t.typname INTO col_type
  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
  WHERE a.attrelid = 'public.document_chunks'::regclass AND a.attname = 'embedding' AND NOT a.attisdropped;

  IF vec_schema IS NOT NULL AND (col_type IS NULL OR col_type = 'vector') THEN
    -- The type and operator class live in whichever schema the extension was installed into.
    EXECUTE format('ALTER TABLE public.document_chunks ADD COLUMN IF NOT EXISTS embedding %I.vector(1536)', vec_schema);

    IF EXISTS (SELECT 1 FROM pg_am WHERE amname = 'hnsw') THEN
      EXECUTE format(
        'CREATE INDEX IF NOT EXISTS idx_document_chunks_embedding ON public.document_chunks USING hnsw (embedding %I.vector_cosine_ops)',
        vec_schema);
      RAISE NOTICE 'vector: pgvector % (schema %): embedding vector(1536) with an HNSW cosine index', vec_version, vec_schema;
    ELSE
      RAISE NOTICE 'vector: pgvector % has no HNSW (needs 0.5 or later): embedding vector(1536) without an index', vec_version;
    END IF;

  ELSIF col_type IS NULL OR col_type = '_float4' THEN
    ALTER TABLE public.document_chunks ADD COLUMN IF NOT EXISTS embedding real[];

    IF NOT EXISTS (
      SELECT 1 FROM pg_constraint
      WHERE conrelid = 'public.document_chunks'::regclass AND conname = 'document_chunks_embedding_dims_check'
    ) THEN
      -- cardinality, not array_length: array_length('{}', 1) is NULL, which a CHECK lets through.
      ALTER TABLE public.document_chunks ADD CONSTRAINT document_chunks_embedding_dims_check CHECK (
        embedding IS NULL
        OR (array_ndims(embedding) = 1 AND cardinality(embedding) = 1536 AND array_position(embedding, NULL) IS NULL)
      );
    END IF;

    IF vec_schema IS NULL THEN
      RAISE NOTICE 'vector: pgvector not available: embedding is real[] (1536 values, exact-scan search only); install pgvector for vector(1536) with an HNSW index';
    ELSE
      RAISE NOTICE 'vector: pgvector % is installed but embedding is still real[] from a run without it: convert it with ALTER TABLE document_chunks DROP CONSTRAINT document_chunks_embedding_dims_check, ALTER COLUMN embedding TYPE vector(1536) USING embedding::vector(1536), then rerun this migration', vec_version;
    END IF;

  ELSE
    RAISE NOTICE 'vector: document_chunks.embedding already exists as %, left unchanged', col_type;
  END IF;
END $$;
