import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret, newApiKey } from '../src/modules/identity/secrets.js';
import { runInTenant } from '../src/infra/tenant-scope.js';
import { RecordUsageDocument, UsageRecordsDocument, UsageReportDocument, type RecordUsageInput } from './generated/graphql.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { servicesOf, startTestServer, type DatabaseKind, type GraphQLClient, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

/** Prices in micro-dollars per million tokens, so expected costs are computed exactly with integers. */
interface CatalogModel {
  modelId: string;
  inputMicro: bigint;
  outputMicro: bigint;
}

/** Cost in micro-dollars: (tokens x price) / 1e6, rounded half up, as the service rounds. */
const costMicro = (model: CatalogModel, prompt: number, completion: number) =>
  (BigInt(prompt) * model.inputMicro + BigInt(completion) * model.outputMicro + 500_000n) / 1_000_000n;

const usd = (micro: bigint) => `${micro / 1_000_000n}.${(micro % 1_000_000n).toString().padStart(6, '0')}`;

async function aCatalogModel(server: TestServer, input: string, output: string): Promise<CatalogModel> {
  const modelId = `test/model-${randomBytes(3).toString('hex')}`;
  await server.db.system.model.create({
    data: { modelId, name: `Model ${modelId}`, contextLength: 8192, priceInputPerMillion: input, priceOutputPerMillion: output },
  });
  const micro = (price: string) => BigInt(price.replace('.', '').padEnd(price.indexOf('.') + 6, '0'));
  return { modelId, inputMicro: micro(input), outputMicro: micro(output) };
}

/** An API key of the user, in the tenant's prod environment, that may record and read usage. */
async function anApiKey(server: TestServer, user: SignedInUser, name: string) {
  const environment = await server.db.system.environment.upsert({
    where: { tenantId_name: { tenantId: user.tenantId, name: 'prod' } },
    create: { tenantId: user.tenantId, name: 'prod' },
    update: {},
  });
  const { key, prefix } = newApiKey();
  const row = await server.db.system.apiKey.create({
    data: {
      tenantId: user.tenantId,
      environmentId: environment.id,
      createdById: user.userId,
      name,
      keyPrefix: prefix,
      keyHash: hashSecret(key),
      scopes: ['usage:read', 'usage:write'],
      rateLimitPerMinute: 100_000,
    },
  });
  return { client: server.withHeaders({ 'x-api-key': key }), id: row.id, globalId: Buffer.from(`ApiKey:${row.id}`).toString('base64'), environmentId: environment.id };
}

async function recorded(client: GraphQLClient, input: RecordUsageInput) {
  const result = await client.request(RecordUsageDocument, { input });
  expect(result.errors).toBeUndefined();
  const outcome = result.data!.recordUsage;
  if (outcome.__typename !== 'RecordUsageSuccess') throw new Error(`not recorded: ${JSON.stringify(outcome)}`);
  return outcome.usageRecord;
}

