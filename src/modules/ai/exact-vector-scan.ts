import { Prisma } from '../../generated/prisma/client.js';
import type { TenantRows } from '../../infra/db.js';
import type { CollectionScope } from './document-collection.service.js';
import type { NearestChunk } from './vector-store.js';

/**
 * The chunks of a collection the scan holds: all of them where embeddings are real[] (no pgvector),
 * or, with pgvector, those its HNSW index does not hold yet (embedding_indexed false).
 */
export type ExactScanRows = 'all' | 'pending';

/** What a search asks of the scan, beyond the collection: at most k hits, from these documents only. */
export interface ExactScanQuery {
  tenantId: string;
  scope: CollectionScope;
  rows: ExactScanRows;
  query: readonly number[];
  k: number;
  documentIds?: readonly string[];
  source?: string;
}

// Bytes a row costs beyond its vector: norm, document index, id string and map entry.
const ROW_OVERHEAD_BYTES = 160;
// Rows fetched per statement while loading: bounds the hex text held at once to a few megabytes.
const FETCH_BATCH = 500;

/** One collection's vectors, as they stood when the tenant's chunks had `version`. */
interface CollectionVectors {
  version: string;
  rows: ExactScanRows;
  dimensions: number;
  /** Row-major, `dimensions` floats per row, capacity for `capacity` rows. */
  vectors: Float32Array;
  norms: Float64Array;
  /** Index into `documentIds` of each row's document. */
  documentOf: Int32Array;
  ids: string[];
  rowOf: Map<string, number>;
  documentIds: string[];
  documentIndex: Map<string, number>;
  capacity: number;
  /** Over the memory bound at this version: the SQL scan answers until the chunks change. */
  tooLarge: boolean;
}

interface FetchedRow {
  id: string;
  document: string;
  norm: number;
  embedding: Uint8Array;
}

const bytesOf = (rows: number, dimensions: number) => rows * (dimensions * 4 + ROW_OVERHEAD_BYTES);

/**
 * The exact cosine scan done in process, where pgvector is missing and, with pgvector, over the
 * chunks not yet in its index: each collection's vectors held as Float32Array, so a search is one
 * tight loop instead of PostgreSQL unnesting (or detoasting) every embedding. Loaded
 * through the tenant's connection (row-level security applies) and kept current by the tenant's
 * document_chunks_version, which triggers move on at every change from any instance; only the rows
 * that changed are fetched again. Collections that do not fit `maxBytes` (least recently searched
 * ones are dropped first) are left to the SQL scan, which gives the same answer.
 */
export class ExactVectorScan {
  private readonly collections = new Map<string, CollectionVectors>();
  private readonly refreshing = new Map<string, Promise<CollectionVectors>>();

  constructor(
    /** The tenant's statements, without the ORM, whose raw path would carry each embedding as base64. */
    private readonly tenantRows: TenantRows,
    private readonly maxBytes: number,
  ) {}

  private rows<T>(statement: Prisma.Sql): Promise<T[]> {
    return this.tenantRows<T>(statement.text, statement.values);
  }

  /** Bytes held now, for all collections. */
  heldBytes(): number {
    let total = 0;
    for (const entry of this.collections.values()) if (!entry.tooLarge) total += bytesOf(entry.capacity, entry.dimensions);
    return total;
  }

  /** The k nearest chunks, nearest first (ties by id), or undefined when the collection does not fit in memory. */
  async nearest(search: ExactScanQuery): Promise<NearestChunk[] | undefined> {
    if (this.maxBytes <= 0) return undefined;
    const key = `${search.tenantId}/${search.scope.collectionId ?? ''}/${search.rows}`;
    const [current] = await this.rows<{ version: string }>(Prisma.sql`
      SELECT document_chunks_version::text AS version FROM tenants WHERE tenant_id = ${search.tenantId}::uuid`);
    if (!current) return [];
    const stale = (held: CollectionVectors | undefined): boolean =>
      !held || held.dimensions !== search.scope.dimensions || BigInt(held.version) < BigInt(current.version);
    let entry = this.collections.get(key);
    // A refresh already under way may have read the chunks before the change this search saw: then once more.
    for (let attempt = 0; attempt < 2 && stale(entry); attempt++) entry = await this.refresh(key, search.tenantId, search.scope, search.rows);
    if (!entry || entry.tooLarge) return undefined;
    // Most recently searched last, so eviction takes the first.
    this.collections.delete(key);
    this.collections.set(key, entry);
    const allowed = await this.allowedDocuments(entry, search);
    return scan(entry, search.query, search.k, allowed);
  }

