import { z } from 'zod';
import { parseInput } from '../shared/validation.js';
import { MAX_EMBEDDING_DIMENSIONS } from './vector-store.js';

export const MAX_CHUNKS_PER_DOCUMENT = 256;
export const MAX_SEARCH_RESULTS = 100;

// Embeddings are stored as float4: a larger number would be infinite there.
const FLOAT4_MAX = 3.4028234663852886e38;

/**
 * One loop over the numbers instead of a schema per element: an ingest of 256 chunks of 1,536
 * dimensions holds about 400,000 of them, and per-element checks cost more than storing them.
 */
const embedding = z.custom<number[]>((value) => Array.isArray(value), 'must be a list of numbers').superRefine((vector, ctx) => {
  if (vector.length < 1 || vector.length > MAX_EMBEDDING_DIMENSIONS) {
    ctx.addIssue({ code: 'custom', message: `must have 1 to ${MAX_EMBEDDING_DIMENSIONS} numbers, got ${vector.length}` });
    return;
  }
  let direction = false;
  for (let i = 0; i < vector.length; i++) {
    const x: unknown = vector[i];
    if (typeof x !== 'number' || !(x >= -FLOAT4_MAX && x <= FLOAT4_MAX)) {
      ctx.addIssue({ code: 'custom', path: [i], message: `must be a number from -${FLOAT4_MAX} to ${FLOAT4_MAX} (float4)` });
      return;
    }
    if (x !== 0) direction = true;
  }
  if (!direction) ctx.addIssue({ code: 'custom', message: 'must not be all zeros: cosine distance needs a direction' });
});

const chunk = z.object({
  chunkIndex: z.number().int().min(0).max(1_000_000).optional(),
  content: z.string().min(1).max(100_000),
  embedding,
  metadata: z.record(z.string(), z.unknown()).default({}),
});

const collectionId = z.guid('must be a UUID').optional();

const ingestDocument = z
  .object({
    collectionId,
    title: z.string().trim().min(1).max(255).optional(),
    source: z.string().trim().min(1).max(500).optional(),
    content: z.string().min(1).max(5_000_000),
    metadata: z.record(z.string(), z.unknown()).default({}),
    chunks: z.array(chunk).min(1).max(MAX_CHUNKS_PER_DOCUMENT),
  })
  .transform((input) => ({
    ...input,
    chunks: input.chunks.map((c, position) => ({ ...c, chunkIndex: c.chunkIndex ?? position })),
  }))
  .superRefine((input, ctx) => {
    const seen = new Set<number>();
    input.chunks.forEach((c, index) => {
      if (seen.has(c.chunkIndex)) ctx.addIssue({ code: 'custom', path: ['chunks', index, 'chunkIndex'], message: `chunk index ${c.chunkIndex} is used twice` });
      seen.add(c.chunkIndex);
    });
  });
export type IngestDocumentInput = z.output<typeof ingestDocument>;
export const parseIngestDocument = (input: unknown): IngestDocumentInput => parseInput(ingestDocument, input);

const searchDocuments = z.object({
  collectionId,
  embedding,
  k: z.number().int().min(1).max(MAX_SEARCH_RESULTS).default(5),
  documentIds: z.array(z.guid('must be a UUID')).max(1_000).optional(),
  // A filter: any text is data, compared with =.
  source: z.string().max(500).optional(),
});
export type SearchDocumentsInput = z.output<typeof searchDocuments>;
export const parseSearchDocuments = (input: unknown): SearchDocumentsInput => parseInput(searchDocuments, input);

const createDocumentCollection = z.object({
  name: z.string().trim().min(1).max(100),
  embeddingDimensions: z.number().int().min(1).max(MAX_EMBEDDING_DIMENSIONS),
  embeddingModel: z.string().trim().min(1).max(255).optional(),
});
export type CreateDocumentCollectionInput = z.output<typeof createDocumentCollection>;
export const parseCreateDocumentCollection = (input: unknown): CreateDocumentCollectionInput => parseInput(createDocumentCollection, input);
