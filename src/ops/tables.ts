import pg from 'pg';

/** The schemas whose tables are the product's data. */
export const DATA_SCHEMAS = ['public', 'security'];

/** "schema.table" as SQL, each part quoted. */
export function quoteTable(table: string): string {
  const [schema, name] = table.split('.');
  return `${pg.escapeIdentifier(schema!)}.${pg.escapeIdentifier(name!)}`;
}

/**
 * The data tables ("schema.table"; partitions and Prisma's migration record left out), each after
 * the tables its foreign keys point to, ties broken by name so the order is stable.
 */
export async function tablesInForeignKeyOrder(client: pg.ClientBase): Promise<string[]> {
  const { rows: tables } = await client.query<{ oid: string; name: string }>(
    `SELECT c.oid::text AS oid, n.nspname || '.' || c.relname AS name
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY($1::text[]) AND c.relname <> '_prisma_migrations'
     ORDER BY 2`,
    [DATA_SCHEMAS],
  );
  const { rows: references } = await client.query<{ child: string; parent: string }>(
    "SELECT conrelid::text AS child, confrelid::text AS parent FROM pg_constraint WHERE contype = 'f' AND conrelid <> confrelid",
  );
  const nameOf = new Map(tables.map((table) => [table.oid, table.name]));
  const parents = new Map<string, Set<string>>(tables.map((table) => [table.name, new Set<string>()]));
  for (const { child, parent } of references) {
    const [childName, parentName] = [nameOf.get(child), nameOf.get(parent)];
    if (childName && parentName) parents.get(childName)!.add(parentName);
  }
  const ordered: string[] = [];
  const placed = new Set<string>();
  while (ordered.length < tables.length) {
    const ready = tables.map((table) => table.name).filter((name) => !placed.has(name) && [...parents.get(name)!].every((parent) => placed.has(parent)));
    if (ready.length === 0) throw new Error(`foreign keys form a cycle among ${tables.filter((t) => !placed.has(t.name)).map((t) => t.name).join(', ')}`);
    for (const name of ready) {
      ordered.push(name);
      placed.add(name);
    }
  }
  return ordered;
}

export interface ColumnInfo {
  name: string;
  /** The column's type as SQL, e.g. "timestamp(3) with time zone" or "vector(1536)". */
  type: string;
}

/** The columns a row is written with: generated ones are computed by the database, so left out. */
export async function columnsOf(client: pg.ClientBase, table: string): Promise<ColumnInfo[]> {
  const { rows } = await client.query<ColumnInfo>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
     WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
     ORDER BY attnum`,
    [quoteTable(table)],
  );
  return rows;
}

export async function countRows(client: pg.ClientBase, table: string): Promise<number> {
  const { rows } = await client.query<{ count: string }>(`SELECT count(*) AS count FROM ${quoteTable(table)}`);
  return Number(rows[0]!.count);
}