  /** One refresh per collection at a time; a search arriving meanwhile waits for it. */
  private refresh(key: string, tenantId: string, scope: CollectionScope, rows: ExactScanRows): Promise<CollectionVectors> {
    let running = this.refreshing.get(key);
    if (!running) {
      running = this.load(key, tenantId, scope, rows).finally(() => this.refreshing.delete(key));
      this.refreshing.set(key, running);
    }
    return running;
  }

  private async load(key: string, tenantId: string, scope: CollectionScope, rows: ExactScanRows): Promise<CollectionVectors> {
    // The version and the ids in one statement, so they describe the same snapshot.
    const [state] = await this.rows<{ version: string; ids: string[] }>(Prisma.sql`
      SELECT t.document_chunks_version::text AS version,
             coalesce((SELECT array_agg(c.id::text) FROM document_chunks c
                       WHERE c.tenant_id = t.tenant_id AND c.embedding_norm > 0
                         ${rows === 'pending' ? Prisma.sql`AND NOT c.embedding_indexed` : Prisma.empty}
                         ${scope.collectionId === null ? Prisma.sql`AND c.collection_id IS NULL` : Prisma.sql`AND c.collection_id = ${scope.collectionId}::uuid`}), '{}') AS ids
      FROM tenants t WHERE t.tenant_id = ${tenantId}::uuid`);
    const version = state?.version ?? '';
    const ids = state?.ids ?? [];
    let entry = this.collections.get(key);
    if (entry && entry.dimensions !== scope.dimensions) entry = undefined;
    if (bytesOf(ids.length, scope.dimensions) > this.maxBytes) {
      const marker = emptyCollection(version, rows, scope.dimensions, 0);
      marker.tooLarge = true;
      this.collections.set(key, marker);
      return marker;
    }
    const wanted = new Set(ids);
    const added = entry && !entry.tooLarge ? ids.filter((id) => !entry!.rowOf.has(id)) : ids;
    const fetched: FetchedRow[] = [];
    // Binary, so nothing prints or parses decimal text: real[] as array_send writes it, pgvector's as vector_send does.
    const embedding = rows === 'pending' ? Prisma.sql`vector_send(c.embedding)` : Prisma.sql`array_send(c.embedding)`;
    for (let offset = 0; offset < added.length; offset += FETCH_BATCH) {
      const batch = added.slice(offset, offset + FETCH_BATCH);
      fetched.push(
        ...(await this.rows<FetchedRow>(Prisma.sql`
          SELECT c.id::text AS id, c.document_id::text AS document, c.embedding_norm AS norm, ${embedding} AS embedding
          FROM document_chunks c
          WHERE c.tenant_id = ${tenantId}::uuid AND c.id = ANY(${batch}::uuid[]) AND c.embedding_norm > 0`)),
      );
    }
    // Applied without awaiting, so a search never sees half of a refresh.
    const next = entry && !entry.tooLarge ? entry : emptyCollection(version, rows, scope.dimensions, ids.length);
    this.collections.delete(key);
    for (const id of [...next.ids]) if (!wanted.has(id)) removeRow(next, id);
    // Chunks leave the pending set in bulk once indexed: the memory they took goes back.
    const needed = next.ids.length + fetched.length;
    if (needed < next.capacity / 4) resize(next, needed);
    this.makeRoom(bytesOf(next.ids.length + fetched.length, scope.dimensions));
    for (const row of fetched) appendRow(next, row);
    next.version = version;
    this.collections.set(key, next);
    return next;
  }

  /** Drops the least recently searched collections until `bytes` more fit. */
  private makeRoom(bytes: number): void {
    for (const [key] of this.collections) {
      if (this.heldBytes() + bytes <= this.maxBytes) return;
      this.collections.delete(key);
    }
  }

  /** Rows' document indexes a filter admits, or undefined for all. */
  private async allowedDocuments(entry: CollectionVectors, search: ExactScanQuery): Promise<Uint8Array | undefined> {
    if (search.documentIds === undefined && search.source === undefined) return undefined;
    let documents = search.documentIds ? [...search.documentIds] : undefined;
    if (search.source !== undefined) {
      const withSource = await this.rows<{ id: string }>(Prisma.sql`
        SELECT d.id::text AS id FROM documents d WHERE d.tenant_id = ${search.tenantId}::uuid AND d.source = ${search.source}`);
      const bySource = new Set(withSource.map((row) => row.id));
      documents = (documents ?? [...bySource]).filter((id) => bySource.has(id));
    }
    const allowed = new Uint8Array(entry.documentIds.length);
    for (const id of documents ?? []) {
      const index = entry.documentIndex.get(id.toLowerCase());
      if (index !== undefined) allowed[index] = 1;
    }
    return allowed;
  }
}

