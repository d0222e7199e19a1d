import { Prisma, type Document, type DocumentChunk, type PrismaClient } from '../../generated/prisma/client.js';
import { DimensionMismatchError, NotFoundError } from '../shared/errors.js';
import { parseDocumentFilter, parseIngestDocument, parseSearchDocuments } from './document.validation.js';
import { detectEmbeddingStore, embeddingValue, nearestChunks, realArrayLiteral, type EmbeddingStore } from './vector-store.js';

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
  private storeProbe: Promise<EmbeddingStore> | undefined;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly system: PrismaClient,
  ) {}

  /** The embedding column's kind and dimension, read from the catalog once. */
  embeddingStore(): Promise<EmbeddingStore> {
    this.storeProbe ??= detectEmbeddingStore(this.system).catch((error: unknown) => {
      this.storeProbe = undefined;
      throw error;
    });
    return this.storeProbe;
  }

  private async checkDimensions(vectors: { path: string; vector: readonly number[] }[]): Promise<EmbeddingStore> {
    const store = await this.embeddingStore();
    const expected = store.dimensions ?? vectors[0]?.vector.length ?? 0;
    const wrong = vectors.find(({ vector }) => vector.length !== expected);
    if (wrong) throw new DimensionMismatchError(wrong.path, expected, wrong.vector.length);
    return store;
  }

  /** Stores a document and all its chunks in one transaction: the chunks in one statement. */
  async ingestDocument(tenantId: string, rawInput: unknown): Promise<Document> {
    const input = parseIngestDocument(rawInput);
    const store = await this.checkDimensions(input.chunks.map((chunk, index) => ({ path: `chunks.${index}.embedding`, vector: chunk.embedding })));
    return this.prisma.$transaction(async (tx) => {
      const document = await tx.document.create({
        data: { tenantId, title: input.title, source: input.source, content: input.content, metadata: input.metadata as Prisma.InputJsonObject },
      });
      const embedding = embeddingValue(store, Prisma.sql`u.embedding`);
      await tx.$executeRaw`
        INSERT INTO document_chunks (tenant_id, document_id, chunk_index, content, embedding, metadata)
        SELECT ${tenantId}::uuid, ${document.id}::uuid, u.chunk_index, u.content, ${embedding}, u.metadata::jsonb
        FROM unnest(
          ${input.chunks.map((chunk) => chunk.chunkIndex)}::int[],
          ${input.chunks.map((chunk) => chunk.content)}::text[],
          ${input.chunks.map((chunk) => realArrayLiteral(chunk.embedding))}::text[],
          ${input.chunks.map((chunk) => JSON.stringify(chunk.metadata))}::text[]
        ) AS u(chunk_index, content, embedding, metadata)`;
      return document;
    });
  }

  /** The k chunks nearest to the embedding, with their documents, nearest first. */
  async searchDocuments(tenantId: string, rawInput: unknown): Promise<DocumentSearchHit[]> {
    const input = parseSearchDocuments(rawInput);
    const store = await this.checkDimensions([{ path: 'embedding', vector: input.embedding }]);
    const filter = Prisma.sql`
      ${input.documentIds ? Prisma.sql`AND c.document_id = ANY(${input.documentIds}::uuid[])` : Prisma.empty}
      ${input.source !== undefined ? Prisma.sql`AND c.document_id IN (SELECT d.id FROM documents d WHERE d.tenant_id = ${tenantId}::uuid AND d.source = ${input.source})` : Prisma.empty}`;
    const nearest = await nearestChunks(this.prisma, store, tenantId, input.embedding, input.k, filter);
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

  /** The Prisma filter for a documents query; values are bound, never spliced. */
  where(tenantId: string, rawFilter: unknown): Prisma.DocumentWhereInput {
    const filter = parseDocumentFilter(rawFilter);
    return {
      tenantId,
      ...(filter.source !== undefined ? { source: filter.source } : {}),
      ...(filter.search ? { title: { contains: filter.search, mode: 'insensitive' } } : {}),
    };
  }
}
