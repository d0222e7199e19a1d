/**
 * Vector search: ingest rate, search latency (p50, p95) and recall@10 of `searchDocuments`, on the
 * embedded database (pgvector, HNSW) and on PostgreSQL (TEST_DATABASE_URL; pgvector where the server
 * has it, otherwise the exact real[] scan). Embeddings are synthetic and clustered (50 topics x 10
 * sub-topics); the exact answer for recall is computed here, in process, by brute force.
 *
 *   npm run bench:vectors                                   # 20,000 chunks, 200 searches
 *   BENCH_CHUNKS=100000 npm run bench:vectors
 *   BENCH_TARGETS=pglite BENCH_DIMENSIONS=768 npm run bench:vectors
 *   BENCH_INDEX_AFTER_LOAD=1 npm run bench:vectors          # embedded: load without the index, then build it
 *   VECTOR_INDEX_DEFERRED=false BENCH_TARGETS=pglite npm run bench:vectors # embedded: each ingest inserts into the index
 *   VECTOR_SCAN_MEMORY_MB=0 BENCH_TARGETS=postgres npm run bench:vectors   # without pgvector: the SQL scan alone
 *
 * With deferred indexing (the embedded default, VECTOR_INDEX_* as the server reads them) chunks
 * that ingest left outside the HNSW index are searched first as they are (the index plus an exact
 * scan of them; BENCH_PENDING_QUERIES searches), then indexed as the background job does it, timed,
 * and searched again. "all-in" divides the chunks by ingest plus indexing (or index build) time.
 *
 * Without pgvector, searches are answered by the in-process exact scan within VECTOR_SCAN_MEMORY_MB
 * (as the server does); the first search loads the collection's vectors and is reported apart.
 * The CPU columns are this process's own time (the embedded database runs in it; PostgreSQL's server
 * work is not counted): on a shared machine they say what the work costs when wall times do not.
 * BENCH_SEARCH_BUDGET_S (default 300) caps each database's search phase: a slow path reports how
 * many of its searches fit. Ingest goes through the service 64 chunks (one document) at a time.
 */
import os from 'node:os';
import { createDatabase, type Database } from '../src/infra/db.js';
import { startEmbeddedPostgres } from '../src/infra/embedded-postgres.js';
import { createLogger } from '../src/infra/logger.js';
import { applyMigrations } from '../src/infra/migrator.js';
import { embeddedTableMaintenance } from '../src/infra/table-maintenance.js';
import { runInTenant } from '../src/infra/tenant-scope.js';
import { DocumentCollectionService } from '../src/modules/ai/document-collection.service.js';
import { DocumentService } from '../src/modules/ai/document.service.js';
import { EmbeddingIndexService } from '../src/modules/ai/embedding-index.service.js';
import { ExactVectorScan } from '../src/modules/ai/exact-vector-scan.js';
import { loadConfig } from '../src/config.js';
import { embeddingIndexName } from '../src/modules/ai/vector-store.js';
import { createScratchDatabase } from '../test/helpers/backing-services.js';

const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 20_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 200);
const DIMENSIONS = Number(process.env.BENCH_DIMENSIONS ?? 1536);
const TARGETS = (process.env.BENCH_TARGETS ?? 'pglite,postgres').split(',');
const SEARCH_BUDGET_MS = Number(process.env.BENCH_SEARCH_BUDGET_S ?? 300) * 1000;
const INDEX_AFTER_LOAD = process.env.BENCH_INDEX_AFTER_LOAD === '1';
const PENDING_QUERIES = Number(process.env.BENCH_PENDING_QUERIES ?? 50);
const PER_DOCUMENT = 64;
const K = 10;
const TOPICS = 50;
const SUBTOPICS = 10;