describe.each(kinds)('usage over HTTP on %s', (kind) => {
  let server: TestServer;
  let admin: SignedInUser;
  let cheap: CatalogModel;
  let large: CatalogModel;

  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false });
    admin = await server.signIn({ role: 'admin' });
    cheap = await aCatalogModel(server, '0.150000', '0.600000');
    large = await aCatalogModel(server, '2.500000', '10.000000');
  });
  afterAll(async () => {
    await server?.close();
  });

  it("records a request at the model's prices, exactly", async () => {
    const record = await recorded(admin, { requestId: 'req-exact-1', model: cheap.modelId, promptTokens: 1234, completionTokens: 567, latencyMs: 42.5 });
    // 1234 x 0.15 + 567 x 0.60 = 525.3 micro-dollars, rounded half up to 525.
    expect(record).toMatchObject({
      requestId: 'req-exact-1',
      promptTokens: 1234,
      completionTokens: 567,
      totalTokens: 1801,
      costUsd: '0.000525',
      latencyMs: 42.5,
      model: { modelId: cheap.modelId },
      apiKey: null,
      environment: null,
    });
    expect(costMicro(cheap, 1234, 567)).toBe(525n);
  });

  it('is idempotent per request id, and refuses a different request under the same id', async () => {
    const input = { requestId: 'req-replay', model: large.modelId, promptTokens: 10, completionTokens: 20 };
    const [first, second] = await Promise.all([recorded(admin, input), recorded(admin, input)]);
    expect(second.id).toBe(first.id);
    expect(await server.db.system.usageRecord.count({ where: { tenantId: admin.tenantId, requestId: 'req-replay' } })).toBe(1);

    const changed = await admin.request(RecordUsageDocument, { input: { ...input, completionTokens: 21 } });
    expect(changed.data!.recordUsage).toMatchObject({ __typename: 'ConflictError', field: 'requestId' });
  });

  it('records an API key request under its own key and environment, and refuses another environment', async () => {
    const key = await anApiKey(server, admin, 'automation');
    const record = await recorded(key.client, { requestId: 'req-key-1', model: cheap.modelId, promptTokens: 100, completionTokens: 100 });
    expect(record.apiKey).toEqual({ id: key.globalId, name: 'automation', keyPrefix: expect.any(String) });
    expect(record.environment).toEqual({ id: Buffer.from(`Environment:${key.environmentId}`).toString('base64'), name: 'prod' });

    const elsewhere = await key.client.request(RecordUsageDocument, {
      input: { requestId: 'req-key-2', model: cheap.modelId, promptTokens: 1, completionTokens: 1, environment: 'dev' },
    });
    expect(elsewhere.data!.recordUsage).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'environment' }] });
  });

  it('refuses unknown models, unknown environments and invalid token counts with typed errors', async () => {
    const unknownModel = await admin.request(RecordUsageDocument, { input: { requestId: 'r-x1', model: 'no/such-model', promptTokens: 1, completionTokens: 1 } });
    expect(unknownModel.data!.recordUsage).toMatchObject({ __typename: 'NotFoundError', resource: 'Model', id: 'no/such-model' });

    const unknownEnvironment = await admin.request(RecordUsageDocument, {
      input: { requestId: 'r-x2', model: cheap.modelId, promptTokens: 1, completionTokens: 1, environment: 'staging' },
    });
    expect(unknownEnvironment.data!.recordUsage).toMatchObject({ __typename: 'NotFoundError', resource: 'Environment' });

    const invalid = await admin.request(RecordUsageDocument, {
      input: { requestId: 'has spaces', model: cheap.modelId, promptTokens: -1, completionTokens: 1, recordedAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    const outcome = invalid.data!.recordUsage;
    if (outcome.__typename !== 'ValidationError') throw new Error(`unexpected ${outcome.__typename}`);
    expect(outcome.issues.map((issue) => issue.path).sort()).toEqual(['promptTokens', 'requestId']);
    const future = await admin.request(RecordUsageDocument, {
      input: { requestId: 'r-future', model: cheap.modelId, promptTokens: 1, completionTokens: 1, recordedAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    expect(future.data!.recordUsage).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'recordedAt' }] });
  });

  it('lets a readonly user read usage but not record it', async () => {
    const reader = await server.signIn({ role: 'readonly', tenantId: admin.tenantId });
    const write = await reader.request(RecordUsageDocument, { input: { requestId: 'ro-1', model: cheap.modelId, promptTokens: 1, completionTokens: 1 } });
    expect(write.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const read = await reader.request(UsageReportDocument, {});
    expect(read.errors).toBeUndefined();
  });

  it('reports totals per tenant, key, model, day and month that match the sum of the recorded requests', async () => {
    const owner = await server.signIn({ role: 'admin' });
    const key = await anApiKey(server, owner, 'batch-job');
    const now = new Date();
    const days = [
      new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 3, 10)),
      new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 17, 23, 59)),
      new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1, 0, 0, 1)),
    ].filter((day) => day.getTime() <= now.getTime());
    const requests = Array.from({ length: 24 }, (_, i) => ({
      requestId: `sum-${i}`,
      model: i % 3 === 0 ? large : cheap,
      viaKey: i % 2 === 0,
      promptTokens: 1000 + i * 137,
      completionTokens: 50 + i * 71,
      recordedAt: days[i % days.length]!,
    }));
    for (const request of requests) {
      await recorded(request.viaKey ? key.client : owner, {
        requestId: request.requestId,
        model: request.model.modelId,
        promptTokens: request.promptTokens,
        completionTokens: request.completionTokens,
        recordedAt: request.recordedAt.toISOString(),
      });
    }
    const sum = (subset: typeof requests) => ({
      requests: subset.length,
      promptTokens: subset.reduce((total, r) => total + r.promptTokens, 0),
      completionTokens: subset.reduce((total, r) => total + r.completionTokens, 0),
      totalTokens: subset.reduce((total, r) => total + r.promptTokens + r.completionTokens, 0),
      costUsd: usd(subset.reduce((total, r) => total + costMicro(r.model, r.promptTokens, r.completionTokens), 0n)),
    });

    const overall = await owner.request(UsageReportDocument, {});
    expect(overall.data!.usageReport).toMatchObject({ __typename: 'UsageReportSuccess', report: { totals: sum(requests) } });

    const byModel = await owner.request(UsageReportDocument, { groupBy: ['MODEL'] });
    if (byModel.data!.usageReport.__typename !== 'UsageReportSuccess') throw new Error('no report');
    const expectedByModel = [cheap, large]
      .sort((a, b) => a.modelId.localeCompare(b.modelId))
      .map((model) => ({ model: model.modelId, totals: sum(requests.filter((r) => r.model === model)) }));
    expect(byModel.data!.usageReport.report.groups.edges.map(({ node }) => ({ model: node.model?.modelId, totals: node.totals }))).toEqual(expectedByModel);

    const byKey = await owner.request(UsageReportDocument, { groupBy: ['API_KEY'] });
    if (byKey.data!.usageReport.__typename !== 'UsageReportSuccess') throw new Error('no report');
    expect(byKey.data!.usageReport.report.groups.edges.map(({ node }) => ({ key: node.apiKey?.id ?? null, totals: node.totals }))).toEqual([
      { key: null, totals: sum(requests.filter((r) => !r.viaKey)) },
      { key: key.globalId, totals: sum(requests.filter((r) => r.viaKey)) },
    ]);

    const dayStart = (date: Date) => new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate())).toISOString();
    const byDay = await owner.request(UsageReportDocument, { period: 'DAY', first: 100 });
    if (byDay.data!.usageReport.__typename !== 'UsageReportSuccess') throw new Error('no report');
    expect(byDay.data!.usageReport.report.groups.edges.map(({ node }) => ({ periodStart: node.periodStart, totals: node.totals }))).toEqual(
      [...new Set(days.map(dayStart))].sort().map((periodStart) => ({ periodStart, totals: sum(requests.filter((r) => dayStart(r.recordedAt) === periodStart)) })),
    );

    const monthStart = (date: Date) => new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1)).toISOString();
    const byMonthAndModel = await owner.request(UsageReportDocument, { period: 'MONTH', groupBy: ['MODEL'], first: 100 });
    if (byMonthAndModel.data!.usageReport.__typename !== 'UsageReportSuccess') throw new Error('no report');
    const months = [...new Set(days.map(monthStart))].sort();
    const expectedMonthly = months.flatMap((month) =>
      [cheap, large]
        .sort((a, b) => a.modelId.localeCompare(b.modelId))
        .map((model) => ({ month, model: model.modelId, totals: sum(requests.filter((r) => monthStart(r.recordedAt) === month && r.model === model)) }))
        .filter((group) => group.totals.requests > 0),
    );
    expect(
      byMonthAndModel.data!.usageReport.report.groups.edges.map(({ node }) => ({ month: node.periodStart, model: node.model?.modelId, totals: node.totals })),
    ).toEqual(expectedMonthly);

    // Filters: one key and one model over one day.
    const filtered = await owner.request(UsageReportDocument, {
      filter: { apiKeyId: key.globalId, model: large.modelId, from: dayStart(days[0]!), to: new Date(new Date(dayStart(days[0]!)).getTime() + 86_400_000).toISOString() },
    });
    expect(filtered.data!.usageReport).toMatchObject({
      report: { totals: sum(requests.filter((r) => r.viaKey && r.model === large && dayStart(r.recordedAt) === dayStart(days[0]!))) },
    });

    // Group pages: two at a time, in the same order as one big page.
    const firstPage = await owner.request(UsageReportDocument, { period: 'DAY', groupBy: ['MODEL'], first: 2 });
    const secondPage = await owner.request(UsageReportDocument, {
      period: 'DAY',
      groupBy: ['MODEL'],
      first: 100,
      after: firstPage.data!.usageReport.__typename === 'UsageReportSuccess' ? firstPage.data!.usageReport.report.groups.pageInfo.endCursor : null,
    });
    const all = await owner.request(UsageReportDocument, { period: 'DAY', groupBy: ['MODEL'], first: 100 });
    const keyOf = (page: typeof all) =>
      page.data!.usageReport.__typename === 'UsageReportSuccess' ? page.data!.usageReport.report.groups.edges.map(({ node }) => `${node.periodStart}/${node.model?.modelId}`) : [];
    expect([...keyOf(firstPage), ...keyOf(secondPage)]).toEqual(keyOf(all));
    expect(keyOf(firstPage)).toHaveLength(2);

    // The record list agrees with the totals.
    const listed = await key.client.request(UsageRecordsDocument, { first: 100, filter: { apiKeyId: key.globalId } });
    expect(listed.data!.usageRecords.edges.map(({ node }) => node.requestId).sort()).toEqual(
      requests.filter((r) => r.viaKey).map((r) => r.requestId).sort(),
    );
  });

  it('refuses malformed report filters with a typed error', async () => {
    const result = await admin.request(UsageReportDocument, {
      filter: { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z', apiKeyId: Buffer.from('ClusterNode:x').toString('base64') },
    });
    // A global id of another type is refused at the edge, naming the argument.
    expect(result.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect(JSON.stringify(result.errors)).toContain('apiKeyId');
    const reversed = await admin.request(UsageReportDocument, { filter: { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' } });
    expect(reversed.data!.usageReport).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'to' }] });
  });

  it("never shows or counts another tenant's usage", async () => {
    const mine = await server.signIn({ role: 'admin' });
    const theirs = await server.signIn({ role: 'admin' });
    const key = await anApiKey(server, mine, 'private');
    await recorded(key.client, { requestId: 'shared-id', model: large.modelId, promptTokens: 500, completionTokens: 500 });
    // The same request id in another tenant is another request.
    const other = await recorded(theirs, { requestId: 'shared-id', model: cheap.modelId, promptTokens: 1, completionTokens: 1 });
    expect(other.costUsd).toBe('0.000001');

    const report = await theirs.request(UsageReportDocument, { groupBy: ['API_KEY'] });
    expect(report.data!.usageReport).toMatchObject({ report: { totals: { requests: 1, promptTokens: 1, completionTokens: 1, costUsd: '0.000001' } } });
    const byForeignKey = await theirs.request(UsageReportDocument, { filter: { apiKeyId: key.globalId } });
    expect(byForeignKey.data!.usageReport).toMatchObject({ report: { totals: { requests: 0, costUsd: '0.000000' } } });
    const listed = await theirs.request(UsageRecordsDocument, { first: 100, filter: { apiKeyId: key.globalId } });
    expect(listed.data!.usageRecords.edges).toEqual([]);
    const everything = await theirs.request(UsageRecordsDocument, { first: 100 });
    expect(everything.data!.usageRecords.edges.map(({ node }) => node.id)).toEqual([other.id]);
  });

  it('records through the service inside a caller transaction, and refuses keys and nodes of another tenant', async () => {
    const owner = await server.signIn({ role: 'admin' });
    const stranger = await server.signIn({ role: 'admin' });
    const foreignKey = await anApiKey(server, stranger, 'foreign');
    const { usage } = servicesOf(server);
    const { record, created } = await runInTenant(owner.tenantId, () =>
      server.db.prisma.$transaction((tx) =>
        usage.recordLlmRequest({ tenantId: owner.tenantId, modelId: large.modelId, requestId: 'svc-1', promptTokens: 400_000, completionTokens: 100_000 }, tx),
      ),
    );
    // 400k x 2.5 + 100k x 10 = 2,000,000 micro-dollars.
    expect({ created, cost: record.costUsd.toFixed(6), tenantId: record.tenantId }).toEqual({ created: true, cost: '2.000000', tenantId: owner.tenantId });
    await expect(
      runInTenant(owner.tenantId, () =>
        usage.recordLlmRequest({ tenantId: owner.tenantId, apiKeyId: foreignKey.id, modelId: large.modelId, requestId: 'svc-2', promptTokens: 1, completionTokens: 1 }),
      ),
    ).rejects.toMatchObject({ name: 'NotFoundError', resource: 'ApiKey' });
    const model = await server.db.system.model.findUniqueOrThrow({ where: { modelId: cheap.modelId } });
    // Outside any tenant scope (as from a pub/sub handler): the service enters the input's tenant itself.
    const byUuid = await usage.recordLlmRequest({ tenantId: owner.tenantId, modelId: model.id, requestId: 'svc-3', promptTokens: 1_000_000, completionTokens: 0 });
    expect({ cost: byUuid.record.costUsd.toFixed(6), tenantId: byUuid.record.tenantId }).toEqual({ cost: '0.150000', tenantId: owner.tenantId });
  });
});
