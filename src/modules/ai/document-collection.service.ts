import type { DocumentCollection, PrismaClient } from '../../generated/prisma/client.js';
import { ConflictError, NotFoundError } from '../shared/errors.js';
import { parseCreateDocumentCollection } from './document.validation.js';
import { isUniqueViolation } from '../shared/prisma-errors.js';
import { ensureEmbeddingIndex } from './vector-store.js';

/** The dimension of documents ingested without a collection: the tenant's default collection. */
export const DEFAULT_EMBEDDING_DIMENSIONS = 1536;

/** Where a document's chunks live and what dimension their embeddings have. */
export interface CollectionScope {
  collectionId: string | null;
  dimensions: number;
}

/** Document collections: each declares the embedding dimension of the model that embeds it. */
export class DocumentCollectionService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly system: PrismaClient,
  ) {}

  /** Creates the collection and, with pgvector, the HNSW index its dimension needs. */
  async createCollection(tenantId: string, rawInput: unknown): Promise<DocumentCollection> {
    const input = parseCreateDocumentCollection(rawInput);
    let collection: DocumentCollection;
    try {
      collection = await this.prisma.documentCollection.create({ data: { tenantId, ...input } });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`a collection named ${input.name} already exists`, 'name');
      throw error;
    }
    await ensureEmbeddingIndex(this.system, input.embeddingDimensions);
    return collection;
  }

  /** The collection a document or search addresses; none is the default collection. */
  async scope(tenantId: string, collectionId: string | undefined): Promise<CollectionScope> {
    if (collectionId === undefined) return { collectionId: null, dimensions: DEFAULT_EMBEDDING_DIMENSIONS };
    const found = await this.prisma.documentCollection.findFirst({ where: { id: collectionId, tenantId }, select: { embeddingDimensions: true } });
    if (!found) throw new NotFoundError('DocumentCollection', collectionId);
    return { collectionId, dimensions: found.embeddingDimensions };
  }
}
