import type { Database } from './db.js';
import type { Logger } from './logger.js';

/**
 * Keeps planner statistics current where nothing else does: PGlite runs no autovacuum, so a table
 * it never analyzed has reltuples = -1 and the planner guesses (and, for vector search, never picks
 * the HNSW index). On a server, autovacuum does this job and `disabledTableMaintenance` stands in.
 */
export interface TableMaintenance {
  /** `rows` were just written to `table` in bulk: analyzes it now when its statistics lag them. */
  afterBulkWrite(table: string, rows: number): Promise<void>;
  /** Vacuums and analyzes every table whose size moved since its statistics were taken. */
  runPass(): Promise<string[]>;
}

export const disabledTableMaintenance: TableMaintenance = {
  afterBulkWrite: async () => undefined,
  runPass: async () => [],
};

// Autovacuum's default analyze threshold: 50 rows plus 10% of the table.
const MIN_CHANGED_ROWS = 50;
const CHANGED_FRACTION = 0.1;
const MIN_CHANGED_PAGES = 8;

interface TableSize {
  name: string;
  reltuples: number;
  relpages: number;
  pages: number;
}

/**
 * Catalog reads through the owner's client; ANALYZE and VACUUM through the pool as single
 * simple-protocol statements (VACUUM cannot run inside the transactions the embedded database's
 * clients wrap statements in). Table names come from the catalog, already quoted by regclass.
 */
export function embeddedTableMaintenance({ system, pool }: Pick<Database, 'system' | 'pool'>, log: Logger): TableMaintenance {
  // Both by the catalog's name of the table (regclass text), however callers spell it.
  const writtenSinceAnalyze = new Map<string, number>();
  const inFlight = new Map<string, Promise<void>>();
  // By the caller's spelling: the catalog's name and row estimate as last read, until the next analyze moves it.
  const catalog = new Map<string, { name: string; reltuples: number }>();

  const analyze = (name: string): Promise<void> => {
    let running = inFlight.get(name);
    if (!running) {
      writtenSinceAnalyze.set(name, 0);
      running = pool
        .query(`ANALYZE ${name}`)
        .then(() => undefined)
        .finally(() => inFlight.delete(name));
      inFlight.set(name, running);
    }
    return running;
  };

  return {
    async afterBulkWrite(table, rows) {
      let stats = catalog.get(table);
      if (!stats) {
        [stats] = await system.$queryRaw<{ name: string; reltuples: number }[]>`
          SELECT oid::regclass::text AS name, reltuples::float8 AS reltuples FROM pg_class WHERE oid = to_regclass(${table})`;
        if (!stats) return;
        catalog.set(table, stats);
      }
      const written = (writtenSinceAnalyze.get(stats.name) ?? 0) + rows;
      writtenSinceAnalyze.set(stats.name, written);
      if (stats.reltuples < 0 || written >= MIN_CHANGED_ROWS + CHANGED_FRACTION * stats.reltuples) {
        catalog.delete(table);
        await analyze(stats.name);
      }
    },

    async runPass() {
      const rows = await system.$queryRaw<TableSize[]>`
        SELECT c.oid::regclass::text AS name, c.reltuples::float8 AS reltuples, c.relpages AS relpages,
               (pg_relation_size(c.oid) / current_setting('block_size')::int)::int AS pages
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE '\\_timescaledb%' AND n.nspname <> 'timescaledb_information'`;
      const stale = rows.filter(
        (table) =>
          (table.reltuples < 0 && table.pages > 0) ||
          Math.abs(table.pages - table.relpages) >= Math.max(MIN_CHANGED_PAGES, CHANGED_FRACTION * table.relpages),
      );
      for (const table of stale) {
        await pool.query(`VACUUM (ANALYZE) ${table.name}`);
        writtenSinceAnalyze.set(table.name, 0);
      }
      if (stale.length > 0) catalog.clear();
      if (stale.length > 0) log.debug('tables vacuumed and analyzed', { tables: stale.map((table) => table.name) });
      return stale.map((table) => table.name);
    },
  };
}
