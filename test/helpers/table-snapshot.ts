import pg from 'pg';
import { quoteTable, tablesInForeignKeyOrder } from '../../src/ops/tables.js';

/** Every row of every data table, as PostgreSQL prints the row, sorted: two equal snapshots hold the same data. */
export async function snapshotTables(url: string): Promise<Record<string, string[]>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("SET TimeZone = 'UTC'");
    const snapshot: Record<string, string[]> = {};
    for (const table of await tablesInForeignKeyOrder(client)) {
      const { rows } = await client.query<{ row: string }>(`SELECT t::text AS row FROM ${quoteTable(table)} AS t`);
      snapshot[table] = rows.map((r) => r.row).sort();
    }
    return snapshot;
  } finally {
    await client.end();
  }
}

/** Tables and their row counts, for a failure message that says where two snapshots differ. */
export const rowCounts = (snapshot: Record<string, string[]>): Record<string, number> =>
  Object.fromEntries(Object.entries(snapshot).map(([table, rows]) => [table, rows.length]));