function emptyCollection(version: string, rows: ExactScanRows, dimensions: number, capacity: number): CollectionVectors {
  return {
    version,
    rows,
    dimensions,
    vectors: new Float32Array(capacity * dimensions),
    norms: new Float64Array(capacity),
    documentOf: new Int32Array(capacity),
    ids: [],
    rowOf: new Map(),
    documentIds: [],
    documentIndex: new Map(),
    capacity,
    tooLarge: false,
  };
}

/** Moves the last row into the removed one's place. */
function removeRow(entry: CollectionVectors, id: string): void {
  const row = entry.rowOf.get(id);
  if (row === undefined) return;
  const last = entry.ids.length - 1;
  const d = entry.dimensions;
  if (row !== last) {
    entry.vectors.copyWithin(row * d, last * d, (last + 1) * d);
    entry.norms[row] = entry.norms[last]!;
    entry.documentOf[row] = entry.documentOf[last]!;
    entry.ids[row] = entry.ids[last]!;
    entry.rowOf.set(entry.ids[row]!, row);
  }
  entry.ids.pop();
  entry.rowOf.delete(id);
}

function appendRow(entry: CollectionVectors, row: FetchedRow): void {
  const d = entry.dimensions;
  const bytes = row.embedding;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // array_send: ndim, has-nulls flag, element type, then length and lower bound per dimension, then
  // each element as its length (4) and a big-endian float4. vector_send: the dimension and a
  // reserved word (int16 each), then the big-endian float4s.
  const [first, stride] = entry.rows === 'pending' ? [4, 4] : [24, 8];
  if (entry.rows === 'pending' ? view.getInt16(0) !== d : view.getInt32(0) !== 1 || view.getInt32(12) !== d) return;
  const at = entry.ids.length;
  if (at === entry.capacity) resize(entry, Math.max(16, Math.ceil(entry.capacity * 1.5)));
  const base = at * d;
  for (let j = 0, offset = first; j < d; j++, offset += stride) entry.vectors[base + j] = view.getFloat32(offset);
  entry.norms[at] = row.norm;
  let document = entry.documentIndex.get(row.document);
  if (document === undefined) {
    document = entry.documentIds.push(row.document) - 1;
    entry.documentIndex.set(row.document, document);
  }
  entry.documentOf[at] = document;
  entry.ids.push(row.id);
  entry.rowOf.set(row.id, at);
}

/** New arrays of `capacity` rows (at least the rows held), the rows copied over. */
function resize(entry: CollectionVectors, capacity: number): void {
  const vectors = new Float32Array(capacity * entry.dimensions);
  vectors.set(entry.vectors.subarray(0, entry.ids.length * entry.dimensions));
  const norms = new Float64Array(capacity);
  norms.set(entry.norms.subarray(0, entry.ids.length));
  const documentOf = new Int32Array(capacity);
  documentOf.set(entry.documentOf.subarray(0, entry.ids.length));
  Object.assign(entry, { vectors, norms, documentOf, capacity });
}

/**
 * Cosine distance to every row as the SQL scan computes it: the query rounded to float4, products
 * summed in double precision, divided by the stored norms; the k smallest kept, ties by id.
 */
function scan(entry: CollectionVectors, query: readonly number[], k: number, allowed: Uint8Array | undefined): NearestChunk[] {
  const d = entry.dimensions;
  const q = Float32Array.from(query);
  let queryNorm = 0;
  for (const x of query) queryNorm += x * x;
  queryNorm = Math.sqrt(queryNorm);
  const { vectors, norms, documentOf, ids } = entry;
  const best: { row: number; distance: number }[] = [];
  const before = (a: { row: number; distance: number }, b: { row: number; distance: number }) =>
    a.distance < b.distance || (a.distance === b.distance && ids[a.row]! < ids[b.row]!);
  for (let row = 0, base = 0; row < ids.length; row++, base += d) {
    if (allowed && allowed[documentOf[row]!] !== 1) continue;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let j = 0;
    for (; j + 3 < d; j += 4) {
      s0 += vectors[base + j]! * q[j]!;
      s1 += vectors[base + j + 1]! * q[j + 1]!;
      s2 += vectors[base + j + 2]! * q[j + 2]!;
      s3 += vectors[base + j + 3]! * q[j + 3]!;
    }
    for (; j < d; j++) s0 += vectors[base + j]! * q[j]!;
    const candidate = { row, distance: 1 - (s0 + s1 + s2 + s3) / (norms[row]! * queryNorm) };
    if (best.length === k && !before(candidate, best[k - 1]!)) continue;
    let at = best.length === k ? k - 1 : best.length;
    while (at > 0 && before(candidate, best[at - 1]!)) {
      best[at] = best[at - 1]!;
      at--;
    }
    best[at] = candidate;
  }
  return best.map(({ row, distance }) => ({ id: ids[row]!, distance }));
}
