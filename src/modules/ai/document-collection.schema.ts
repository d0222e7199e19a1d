import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { compact } from '../shared/graphql.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';
import { ConflictError, ValidationError } from '../shared/errors.js';
import { anyOf, atLeast, below, defineList, equals, textSearch } from '../shared/list-query.js';

export const DocumentCollectionRef = builder.prismaNode('DocumentCollection', {
  description: 'Documents embedded by one model: every embedding in it has the dimension it declares',
  id: { field: 'id' },
  fields: (t) => ({
    name: t.exposeString('name'),
    embeddingDimensions: t.exposeInt('embeddingDimensions'),
    embeddingModel: t.exposeString('embeddingModel', { nullable: true, description: 'The model that embeds the documents, as the client names it' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    documentCount: t.relationCount('documents'),
  }),
});

const CreateDocumentCollectionInput = builder.inputType('CreateDocumentCollectionInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    embeddingDimensions: t.int({ required: true, description: '1 to 4000, e.g. 384, 768, 1024, 1536 or 3072' }),
    embeddingModel: t.string({ required: false }),
  }),
});

const documentCollectionList = defineList({
  name: 'DocumentCollection',
  filter: {
    embeddingDimensions: equals('Int'),
    embeddingDimensionsIn: anyOf('Int', 'embeddingDimensions'),
    name: textSearch(['name']),
    embeddingModel: equals('String'),
    createdAfter: atLeast('createdAt', 'DateTime', 'Inclusive'),
    createdBefore: below('createdAt', 'DateTime', 'Exclusive'),
  },
  orderBy: { NAME: 'name', CREATED_AT: 'createdAt', EMBEDDING_DIMENSIONS: 'embeddingDimensions' },
  defaultOrder: ['NAME', 'asc'],
  tieBreakers: ['id'],
});

builder.queryFields((t) => ({
  documentCollections: t.prismaConnection({
    type: 'DocumentCollection',
    cursor: 'id',
    description: "The tenant's document collections, by name unless ordered otherwise",
    authScopes: { permission: 'documents:read' },
    args: {
      filter: t.arg({ type: documentCollectionList.Filter, required: false }),
      orderBy: t.arg({ type: [documentCollectionList.Order], required: false }),
    },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.documentCollection.count({ where: documentCollectionList.where({ tenantId: tenantOf(ctx) }, args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.documentCollection.findMany(documentCollectionList.page(query, { tenantId: tenantOf(ctx) }, args))),
  }),
}));

builder.mutationFields((t) => ({
  createDocumentCollection: t.field({
    type: DocumentCollectionRef,
    description: 'Declares a collection and the embedding dimension of its documents; the vector index for that dimension is made with it',
    authScopes: { permission: 'documents:write' },
    errors: mutationErrors('CreateDocumentCollection', 'collection', [ValidationError, ConflictError]),
    args: { input: t.arg({ type: CreateDocumentCollectionInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.documentCollections.createCollection(tenantOf(ctx), compact(args.input)),
  }),
}));
