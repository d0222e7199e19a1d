import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { compact } from '../shared/graphql.js';
import { DimensionMismatchError, NotFoundError, ValidationError } from '../shared/errors.js';
import { DocumentCollectionRef } from './document-collection.schema.js';
import type { DocumentSearchHit } from './document.service.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';
import { anyOf, atLeast, below, custom, defineList, equals, idIn, idIs, jsonContains, textSearch } from '../shared/list-query.js';

export const DocumentRef = builder.prismaNode('Document', {
  description: 'A document for retrieval-augmented generation, split into embedded chunks',
  id: { field: 'id' },
  fields: (t) => ({
    title: t.exposeString('title', { nullable: true }),
    source: t.exposeString('source', { nullable: true }),
    content: t.exposeString('content'),
    metadata: t.expose('metadata', { type: 'JSON' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    collection: t.relation('collection', { nullable: true, description: 'None: the default collection, of 1536 dimensions' }),
    chunkCount: t.relationCount('chunks'),
    chunks: t.relatedConnection('chunks', { cursor: 'id', query: () => ({ orderBy: [{ chunkIndex: 'asc' }, { id: 'asc' }] }) }),
  }),
});

export const DocumentChunkRef = builder.prismaNode('DocumentChunk', {
  description: 'One embedded piece of a document; its embedding is not served back',
  id: { field: 'id' },
  fields: (t) => ({
    chunkIndex: t.exposeInt('chunkIndex'),
    content: t.exposeString('content'),
    metadata: t.expose('metadata', { type: 'JSON' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    document: t.relation('document'),
  }),
});

const DocumentSearchHitRef = builder.objectRef<DocumentSearchHit>('DocumentSearchHit').implement({
  description: 'A chunk near the query embedding',
  fields: (t) => ({
    chunk: t.field({ type: DocumentChunkRef, resolve: (hit) => hit.chunk }),
    document: t.field({ type: DocumentRef, resolve: (hit) => hit.document }),
    distance: t.exposeFloat('distance', { description: 'Cosine distance: 0 is the same direction, 2 the opposite' }),
    score: t.exposeFloat('score', { description: 'Cosine similarity, 1 - distance' }),
  }),
});

const DocumentChunkInput = builder.inputType('DocumentChunkInput', {
  fields: (t) => ({
    chunkIndex: t.int({ required: false, description: 'Defaults to the position in the list' }),
    content: t.string({ required: true }),
    embedding: t.floatList({ required: true, description: "As many numbers as the collection's dimension (1536 without a collection)" }),
    metadata: t.field({ type: 'JSON', required: false }),
  }),
});

const IngestDocumentInput = builder.inputType('IngestDocumentInput', {
  fields: (t) => ({
    collectionId: t.globalID({ required: false, for: DocumentCollectionRef, description: 'Defaults to the default collection (1536 dimensions)' }),
    title: t.string({ required: false }),
    source: t.string({ required: false }),
    content: t.string({ required: true }),
    metadata: t.field({ type: 'JSON', required: false }),
    chunks: t.field({ type: [DocumentChunkInput], required: true, description: 'At most 256 chunks' }),
  }),
});

const documentList = defineList({
  name: 'Document',
  filter: {
    source: equals('String'),
    search: textSearch(['title'], 'Part of the title, any case'),
    sourceIn: anyOf('String', 'source'),
    collectionId: idIs(DocumentCollectionRef, 'collectionId'),
    collectionIdIn: idIn(DocumentCollectionRef, 'collectionId'),
    inDefaultCollection: custom(
      (t) => t.boolean({ required: false, description: 'Documents of the default collection (true) or of a declared one (false)' }),
      (value) => ({ collectionId: value ? null : { not: null } }),
    ),
    metadata: jsonContains('metadata'),
    createdAfter: atLeast('createdAt', 'DateTime', 'Inclusive'),
    createdBefore: below('createdAt', 'DateTime', 'Exclusive'),
    updatedAfter: atLeast('updatedAt', 'DateTime', 'Inclusive'),
    updatedBefore: below('updatedAt', 'DateTime', 'Exclusive'),
  },
  orderBy: {
    CREATED_AT: 'createdAt',
    UPDATED_AT: 'updatedAt',
    TITLE: { column: 'title', nulls: 'last' },
    SOURCE: { column: 'source', nulls: 'last' },
  },
  defaultOrder: ['CREATED_AT', 'desc'],
  tieBreakers: ['seq', 'id'],
});

const DocumentSearchFilter = builder.inputType('DocumentSearchFilter', {
  fields: (t) => ({
    documentIds: t.globalIDList({ required: false, for: DocumentRef }),
    source: t.string({ required: false }),
  }),
});

builder.queryFields((t) => ({
  documents: t.prismaConnection({
    type: 'Document',
    cursor: 'id',
    description: "The tenant's documents, newest first unless ordered otherwise",
    authScopes: { permission: 'documents:read' },
    args: { filter: t.arg({ type: documentList.Filter, required: false }), orderBy: t.arg({ type: [documentList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.document.count({ where: documentList.where({ tenantId: tenantOf(ctx) }, args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.document.findMany(documentList.page(query, { tenantId: tenantOf(ctx) }, args))),
  }),
  document: t.prismaField({
    type: 'Document',
    nullable: true,
    authScopes: { permission: 'documents:read' },
    args: { id: t.arg.globalID({ required: true, for: DocumentRef }) },
    resolve: (query, _root, args, ctx) => ctx.prisma.document.findFirst({ ...query, where: { id: args.id.id, tenantId: tenantOf(ctx) } }),
  }),
  searchDocuments: t.field({
    type: [DocumentSearchHitRef],
    description: "The k chunks of the tenant's documents nearest to an embedding by cosine distance, nearest first",
    authScopes: { permission: 'documents:read' },
    errors: mutationErrors('SearchDocuments', 'hits', [ValidationError, DimensionMismatchError, NotFoundError]),
    args: {
      collectionId: t.arg.globalID({ required: false, for: DocumentCollectionRef, description: 'Defaults to the default collection (1536 dimensions)' }),
      embedding: t.arg.floatList({ required: true }),
      k: t.arg.int({ required: false, description: 'How many chunks, 1 to 100; defaults to 5' }),
      filter: t.arg({ type: DocumentSearchFilter, required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.documents.searchDocuments(tenantOf(ctx), {
        collectionId: args.collectionId?.id,
        embedding: args.embedding,
        k: args.k ?? undefined,
        documentIds: args.filter?.documentIds?.map((id) => id.id),
        source: args.filter?.source ?? undefined,
      }),
  }),
}));

builder.mutationFields((t) => ({
  ingestDocument: t.field({
    type: DocumentRef,
    description: 'Stores a document with its chunks and their embeddings (computed by the client)',
    authScopes: { permission: 'documents:write' },
    errors: mutationErrors('IngestDocument', 'document', [ValidationError, DimensionMismatchError, NotFoundError]),
    args: { input: t.arg({ type: IngestDocumentInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.documents.ingestDocument(tenantOf(ctx), {
        ...compact(args.input),
        collectionId: args.input.collectionId?.id,
        chunks: args.input.chunks.map((chunk) => compact(chunk)),
      }),
  }),
  deleteDocument: t.field({
    type: 'ID',
    description: 'Removes a document and its chunks',
    authScopes: { permission: 'documents:write' },
    errors: mutationErrors('DeleteDocument', 'deletedId', [NotFoundError]),
    args: { id: t.arg.globalID({ required: true, for: DocumentRef }) },
    resolve: async (_root, args, ctx) => encodeGlobalID('Document', await ctx.services.documents.deleteDocument(tenantOf(ctx), args.id.id)),
  }),
}));
