import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { compact } from '../shared/graphql.js';
import { ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';
import { anyOf, atLeast, atMost, below, defineList, equals, jsonContains, textSearch } from '../shared/list-query.js';

const money = (value: { toFixed(places: number): string }) => value.toFixed(6);

export const ModelRef = builder.prismaNode('Model', {
  name: 'Model',
  description: 'A model of the catalog: one CrossLogic serves, or a local model file Solo runs',
  id: { field: 'id' },
  fields: (t) => ({
    modelId: t.exposeString('modelId', { description: 'The catalog key, e.g. meta-llama/Llama-3.1-8B-Instruct' }),
    name: t.exposeString('name'),
    provider: t.exposeString('provider', { nullable: true }),
    family: t.exposeString('family', { nullable: true }),
    format: t.exposeString('format', { nullable: true, description: 'MISTRAL, LLAMA3, PHI, GGUF, safetensors, ...' }),
    parameterSize: t.exposeString('parameterSize', { nullable: true, description: '7B, 13B, ...' }),
    quantization: t.exposeString('quantization', { nullable: true, description: 'Q4_0, Q5_K_M, ...' }),
    contextLength: t.exposeInt('contextLength'),
    filePath: t.exposeString('filePath', { nullable: true }),
    fileSizeMb: t.exposeFloat('fileSizeMb', { nullable: true }),
    gpuMemoryRequiredGb: t.float({ nullable: true, resolve: (model) => model.gpuMemoryRequiredGb?.toNumber() ?? null }),
    priceInputPerMillion: t.string({ description: 'USD per million prompt tokens, exact', resolve: (model) => money(model.priceInputPerMillion) }),
    priceOutputPerMillion: t.string({ description: 'USD per million generated tokens, exact', resolve: (model) => money(model.priceOutputPerMillion) }),
    isActive: t.exposeBoolean('isActive'),
    firstAdded: t.expose('firstAdded', { type: 'DateTime' }),
    lastUsed: t.expose('lastUsed', { type: 'DateTime', nullable: true }),
    metadata: t.expose('metadata', { type: 'JSON' }),
  }),
});

const modelList = defineList({
  name: 'Model',
  filter: {
    modelId: equals('String'),
    provider: equals('String'),
    family: equals('String'),
    format: equals('String'),
    parameterSize: equals('String'),
    quantization: equals('String'),
    isActive: equals('Boolean'),
    search: textSearch(['name', 'modelId'], 'Part of the name or model id, any case'),
    modelIdIn: anyOf('String', 'modelId'),
    providerIn: anyOf('String', 'provider'),
    familyIn: anyOf('String', 'family'),
    formatIn: anyOf('String', 'format'),
    minContextLength: atLeast('contextLength', 'Int'),
    maxContextLength: atMost('contextLength', 'Int'),
    minGpuMemoryRequiredGb: atLeast('gpuMemoryRequiredGb', 'Float'),
    maxGpuMemoryRequiredGb: atMost('gpuMemoryRequiredGb', 'Float'),
    addedAfter: atLeast('firstAdded', 'DateTime', 'Inclusive'),
    addedBefore: below('firstAdded', 'DateTime', 'Exclusive'),
    metadata: jsonContains('metadata'),
  },
  orderBy: {
    MODEL_ID: 'modelId',
    NAME: 'name',
    CONTEXT_LENGTH: 'contextLength',
    FIRST_ADDED: 'firstAdded',
    PRICE_INPUT_PER_MILLION: 'priceInputPerMillion',
    PRICE_OUTPUT_PER_MILLION: 'priceOutputPerMillion',
    PROVIDER: { column: 'provider', nulls: 'last' },
    GPU_MEMORY_REQUIRED_GB: { column: 'gpuMemoryRequiredGb', nulls: 'last' },
    LAST_USED: { column: 'lastUsed', nulls: 'last' },
  },
  defaultOrder: ['MODEL_ID', 'asc'],
  tieBreakers: ['id'],
});

const CreateModelInput = builder.inputType('CreateModelInput', {
  fields: (t) => ({
    modelId: t.string({ required: true }),
    name: t.string({ required: true }),
    provider: t.string({ required: false }),
    family: t.string({ required: false }),
    format: t.string({ required: false }),
    parameterSize: t.string({ required: false }),
    quantization: t.string({ required: false }),
    contextLength: t.int({ required: true }),
    filePath: t.string({ required: false }),
    fileSizeMb: t.float({ required: false }),
    gpuMemoryRequiredGb: t.float({ required: false }),
    priceInputPerMillion: t.string({ required: false, description: 'USD, e.g. "0.15"; defaults to "0"' }),
    priceOutputPerMillion: t.string({ required: false }),
    isActive: t.boolean({ required: false }),
    metadata: t.field({ type: 'JSON', required: false }),
  }),
});

const UpdateModelInput = builder.inputType('UpdateModelInput', {
  description: 'Only the fields given change; null clears an optional one',
  fields: (t) => ({
    name: t.string({ required: false }),
    provider: t.string({ required: false }),
    family: t.string({ required: false }),
    format: t.string({ required: false }),
    parameterSize: t.string({ required: false }),
    quantization: t.string({ required: false }),
    contextLength: t.int({ required: false }),
    filePath: t.string({ required: false }),
    fileSizeMb: t.float({ required: false }),
    gpuMemoryRequiredGb: t.float({ required: false }),
    priceInputPerMillion: t.string({ required: false }),
    priceOutputPerMillion: t.string({ required: false }),
    isActive: t.boolean({ required: false }),
    metadata: t.field({ type: 'JSON', required: false }),
  }),
});

builder.queryFields((t) => ({
  models: t.prismaConnection({
    type: 'Model',
    cursor: 'id',
    description: 'The model catalog, by model id unless ordered otherwise',
    authScopes: { permission: 'models:read' },
    args: { filter: t.arg({ type: modelList.Filter, required: false }), orderBy: t.arg({ type: [modelList.Order], required: false }) },
    totalCount: (_root, args, ctx) => withGraphQLErrors(() => ctx.prisma.model.count({ where: modelList.where({}, args.filter) })),
    resolve: (query, _root, args, ctx) => withGraphQLErrors(() => ctx.prisma.model.findMany(modelList.page(query, {}, args))),
  }),
  model: t.prismaField({
    type: 'Model',
    nullable: true,
    description: 'One catalog model by its ID',
    authScopes: { permission: 'models:read' },
    args: { id: t.arg.globalID({ required: true, for: ModelRef }) },
    resolve: (query, _root, args, ctx) => ctx.prisma.model.findUnique({ ...query, where: { id: args.id.id } }),
  }),
}));

builder.mutationFields((t) => ({
  createModel: t.field({
    type: ModelRef,
    description: 'Adds a model to the catalog',
    authScopes: { permission: 'models:write' },
    errors: mutationErrors('CreateModel', 'model', [ValidationError, ConflictError]),
    args: { input: t.arg({ type: CreateModelInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.models.createModel(compact(args.input)),
  }),
  updateModel: t.field({
    type: ModelRef,
    description: 'Changes a catalog model',
    authScopes: { permission: 'models:write' },
    errors: mutationErrors('UpdateModel', 'model', [ValidationError, NotFoundError]),
    args: { id: t.arg.globalID({ required: true, for: ModelRef }), input: t.arg({ type: UpdateModelInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.models.updateModel(args.id.id, args.input),
  }),
  deleteModel: t.field({
    type: 'ID',
    description: 'Removes a model nothing refers to; deactivate one that deployments or usage records name',
    authScopes: { permission: 'models:write' },
    errors: mutationErrors('DeleteModel', 'deletedId', [NotFoundError, ConflictError]),
    args: { id: t.arg.globalID({ required: true, for: ModelRef }) },
    resolve: async (_root, args, ctx) => encodeGlobalID('Model', await ctx.services.models.deleteModel(args.id.id)),
  }),
}));