/** A seeded generator, so both databases and every run see the same vectors. */
function gaussian(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

function clusteredVectors(count: number, queries: number): { chunks: Float32Array[]; probes: Float32Array[] } {
  const next = gaussian(42);
  const around = (center: Float32Array, spread: number) => Float32Array.from(center, (x) => x + spread * next());
  const topics = Array.from({ length: TOPICS }, () => around(new Float32Array(DIMENSIONS), 1));
  const subtopics = topics.flatMap((topic) => Array.from({ length: SUBTOPICS }, () => around(topic, 0.5)));
  const pick = (i: number) => subtopics[(i * 7919) % subtopics.length]!;
  return {
    chunks: Array.from({ length: count }, (_, i) => around(pick(i), 0.6)),
    probes: Array.from({ length: queries }, (_, i) => around(pick(i * 31 + 5), 0.6)),
  };
}

function exactTopK(chunks: Float32Array[], norms: Float64Array, probe: Float32Array): number[] {
  let probeNorm = 0;
  for (const x of probe) probeNorm += x * x;
  probeNorm = Math.sqrt(probeNorm);
  const scored: { index: number; similarity: number }[] = [];
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    let dot = 0;
    for (let d = 0; d < DIMENSIONS; d++) dot += chunk[d]! * probe[d]!;
    const similarity = dot / (norms[i]! * probeNorm);
    if (scored.length < K || similarity > scored[scored.length - 1]!.similarity) {
      scored.push({ index: i, similarity });
      scored.sort((a, b) => b.similarity - a.similarity);
      if (scored.length > K) scored.pop();
    }
  }
  return scored.map((hit) => hit.index);
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

interface Searches {
  /** The first search, which without pgvector (or for chunks outside the index) also loads vectors into memory. */
  first: number;
  searches: number;
  /** CPU of this process per search, the first (loading) one included. */
  searchCpuMs: number;
  p50: number;
  p95: number;
  recall: number;
}

interface Result extends Searches {
  target: string;
  store: string;
  ingestSeconds: number;
  /** CPU seconds of this process over ingest and index build: the embedded database's work, which load does not inflate. */
  ingestCpuSeconds: number;
  indexBuildSeconds?: number;
  /** Chunks ingest left outside the index, for the indexing job. */
  leftToIndex: number;
  indexingSeconds?: number;
  indexingCpuSeconds?: number;
  /** Searches while those chunks were still outside the index. */
  beforeIndexing?: Searches;
  load: string;
}

async function openTarget(target: string): Promise<{ url: string; embedded: boolean; release(): Promise<void> }> {
  if (target === 'pglite') {
    const embedded = await startEmbeddedPostgres();
    return { url: embedded.url, embedded: true, release: embedded.close };
  }
  const scratch = await createScratchDatabase('omega_bench_vectors');
  return { url: scratch.url, embedded: false, release: scratch.drop };
}

async function runTarget(target: string, chunks: Float32Array[], probes: Float32Array[], truth: number[][]): Promise<Result> {
  const { url, embedded, release } = await openTarget(target);
  let db: Database | undefined;
  try {
    await applyMigrations(url);
    db = createDatabase(url, 4, { embedded });
    const log = createLogger('error');
    const collections = new DocumentCollectionService(db.prisma, db.system);
    // The in-process exact scan and the indexing under the settings the environment gives (VECTOR_*), as the server has them.
    const settings = loadConfig({ ...process.env, DATABASE_URL: embedded ? undefined : url }).database;
    const exactScan = new ExactVectorScan(db.tenantRows, settings.vectorScanMemoryBytes);
    const maintenance = embeddedTableMaintenance(db, log);
    const embeddingIndex = new EmbeddingIndexService(db.prisma, db.system, settings.embeddingIndex, maintenance);
    const documents = new DocumentService(db.prisma, db.tenantRows, collections, maintenance, embeddingIndex, exactScan);
    const store = (await documents.embeddingStore()).kind;
    const tenant = await db.system.tenant.create({ data: { name: 'Bench', slug: `bench-${Date.now()}` } });
    const collection = await runInTenant(tenant.id, () => collections.createCollection(tenant.id, { name: 'bench', embeddingDimensions: DIMENSIONS }));
    const indexName = embeddingIndexName(DIMENSIONS);
    if (INDEX_AFTER_LOAD && store === 'pgvector') await db.pool.query(`DROP INDEX IF EXISTS ${indexName}`);

    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    for (let offset = 0; offset < chunks.length; offset += PER_DOCUMENT) {
      const batch = chunks.slice(offset, offset + PER_DOCUMENT);
      await runInTenant(tenant.id, () =>
        documents.ingestDocument(tenant.id, {
          collectionId: collection.id,
          content: `document ${offset / PER_DOCUMENT}`,
          chunks: batch.map((vector, i) => ({ content: `chunk ${offset + i}`, embedding: Array.from(vector) })),
        }),
      );
      if ((offset / PER_DOCUMENT) % 50 === 0) process.stderr.write(`\r${target}: ${offset + batch.length}/${chunks.length} chunks`);
    }
    const ingestSeconds = (performance.now() - started) / 1000;
    const ingestCpu = process.cpuUsage(cpuBefore);
    process.stderr.write('\n');
    const stored = await db.system.documentChunk.findMany({ select: { id: true, content: true } });
    const chunkIds = new Map(stored.map((row) => [row.id, Number(row.content.slice('chunk '.length))]));
    let indexBuildSeconds: number | undefined;
    if (INDEX_AFTER_LOAD && store === 'pgvector') {
      const building = performance.now();
      const buildCpuBefore = process.cpuUsage();
      await db.system.$queryRaw`SELECT ensure_document_chunks_embedding_index(${DIMENSIONS}::int)`;
      await db.pool.query('ANALYZE document_chunks');
      indexBuildSeconds = (performance.now() - building) / 1000;
      const buildCpu = process.cpuUsage(buildCpuBefore);
      ingestCpu.user += buildCpu.user;
      ingestCpu.system += buildCpu.system;
    }

    const search = async (queries: number): Promise<Searches> => {
      const latencies: number[] = [];
      let found = 0;
      const searchStarted = performance.now();
      const searchCpuBefore = process.cpuUsage();
      for (let q = 0; q < queries && performance.now() - searchStarted < SEARCH_BUDGET_MS; q++) {
        const before = performance.now();
        const hits = await runInTenant(tenant.id, () =>
          documents.searchDocuments(tenant.id, { collectionId: collection.id, embedding: Array.from(probes[q]!), k: K }),
        );
        latencies.push(performance.now() - before);
        const expected = new Set(truth[q]);
        found += hits.filter((hit) => expected.has(chunkIds.get(hit.chunk.id)!)).length;
      }
      const searchCpu = process.cpuUsage(searchCpuBefore);
      const first = latencies[0] ?? NaN;
      latencies.sort((a, b) => a - b);
      return {
        first,
        searches: latencies.length,
        searchCpuMs: (searchCpu.user + searchCpu.system) / 1000 / Math.max(1, latencies.length),
        p50: percentile(latencies, 0.5),
        p95: percentile(latencies, 0.95),
        recall: found / (latencies.length * K),
      };
    };

    const leftToIndex = store === 'pgvector' ? (await embeddingIndex.pending()).chunks : 0;
    let beforeIndexing: Searches | undefined;
    let indexingSeconds: number | undefined;
    let indexingCpuSeconds: number | undefined;
    if (leftToIndex > 0) {
      beforeIndexing = await search(Math.min(PENDING_QUERIES, probes.length));
      process.stderr.write(`${target}: indexing ${leftToIndex} chunks as the job does\n`);
      const indexing = performance.now();
      const indexingCpuBefore = process.cpuUsage();
      await embeddingIndex.indexAll();
      indexingSeconds = (performance.now() - indexing) / 1000;
      const indexingCpu = process.cpuUsage(indexingCpuBefore);
      indexingCpuSeconds = (indexingCpu.user + indexingCpu.system) / 1e6;
    }
    return {
      target,
      store,
      ingestSeconds,
      ingestCpuSeconds: (ingestCpu.user + ingestCpu.system) / 1e6,
      indexBuildSeconds,
      leftToIndex,
      indexingSeconds,
      indexingCpuSeconds,
      beforeIndexing,
      ...(await search(probes.length)),
      load: load(),
    };
  } finally {
    await db?.close();
    await release();
  }
}

async function main() {
  console.log(`vector bench: ${CHUNKS} chunks x ${DIMENSIONS} dimensions, ${QUERIES} searches (k=${K}), load average ${load()}`);
  const { chunks, probes } = clusteredVectors(CHUNKS, QUERIES);
  const norms = Float64Array.from(chunks, (chunk) => Math.sqrt(chunk.reduce((sum, x) => sum + x * x, 0)));
  const exactStarted = performance.now();
  const truth = probes.map((probe) => exactTopK(chunks, norms, probe));
  const exactMs = (performance.now() - exactStarted) / probes.length;
  console.log(`exact answer in process (brute force, one thread): ${exactMs.toFixed(1)} ms per search`);
  const results: Result[] = [];
  for (const target of TARGETS) results.push(await runTarget(target, chunks, probes, truth));
  const searches = (s: Searches, of: number) =>
    `${s.first.toFixed(0)} | ${s.searches}/${of} | ${s.p50.toFixed(2)} | ${s.p95.toFixed(2)} | ${s.searchCpuMs.toFixed(1)} | ${s.recall.toFixed(3)}`;
  console.log('\n| database | store | ingest s | ingest chunks/s | ingest CPU s (this process) | index build s | left outside the index | indexing s (CPU s) | all-in chunks/s | load avg (1 5 15) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const allIn = r.ingestSeconds + (r.indexBuildSeconds ?? 0) + (r.indexingSeconds ?? 0);
    console.log(
      `| ${r.target} | ${r.store} | ${r.ingestSeconds.toFixed(1)} | ${Math.round(CHUNKS / r.ingestSeconds)} | ${r.ingestCpuSeconds.toFixed(1)} | ${r.indexBuildSeconds?.toFixed(1) ?? '-'} | ${r.leftToIndex} | ${r.indexingSeconds === undefined ? '-' : `${r.indexingSeconds.toFixed(1)} (${r.indexingCpuSeconds!.toFixed(1)})`} | ${Math.round(CHUNKS / allIn)} | ${r.load} |`,
    );
  }
  console.log('\n| database | searched | first search ms | searches | p50 ms | p95 ms | CPU ms per search | recall@10 |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    if (r.beforeIndexing) console.log(`| ${r.target} | before indexing: index + exact scan of ${r.leftToIndex} | ${searches(r.beforeIndexing, Math.min(PENDING_QUERIES, QUERIES))} |`);
    console.log(`| ${r.target} | ${r.leftToIndex > 0 ? 'after indexing' : 'as ingested'} | ${searches(r, QUERIES)} |`);
  }
}

await main();
