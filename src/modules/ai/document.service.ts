import { Prisma, type Document, type DocumentChunk, type PrismaClient } from '../../generated/prisma/client.js';
import { DimensionMismatchError, NotFoundError } from '../shared/errors.js';
import type { TenantRows } from '../../infra/db.js';
import type { TableMaintenance } from '../../infra/table-maintenance.js';
import type { CollectionScope, DocumentCollectionService } from './document-collection.service.js';
import { parseIngestDocument, parseSearchDocuments, type IngestDocumentInput } from './document.validation.js';
import type { EmbeddingIndexService } from './embedding-index.service.js';
import type { ExactVectorScan } from './exact-vector-scan.js';
import {
  embeddingsArray,
  embeddingValue,
  euclideanNorm,
  mergeNearest,
  nearestChunks,
  pendingNearestChunks,
  type EmbeddingStore,
  type NearestChunk,
} from './vector-store.js';

export interface DocumentSearchHit {
  chunk: DocumentChunk;
  document: Document;
  /** Cosine distance, 0 (same direction) to 2 (opposite). */
  distance: number;
  /** Cosine similarity, 1 - distance. */
  score: number;
}

/** RAG documents: stored with client-computed chunk embeddings, searched by cosine distance. */
export class DocumentService {
  constructor(
    private readonly prisma: PrismaClient,
    /** The ingest's statement, whose embeddings parameter is too large for the ORM's raw path. */
    private readonly tenantRows: TenantRows,
    private readonly collections: DocumentCollectionService,
    private readonly maintenance: TableMaintenance,
    private readonly embeddingIndex: EmbeddingIndexService,
    /**
     * The in-process exact scan, of the real[] store and of the chunks pgvector's index does not hold
     * yet; without it (or past its memory) the SQL scan answers.
     */
    private readonly exactScan?: ExactVectorScan,
  ) {}

  /** Bytes the in-process exact scan holds now. */
  exactScanBytes(): number {
    return this.exactScan?.heldBytes() ?? 0;
  }

  /** The embedding column's kind, read from the catalog once. */
  embeddingStore(): Promise<EmbeddingStore> {
    return this.embeddingIndex.store();
  }

  /** The collection addressed, once every vector has its dimension. */
  private async checkDimensions(tenantId: string, collectionId: string | undefined, vectors: { path: string; vector: readonly number[] }[]): Promise<CollectionScope> {
    const scope = await this.collections.scope(tenantId, collectionId);
    const wrong = vectors.find(({ vector }) => vector.length !== scope.dimensions);
    if (wrong) throw new DimensionMismatchError(wrong.path, scope.dimensions, wrong.vector.length);
    return scope;
  }

  /**
   * Stores a document and all its chunks in one statement; with deferred indexing the chunks wait
   * outside the HNSW index, and searches find them from the moment this returns all the same.
   */
  async ingestDocument(tenantId: string, rawInput: unknown): Promise<Document> {
    const input = parseIngestDocument(rawInput);
    const scope = await this.checkDimensions(
      tenantId,
      input.collectionId,
      input.chunks.map((chunk, index) => ({ path: `chunks.${index}.embedding`, vector: chunk.embedding })),
    );
    const store = await this.embeddingStore();
    const indexed = this.embeddingIndex.indexesAtIngest(store);
    const ended = this.embeddingIndex.ingestStarted();
    try {
      const document = await this.storeDocument(tenantId, scope, store, indexed, input);
      // Before returning, so that the first search after a large ingest is planned on its rows.
      await this.maintenance.afterBulkWrite('public.document_chunks', input.chunks.length);
      if (!indexed) await this.embeddingIndex.afterDeferredIngest(4 * scope.dimensions * input.chunks.length);
      return document;
    } finally {
      ended();
    }
  }

