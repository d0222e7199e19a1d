/**
 * Usage recording and reporting: recordUsage calls over GraphQL/HTTP with BENCH_CONCURRENCY in
 * flight (one at a time on the embedded database), then usage reports and the monthly close over BENCH_RECORDS records of BENCH_TENANTS
 * tenants, on the embedded database and on PostgreSQL (TEST_DATABASE_URL, skipped when it does
 * not answer). The bench checks that the report's total equals the sum of the rows it wrote.
 *
 *   npx tsx bench/usage.ts
 *   BENCH_CALLS=5000 BENCH_RECORDS=500000 npx tsx bench/usage.ts
 */
import { randomBytes } from 'node:crypto';
import { print } from 'graphql';
import { previousMonth } from '../src/modules/billing/billing.period.js';
import { RecordUsageDocument, UsageReportDocument } from '../test/generated/graphql.js';
import { runPostgresTests } from '../test/helpers/backing-services.js';
import { servicesOf, startTestServer, type DatabaseKind, type SignedInUser } from '../test/helpers/server.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 1_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const RECORDS = Number(process.env.BENCH_RECORDS ?? 100_000);
const TENANTS = Number(process.env.BENCH_TENANTS ?? 20);
const QUERY = print(RecordUsageDocument);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await work();
  return [result, performance.now() - started];
}

async function recordCalls(url: string, user: SignedInUser, model: string, concurrency: number): Promise<string> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < CALLS) {
        const i = next++;
        const begin = performance.now();
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...user.headers },
          body: JSON.stringify({ query: QUERY, variables: { input: { requestId: `bench-${i}`, model, promptTokens: 100 + i, completionTokens: 50 } } }),
        });
        const body = (await response.json()) as { data?: { recordUsage?: { __typename: string } } };
        if (body.data?.recordUsage?.__typename !== 'RecordUsageSuccess') throw new Error(`call ${i} failed: ${JSON.stringify(body)}`);
        latencies.push(performance.now() - begin);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return `recordUsage x${CALLS} (${concurrency} in flight): ${(CALLS / seconds).toFixed(0)}/s, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms`;
}

async function run(kind: DatabaseKind): Promise<string[]> {
  const server = await startTestServer(kind, { jobsEnabled: false });
  try {
    const modelIds = Array.from({ length: 5 }, () => `bench/model-${randomBytes(3).toString('hex')}`);
    await server.db.system.model.createMany({
      data: modelIds.map((modelId, i) => ({ modelId, name: modelId, contextLength: 8192, priceInputPerMillion: (0.1 * (i + 1)).toFixed(6), priceOutputPerMillion: (0.4 * (i + 1)).toFixed(6) })),
    });
    const models = await server.db.system.model.findMany({ where: { modelId: { in: modelIds } } });
    const admin = await server.signIn({ role: 'admin' });
    // The embedded database's socket server can interleave concurrent statements that run outside a
    // transaction (sign-in lookups among them), so calls to it go one at a time.
    const lines = [`${kind}: ${await recordCalls(server.url, admin, modelIds[0]!, kind === 'pglite' ? 1 : CONCURRENCY)}`];

    // Bulk rows for the reads: TENANTS tenants over last month, written straight to the table.
    const tenants = [admin, ...(await Promise.all(Array.from({ length: TENANTS - 1 }, () => server.signIn({ role: 'admin' }))))];
    const month = previousMonth(new Date());
    const span = month.endExclusive.getTime() - month.start.getTime();
    let expectedMicro = 0n;
    const adminMicro: bigint[] = [];
    for (let offset = 0; offset < RECORDS; offset += 10_000) {
      const rows = Array.from({ length: Math.min(10_000, RECORDS - offset) }, (_, j) => {
        const i = offset + j;
        const micro = BigInt(1 + (i % 997));
        const tenant = tenants[i % tenants.length]!;
        if (tenant === admin) adminMicro.push(micro);
        expectedMicro += micro;
        return {
          tenantId: tenant.tenantId,
          modelId: models[i % models.length]!.id,
          requestId: `bulk-${i}`,
          promptTokens: 100,
          completionTokens: 10,
          totalTokens: 110,
          costUsd: (Number(micro) / 1_000_000).toFixed(6),
          recordedAt: new Date(month.start.getTime() + ((i * 7919) % span)),
        };
      });
      await server.db.system.usageRecord.createMany({ data: rows });
    }
    const filter = { from: month.start.toISOString(), to: month.endExclusive.toISOString() };
    const reads: [string, Record<string, unknown>][] = [
      ['totals', { filter }],
      ['by day and model', { filter, period: 'DAY', groupBy: ['MODEL'], first: 100 }],
      ['by month, key and model', { filter, period: 'MONTH', groupBy: ['API_KEY', 'MODEL'], first: 100 }],
    ];
    for (const [name, variables] of reads) {
      const times: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const [result, ms] = await timed(() => admin.request(UsageReportDocument, variables as never));
        if (result.data?.usageReport.__typename !== 'UsageReportSuccess') throw new Error(`report failed: ${JSON.stringify(result)}`);
        if (name === 'totals') {
          const expected = adminMicro.reduce((sum, micro) => sum + micro, 0n);
          const got = result.data.usageReport.report.totals.costUsd;
          if (got !== `${expected / 1_000_000n}.${(expected % 1_000_000n).toString().padStart(6, '0')}`) throw new Error(`total ${got} is not the sum of the rows`);
        }
        times.push(ms);
      }
      times.sort((a, b) => a - b);
      lines.push(`${kind}: usageReport ${name} over ${Math.ceil(RECORDS / TENANTS)} of ${RECORDS} rows: median ${percentile(times, 50).toFixed(1)} ms`);
    }

    const { billing } = servicesOf(server);
    const [created, closeMs] = await timed(() => Promise.all([billing.closeMonth(month), billing.closeMonth(month)]));
    const events = created.flat().length;
    const [row] = await server.db.system.$queryRaw<{ sum: string }[]>`SELECT coalesce(sum(amount_usd), 0)::text AS sum FROM billing_events WHERE period_start = ${month.start}::date`;
    const sum = row!.sum;
    const expected = `${expectedMicro / 1_000_000n}.${(expectedMicro % 1_000_000n).toString().padStart(6, '0')}`;
    if (events !== tenants.length || sum !== expected) throw new Error(`close made ${events} events totalling ${sum}, expected ${tenants.length} totalling ${expected}`);
    lines.push(`${kind}: monthly close of ${RECORDS} rows, ${TENANTS} tenants, two closes at once: ${closeMs.toFixed(0)} ms, ${events} events, total ${sum} USD`);
    return lines;
  } finally {
    await server.close();
  }
}

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
for (const kind of kinds) for (const line of await run(kind)) console.log(line);
