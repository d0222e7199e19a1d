import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { inject } from 'vitest';
import { startEmbeddedPostgres } from '../../src/infra/embedded-postgres.js';
import { applyMigrations } from '../../src/infra/migrator.js';
import { ADMIN_DATABASE_URL, createScratchDatabase } from './backing-services.js';

/**
 * What a test run prepares once for all its files (see test/global-setup.ts): a PostgreSQL
 * database and an embedded data folder, both migrated, that test servers start from instead of
 * each migrating an empty database of its own. Servers still run their migrations on start and
 * find none left to apply.
 */
export interface RunDatabases {
  /** Name of the migrated PostgreSQL database that test databases are copied from (`CREATE DATABASE ... TEMPLATE`). */
  postgresTemplate?: string;
  /** Prefix of the names of the test servers' PostgreSQL databases, which the run drops at its end. */
  serverDatabasePrefix?: string;
  /** Path of an uncompressed tar of a migrated embedded data folder. */
  embeddedArchive?: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    runDatabases: RunDatabases;
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function onAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Migrates a new PostgreSQL database to copy test databases from. */
async function migratedPostgresTemplate(prefix: string): Promise<string> {
  const name = `${prefix}_template`;
  await onAdmin((client) => client.query(`CREATE DATABASE "${name}"`));
  await applyMigrations(withDatabase(ADMIN_DATABASE_URL, name));
  return name;
}

/** Migrates an in-memory embedded database and writes its data folder, as a tar, into `folder`. */
async function migratedEmbeddedArchive(folder: string): Promise<string> {
  const embedded = await startEmbeddedPostgres();
  let gzipped: Blob;
  try {
    await applyMigrations(embedded.url);
    gzipped = await embedded.dumpDataDir();
  } finally {
    await embedded.close();
  }
  const archive = path.join(folder, 'migrated.tar');
  // Uncompressed, so each server that starts from it skips the gunzip.
  await writeFile(archive, gunzipSync(Buffer.from(await gzipped.arrayBuffer())));
  return archive;
}

/** Drops every database whose name starts with `prefix`, a few at a time: their checkpoints coincide. */
async function dropDatabasesNamed(prefix: string): Promise<void> {
  const { rows } = await onAdmin((client) =>
    client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, [`${prefix}_`]),
  );
  const names = rows.map((row) => row.datname);
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let name = names.pop(); name !== undefined; name = names.pop()) {
        const dropped = name;
        await onAdmin((client) => client.query(`DROP DATABASE IF EXISTS "${dropped}" WITH (FORCE)`));
      }
    }),
  );
}

/** Prepares the run's databases; the returned function removes them and every test server's database. */
export async function prepareRunDatabases(withPostgres: boolean): Promise<{ provided: RunDatabases; remove(): Promise<void> }> {
  const prefix = `omega_run_${randomBytes(5).toString('hex')}`;
  const folder = await mkdtemp(path.join(tmpdir(), 'omega-run-'));
  const remove = async () => {
    await Promise.all([withPostgres ? dropDatabasesNamed(prefix) : undefined, rm(folder, { recursive: true, force: true })]);
  };
  try {
    // One after the other: both migrations would share the one schema engine of this process.
    const postgresTemplate = withPostgres ? await migratedPostgresTemplate(prefix) : undefined;
    const embeddedArchive = await migratedEmbeddedArchive(folder);
    return { provided: { postgresTemplate, serverDatabasePrefix: withPostgres ? prefix : undefined, embeddedArchive }, remove };
  } catch (error) {
    await remove().catch(() => undefined);
    throw error;
  }
}

function provided(): RunDatabases {
  try {
    return inject('runDatabases') ?? {};
  } catch {
    // Outside a test run nothing is prepared; servers then migrate their databases as a deployment does.
    return {};
  }
}

/**
 * A new PostgreSQL database for a test server: a copy of the run's migrated one, which the run drops
 * at its end (each DROP DATABASE forces a checkpoint, so many at once cost about what one does);
 * without a prepared run, an empty one that drop() removes.
 */
export async function createServerDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const { postgresTemplate, serverDatabasePrefix } = provided();
  if (postgresTemplate === undefined || serverDatabasePrefix === undefined) return createScratchDatabase();
  const database = await createScratchDatabase(serverDatabasePrefix, { template: postgresTemplate });
  return { url: database.url, drop: async () => undefined };
}

let archive: Promise<Blob | undefined> | undefined;

/** The run's migrated embedded data folder, as the archive a new embedded database loads, if the run made one. */
export function embeddedTemplate(): Promise<Blob | undefined> {
  archive ??= (async () => {
    const file = provided().embeddedArchive;
    return file === undefined ? undefined : new Blob([await readFile(file)]);
  })();
  return archive;
}