  private async storeDocument(tenantId: string, scope: CollectionScope, store: EmbeddingStore, indexed: boolean, input: IngestDocumentInput): Promise<Document> {
    const embedding = embeddingValue(store, Prisma.sql`u.embedding`);
    // One statement, so no interactive transaction stays open while the index takes the chunks.
    const statement = Prisma.sql`
      WITH document AS (
        INSERT INTO documents (tenant_id, collection_id, title, source, content, metadata)
        VALUES (${tenantId}::uuid, ${scope.collectionId}::uuid, ${input.title ?? null}, ${input.source ?? null}, ${input.content}, ${JSON.stringify(input.metadata)}::jsonb)
        RETURNING id
      ), chunks AS (
        INSERT INTO document_chunks (tenant_id, document_id, collection_id, chunk_index, content, embedding, embedding_norm, embedding_indexed, metadata)
        SELECT ${tenantId}::uuid, document.id, ${scope.collectionId}::uuid, u.chunk_index, u.content, ${embedding}, u.norm, ${indexed}, u.metadata::jsonb
        FROM document, unnest(
          ${input.chunks.map((chunk) => chunk.chunkIndex)}::int[],
          ${input.chunks.map((chunk) => chunk.content)}::text[],
          ${embeddingsArray(store, input.chunks.map((chunk) => chunk.embedding))},
          ${input.chunks.map((chunk) => euclideanNorm(chunk.embedding))}::float8[],
          ${input.chunks.map((chunk) => JSON.stringify(chunk.metadata))}::text[]
        ) AS u(chunk_index, content, embedding, norm, metadata)
      )
      SELECT id::text AS id FROM document`;
    const [created] = await this.tenantRows<{ id: string }>(statement.text, statement.values);
    return this.prisma.document.findUniqueOrThrow({ where: { id: created!.id } });
  }

  /** The k chunks nearest to the embedding, with their documents, nearest first. */
  async searchDocuments(tenantId: string, rawInput: unknown): Promise<DocumentSearchHit[]> {
    const input = parseSearchDocuments(rawInput);
    const scope = await this.checkDimensions(tenantId, input.collectionId, [{ path: 'embedding', vector: input.embedding }]);
    const store = await this.embeddingStore();
    const filter = Prisma.sql`
      ${scope.collectionId === null ? Prisma.sql`AND c.collection_id IS NULL` : Prisma.sql`AND c.collection_id = ${scope.collectionId}::uuid`}
      ${input.documentIds ? Prisma.sql`AND c.document_id = ANY(${input.documentIds}::uuid[])` : Prisma.empty}
      ${input.source !== undefined ? Prisma.sql`AND c.document_id IN (SELECT d.id FROM documents d WHERE d.tenant_id = ${tenantId}::uuid AND d.source = ${input.source})` : Prisma.empty}`;
    const search = { tenantId, query: input.embedding, dimensions: scope.dimensions, k: input.k, filter };
    const scan = { tenantId, scope, query: input.embedding, k: input.k, documentIds: input.documentIds, source: input.source };
    let nearest: NearestChunk[];
    if (store.kind === 'real-array') {
      nearest = (await this.exactScan?.nearest({ ...scan, rows: 'all' })) ?? (await nearestChunks(this.prisma, store, search));
    } else {
      // The chunks outside the index first: a chunk only ever moves from them into it, so none falls between the two reads.
      const pending = (await this.exactScan?.nearest({ ...scan, rows: 'pending' })) ?? (await pendingNearestChunks(this.prisma, search));
      nearest = mergeNearest(input.k, pending, await nearestChunks(this.prisma, store, search));
    }
    if (nearest.length === 0) return [];
    const chunks = await this.prisma.documentChunk.findMany({
      where: { tenantId, id: { in: nearest.map((hit) => hit.id) } },
      include: { document: true },
    });
    const byId = new Map(chunks.map((chunk) => [chunk.id, chunk]));
    return nearest.flatMap(({ id, distance }) => {
      const found = byId.get(id);
      if (!found) return [];
      const { document, ...chunk } = found;
      return [{ chunk, document, distance, score: 1 - distance }];
    });
  }

  async deleteDocument(tenantId: string, id: string): Promise<string> {
    const { count } = await this.prisma.document.deleteMany({ where: { id, tenantId } });
    if (count === 0) throw new NotFoundError('Document', id);
    return id;
  }
}
