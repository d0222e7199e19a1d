import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateModelDocument, DeleteModelDocument, ModelByIdDocument, ModelsDocument, UpdateModelDocument, type CreateModelInput } from './generated/graphql.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

const aLocalModel = (overrides: Partial<CreateModelInput> = {}): CreateModelInput => ({
  modelId: 'mistral-7b-instruct-q4',
  name: 'Mistral 7B Instruct',
  format: 'MISTRAL',
  parameterSize: '7B',
  quantization: 'Q4_K_M',
  contextLength: 32768,
  filePath: 'models/mistral-7b-instruct.Q4_K_M.gguf',
  fileSizeMb: 4370.5,
  gpuMemoryRequiredGb: 6,
  priceInputPerMillion: '0.05',
  priceOutputPerMillion: '0.2',
  ...overrides,
});

describe.each(kinds)('model catalog over HTTP on %s', (kind) => {
  let server: TestServer;
  let operator: SignedInUser;
  let reader: SignedInUser;

  beforeAll(async () => {
    server = await startTestServer(kind);
    operator = await server.signIn({ role: 'operator' });
    reader = await server.signIn({ role: 'readonly' });
  });
  afterAll(async () => {
    await server?.close();
  });

  const create = async (input: CreateModelInput) => {
    const result = await operator.request(CreateModelDocument, { input });
    const outcome = result.data?.createModel;
    if (outcome?.__typename !== 'CreateModelSuccess') throw new Error(`model not created: ${JSON.stringify(result)}`);
    return outcome.model;
  };

  it('lets an operator add a local model file and anyone read it', async () => {
    const model = await create(aLocalModel({ metadata: { license: 'apache-2.0' } }));
    expect(model).toMatchObject({
      modelId: 'mistral-7b-instruct-q4',
      format: 'MISTRAL',
      parameterSize: '7B',
      quantization: 'Q4_K_M',
      contextLength: 32768,
      filePath: 'models/mistral-7b-instruct.Q4_K_M.gguf',
      fileSizeMb: 4370.5,
      gpuMemoryRequiredGb: 6,
      priceInputPerMillion: '0.050000',
      priceOutputPerMillion: '0.200000',
      isActive: true,
      lastUsed: null,
      metadata: { license: 'apache-2.0' },
    });
    const fetched = await reader.request(ModelByIdDocument, { id: model.id });
    expect(fetched.data?.model).toEqual(model);
  });

  it('refuses a duplicate model id and invalid fields with typed errors', async () => {
    const duplicate = await operator.request(CreateModelDocument, { input: aLocalModel() });
    expect(duplicate.data?.createModel).toMatchObject({ __typename: 'ConflictError', field: 'modelId' });
    const invalid = await operator.request(CreateModelDocument, {
      input: aLocalModel({ modelId: 'bad id; DROP TABLE models', contextLength: 0, priceInputPerMillion: '1e3' }),
    });
    const outcome = invalid.data!.createModel;
    if (outcome.__typename !== 'ValidationError') throw new Error(`unexpected ${outcome.__typename}`);
    expect(outcome.issues.map((issue) => issue.path).sort()).toEqual(['contextLength', 'modelId', 'priceInputPerMillion']);
  });

  it('updates only what is given and clears with null', async () => {
    const model = await create(aLocalModel({ modelId: 'phi-3-mini', name: 'Phi 3', format: 'PHI', quantization: 'Q5_K_M' }));
    const updated = await operator.request(UpdateModelDocument, { id: model.id, input: { isActive: false, quantization: null, priceOutputPerMillion: '1.25' } });
    const outcome = updated.data!.updateModel;
    if (outcome.__typename !== 'UpdateModelSuccess') throw new Error(`unexpected ${outcome.__typename}`);
    expect(outcome.model).toMatchObject({ modelId: 'phi-3-mini', name: 'Phi 3', isActive: false, quantization: null, priceOutputPerMillion: '1.250000', format: 'PHI' });
    const empty = await operator.request(UpdateModelDocument, { id: model.id, input: {} });
    expect(empty.data?.updateModel.__typename).toBe('ValidationError');
  });

  it('lists and filters the catalog for every tenant', async () => {
    await create(aLocalModel({ modelId: 'llama3-8b', name: 'Llama 3 8B', format: 'LLAMA3', parameterSize: '8B' }));
    await create(aLocalModel({ modelId: 'llama3-70b', name: 'Llama 3 70B', format: 'LLAMA3', parameterSize: '70B' }));
    const ids = async (filter: Record<string, unknown>, as: SignedInUser = reader) =>
      (await as.request(ModelsDocument, { first: 50, filter })).data!.models.edges.map((edge) => edge.node.modelId);
    expect(await ids({ format: 'LLAMA3' })).toEqual(['llama3-70b', 'llama3-8b']);
    expect(await ids({ format: 'LLAMA3', parameterSize: '8B' })).toEqual(['llama3-8b']);
    expect(await ids({ isActive: false })).toEqual(['phi-3-mini']);
    expect(await ids({ search: 'LLAMA 3 7' })).toEqual(['llama3-70b']);
    expect(await ids({ format: "LLAMA3' OR '1'='1" })).toEqual([]);
    expect(await ids({ search: "%' OR 1=1 --" })).toEqual([]);
    const elsewhere = await server.signIn({ role: 'user' });
    expect(await ids({ format: 'LLAMA3' }, elsewhere)).toEqual(['llama3-70b', 'llama3-8b']);

    const page = (await reader.request(ModelsDocument, { first: 2 })).data!.models;
    expect(page.edges).toHaveLength(2);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const next = (await reader.request(ModelsDocument, { first: 2, after: page.pageInfo.endCursor })).data!.models;
    expect(next.edges.map((e) => e.node.modelId)).not.toContain(page.edges[0]!.node.modelId);
  });

  it('keeps writes to operators', async () => {
    const user = await server.signIn({ role: 'user' });
    const refused = await user.request(CreateModelDocument, { input: aLocalModel({ modelId: 'user-model' }) });
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const model = (await reader.request(ModelsDocument, { first: 1 })).data!.models.edges[0]!.node;
    const deleteRefused = await reader.request(DeleteModelDocument, { id: model.id });
    expect(deleteRefused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('deletes an unused model, refuses one usage records refer to', async () => {
    const unused = await create(aLocalModel({ modelId: 'scratch-model' }));
    const deleted = await operator.request(DeleteModelDocument, { id: unused.id });
    expect(deleted.data?.deleteModel).toEqual({ __typename: 'DeleteModelSuccess', deletedId: unused.id });
    expect((await reader.request(ModelByIdDocument, { id: unused.id })).data?.model).toBeNull();
    const again = await operator.request(DeleteModelDocument, { id: unused.id });
    expect(again.data?.deleteModel.__typename).toBe('NotFoundError');

    const used = await create(aLocalModel({ modelId: 'billed-model' }));
    const modelUuid = Buffer.from(used.id, 'base64').toString('utf8').split(':')[1]!;
    await server.db.system.usageRecord.create({
      data: { tenantId: operator.tenantId, modelId: modelUuid, requestId: 'req-billed', promptTokens: 1, completionTokens: 1, totalTokens: 2, costUsd: 0 },
    });
    const refused = await operator.request(DeleteModelDocument, { id: used.id });
    expect(refused.data?.deleteModel.__typename).toBe('ConflictError');
  });
});
