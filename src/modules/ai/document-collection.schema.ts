import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { compact } from '../shared/graphql.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';
import { ConflictError, ValidationError } from '../shared/errors.js';

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

const DocumentCollectionFilter = builder.inputType('DocumentCollectionFilter', {
  fields: (t) => ({ embeddingDimensions: t.int({ required: false }) }),
});

builder.queryFields((t) => ({
  documentCollections: t.prismaConnection({
    type: 'DocumentCollection',
    cursor: 'id',
    description: "The tenant's document collections, by name",
    authScopes: { permission: 'documents:read' },
    args: { filter: t.arg({ type: DocumentCollectionFilter, required: false }) },
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(async () =>
        ctx.prisma.documentCollection.findMany({
          ...query,
          where: ctx.services.documentCollections.where(tenantOf(ctx), args.filter ? compact(args.filter) : {}),
          orderBy: [{ name: 'asc' }, { id: 'asc' }],
        }),
      ),
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
