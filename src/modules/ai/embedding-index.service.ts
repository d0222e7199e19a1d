import { setImmediate as nextTurn } from 'node:timers/promises';
import type { PrismaClient } from '../../generated/prisma/client.js';
import type { TableMaintenance } from '../../infra/table-maintenance.js';
import { runInTenant } from '../../infra/tenant-scope.js';
import type { EmbeddingIndexSettings } from './embedding-index.settings.js';
import { detectEmbeddingStore, type EmbeddingStore } from './vector-store.js';

// A batch's statement aims at about this long: on the single-threaded embedded database every
// request waits for the statement running, so no request waits much longer than this for the job.
const BATCH_TARGET_MS = 50;
const FIRST_BATCH_ROWS = 4;
const MAX_BATCH_ROWS = 256;
// Indexed chunks reported to the statistics upkeep together, rather than a catalog read per batch.
const REPORT_ROWS = 256;
// Ingest counts as quiet once none has run for this long.
const QUIET_MS = 500;

/**
 * Brings stored chunks into pgvector's HNSW index. With deferred indexing (the embedded default) an
 * ingest stores its chunks outside the index (embedding_indexed false), which spares it the HNSW
 * insert, and a search scans those chunks exactly besides the index; this service then indexes them
 * a small batch at a time (setting the flag inserts the row into its dimension's partial index):
 * from the job while ingest is quiet, and from an ingest itself once the chunks waiting exceed
 * the backlog bound, which keeps that exact scan cheap and its memory bounded.
 */
export class EmbeddingIndexService {
  private storeProbe: Promise<EmbeddingStore> | undefined;
  private ingestsRunning = 0;
  private lastIngestAt = 0;
  /** Bytes of embeddings waiting, as this instance knows them; read from the database when unknown. */
  private backlog: number | undefined;
  private batchRows = FIRST_BATCH_ROWS;
  /** The tenant the last batch served. */
  private tenant: string | undefined;
  /** Chunks indexed since the table's statistics upkeep last heard of them. */
  private unreported = 0;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly system: PrismaClient,
    private readonly settings: EmbeddingIndexSettings,
    private readonly maintenance: TableMaintenance,
  ) {}

  /** The embedding column's kind, read from the catalog once. */
  store(): Promise<EmbeddingStore> {
    this.storeProbe ??= detectEmbeddingStore(this.system).catch((error: unknown) => {
      this.storeProbe = undefined;
      throw error;
    });
    return this.storeProbe;
  }

  /** What an ingest stores in embedding_indexed: true puts its chunks into the index at once (or there is none). */
  indexesAtIngest(store: EmbeddingStore): boolean {
    return store.kind === 'real-array' || !this.settings.deferred;
  }

  /** Marks an ingest as running, until the function returned is called: the job keeps off meanwhile. */
  ingestStarted(): () => void {
    this.ingestsRunning++;
    return () => {
      this.ingestsRunning--;
      this.lastIngestAt = performance.now();
    };
  }

  /** After an ingest stored `bytes` of embeddings outside the index: past the backlog bound, indexes the excess. */
  async afterDeferredIngest(bytes: number): Promise<void> {
    this.backlog = this.backlog === undefined ? await this.readBacklog() : this.backlog + bytes;
    // None indexed: none waits (the backlog is then 0), or another instance holds the rest.
    while (this.backlog > this.settings.backlogBytes && (await this.indexBatch()) > 0);
  }

  /** The job's run: indexes waiting chunks a batch at a time while ingest stays quiet, until none is left or the job stops. */
  async indexWhileQuiet(signal: AbortSignal): Promise<number> {
    if ((await this.store()).kind !== 'pgvector') return 0;
    let total = 0;
    while (!signal.aborted && this.quiet()) {
      const indexed = await this.indexBatch();
      if (indexed === 0) break;
      total += indexed;
      // Lets requests that arrived during the batch reach the database before the next one.
      await nextTurn();
    }
    return total;
  }

  /** Indexes every waiting chunk, quiet or not; returns how many. */
  async indexAll(): Promise<number> {
    if ((await this.store()).kind !== 'pgvector') return 0;
    let total = 0;
    for (let indexed = await this.indexBatch(); indexed > 0; indexed = await this.indexBatch()) total += indexed;
    return total;
  }

  /** Chunks waiting for the index, and their embeddings' bytes, over all tenants. */
  async pending(): Promise<{ chunks: number; bytes: number }> {
    const [row] = await this.system.$queryRaw<{ chunks: number; bytes: number }[]>`
      SELECT count(*)::int AS chunks, coalesce(sum(4 * coalesce(dc.embedding_dimensions, 1536)), 0)::float8 AS bytes
      FROM document_chunks c LEFT JOIN document_collections dc ON dc.id = c.collection_id
      WHERE NOT c.embedding_indexed`;
    return row ?? { chunks: 0, bytes: 0 };
  }

  private quiet(): boolean {
    return this.ingestsRunning === 0 && performance.now() - this.lastIngestAt >= QUIET_MS;
  }

  private async readBacklog(): Promise<number> {
    this.backlog = (await this.pending()).bytes;
    return this.backlog;
  }

  /**
   * Indexes up to one batch of waiting chunks, of the tenant the last batch served while it has
   * more, then of another; returns how many (none: none waits, or another instance holds them).
   */
  private async indexBatch(): Promise<number> {
    let indexed = this.tenant === undefined ? 0 : await this.indexTenantBatch(this.tenant);
    if (indexed === 0) {
      const [next] = await this.system.$queryRaw<{ tenantId: string }[]>`
        SELECT tenant_id::text AS "tenantId" FROM document_chunks WHERE NOT embedding_indexed LIMIT 1`;
      this.tenant = next?.tenantId;
      if (next) indexed = await this.indexTenantBatch(next.tenantId);
      else this.backlog = 0;
    }
    this.unreported += indexed;
    // The flags moved: statistics that still see the rows outside the index would mislead the planner.
    if (this.unreported >= REPORT_ROWS || (indexed === 0 && this.unreported > 0)) {
      const rows = this.unreported;
      this.unreported = 0;
      await this.maintenance.afterBulkWrite('public.document_chunks', rows);
    }
    return indexed;
  }

  /** One batch of one tenant's chunks, through the tenant's own connection (row-level security applies); each row's HNSW insert happens here. */
  private async indexTenantBatch(tenantId: string): Promise<number> {
    const rows = this.batchRows;
    const started = performance.now();
    // Awaited inside the scope: Prisma runs a query when it is awaited, and reads the tenant then.
    const indexed = await runInTenant(tenantId, async () =>
      await this.prisma.$queryRaw<{ dimensions: number | null }[]>`
        UPDATE document_chunks SET embedding_indexed = true
        WHERE id IN (SELECT id FROM document_chunks WHERE tenant_id = ${tenantId}::uuid AND NOT embedding_indexed LIMIT ${rows} FOR UPDATE SKIP LOCKED)
        RETURNING vector_dims(embedding) AS dimensions`,
    );
    const elapsed = performance.now() - started;
    if (indexed.length === rows) {
      // Toward the target, at most doubling or halving at a time, so one slow batch does not swing it far.
      const fitting = Math.floor((BATCH_TARGET_MS * rows) / Math.max(elapsed, 1));
      this.batchRows = Math.min(MAX_BATCH_ROWS, Math.max(1, Math.ceil(rows / 2), Math.min(rows * 2, fitting)));
    }
    if (this.backlog !== undefined) this.backlog = Math.max(0, this.backlog - indexed.reduce((sum, row) => sum + 4 * (row.dimensions ?? 0), 0));
    return indexed.length;
  }
}
