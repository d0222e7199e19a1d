/** How stored chunks reach pgvector's HNSW index; parsed from VECTOR_INDEX_* variables by src/config.ts. */
export interface EmbeddingIndexSettings {
  /**
   * Chunks are stored outside the index and indexed by the background job, which a search makes up
   * for with an exact scan of them; otherwise each ingest inserts its chunks into the index itself.
   */
  deferred: boolean;
  /** Bytes of embeddings waiting for the job beyond which an ingest indexes the excess before it returns. */
  backlogBytes: number;
  /** How often the job looks for chunks to index once ingest has been quiet. */
  intervalMs: number;
}
