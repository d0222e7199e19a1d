import pg from 'pg';
import { applyMigrations } from '../infra/migrator.js';
import { holdsEmbeddedDatabase, openEmbeddedForCommand, OperatorError } from './database-target.js';
import { columnsOf, countRows, quoteTable, tablesInForeignKeyOrder } from './tables.js';

export interface MoveResult {
  /** Rows copied per table (schema-qualified), in the order they were copied. */
  copied: Record<string, number>;
  ms: number;
}

const BATCH_ROWS = 1_000;
// PostgreSQL's bind message carries at most 65,535 parameters.
const MAX_PARAMETERS = 60_000;

/** Every value travels as text and is cast back by the target, so no type is reinterpreted on the way. */
const asText = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

/**
 * Copies the embedded database in `dataDir` into the empty PostgreSQL database at `targetUrl`:
 * migrations first, then every table in foreign-key order in batches, all rows in one transaction,
 * then the row counts of both sides compared.
 */
export async function moveDatabase(dataDir: string, targetUrl: string, report: (line: string) => void = () => undefined): Promise<MoveResult> {
  const started = performance.now();
  if (!holdsEmbeddedDatabase(dataDir)) throw new OperatorError(`db:move: there is no embedded database in ${dataDir}`);
  const embedded = await openEmbeddedForCommand(dataDir, 'db:move');
  const source = new pg.Client({ connectionString: embedded.url, types: asText });
  const target = new pg.Client({ connectionString: targetUrl });
  try {
    await source.connect();
    await target.connect();
    await refuseUnlessEmpty(target);
    await applyMigrations(embedded.url);
    const { applied } = await applyMigrations(targetUrl);
    report(`target migrated (${applied.length} migrations applied)`);

    await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await source.query("SET LOCAL TimeZone = 'UTC'");
    await target.query('BEGIN');
    await target.query("SET LOCAL TimeZone = 'UTC'");
    const copied: Record<string, number> = {};
    for (const table of await tablesInForeignKeyOrder(source)) {
      copied[table] = await copyTable(source, target, table);
      report(`${table}: ${copied[table]} rows`);
    }
    await advanceSequences(target);
    await target.query('COMMIT');
    await source.query('COMMIT');
    await refreshMaterializedViews(target);

    const mismatches: string[] = [];
    for (const table of Object.keys(copied)) {
      const [from, to] = [await countRows(source, table), await countRows(target, table)];
      if (from !== to) mismatches.push(`${table}: ${from} in the embedded database, ${to} in PostgreSQL`);
    }
    if (mismatches.length > 0) throw new OperatorError(`db:move: row counts differ after the copy: ${mismatches.join('; ')}`);
    const total = Object.values(copied).reduce((sum, n) => sum + n, 0);
    report(`verified: ${Object.keys(copied).length} tables, ${total} rows, counts equal on both sides`);
    return { copied, ms: performance.now() - started };
  } catch (error) {
    await target.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await source.end().catch(() => undefined);
    await target.end().catch(() => undefined);
    await embedded.close();
  }
}

/** The target may be a new database or one already migrated, but holds no row in any table. */
async function refuseUnlessEmpty(target: pg.Client): Promise<void> {
  for (const table of await tablesInForeignKeyOrder(target)) {
    const { rows } = await target.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${quoteTable(table)}) AS any`);
    if (rows[0]!.any) throw new OperatorError(`db:move: the target database is not empty (${table} has rows); move into a new database`);
  }
}

async function copyTable(source: pg.Client, target: pg.Client, table: string): Promise<number> {
  const targetColumns = await columnsOf(target, table);
  const sourceColumns = new Map((await columnsOf(source, table)).map((column) => [column.name, column]));
  const columns = targetColumns.filter((column) => sourceColumns.has(column.name));
  if (columns.length === 0) return 0;
  const names = columns.map((column) => pg.escapeIdentifier(column.name)).join(', ');
  // Without pgvector the target keeps embeddings as real[]: '[1,2]' becomes '{1,2}'.
  const castOf = columns.map((column) =>
    sourceColumns.get(column.name)!.type.startsWith('vector') && !column.type.startsWith('vector')
      ? (n: number) => `translate($${n}, '[]', '{}')::${column.type}`
      : (n: number) => `$${n}::${column.type}`,
  );
  const rowsPerStatement = Math.max(1, Math.min(BATCH_ROWS, Math.floor(MAX_PARAMETERS / columns.length)));
  const cursor = `move_${table.replace(/\W/g, '_')}`;
  await source.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${names} FROM ${quoteTable(table)}`);
  let copied = 0;
  for (;;) {
    const { rows } = await source.query<Record<string, string | null>>(`FETCH ${rowsPerStatement} FROM ${cursor}`);
    if (rows.length === 0) break;
    const values: (string | null)[] = [];
    const tuples = rows.map((row) => `(${columns.map((column, i) => castOf[i]!(values.push(row[column.name] ?? null))).join(', ')})`);
    await target.query(`INSERT INTO ${quoteTable(table)} (${names}) OVERRIDING SYSTEM VALUE VALUES ${tuples.join(', ')}`, values);
    copied += rows.length;
  }
  await source.query(`CLOSE ${cursor}`);
  return copied;
}

/** Sequences owned by copied columns continue after the highest copied value. */
async function advanceSequences(target: pg.Client): Promise<void> {
  const { rows } = await target.query<{ sequence: string; table_name: string; column_name: string }>(`
    SELECT s.oid::regclass::text AS sequence, t.oid::regclass::text AS table_name, a.attname AS column_name
    FROM pg_class s
    JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
    JOIN pg_class t ON t.oid = d.refobjid
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE s.relkind = 'S' AND n.nspname IN ('public', 'security')`);
  for (const row of rows) {
    await target.query(
      `SELECT CASE WHEN top IS NULL THEN setval($1::regclass, 1, false) ELSE setval($1::regclass, top) END
       FROM (SELECT max(${pg.escapeIdentifier(row.column_name)}) AS top FROM ${row.table_name}) AS copied`,
      [row.sequence],
    );
  }
}

async function refreshMaterializedViews(target: pg.Client): Promise<void> {
  const { rows } = await target.query<{ view: string }>("SELECT format('%I.%I', schemaname, matviewname) AS view FROM pg_matviews WHERE schemaname IN ('public', 'security')");
  for (const { view } of rows) await target.query(`REFRESH MATERIALIZED VIEW ${view}`);
}
