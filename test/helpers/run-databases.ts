import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Kept between runs (a fresh install starts without it), so a run of one file skips the initdb and the migrations. */
const ARCHIVE_CACHE = path.join(REPO_ROOT, 'node_modules', '.cache', 'omega-test');

/** What a migrated embedded data folder depends on: the migrations and schema, the migrator, and the installed packages. */
async function embeddedFingerprint(): Promise<string> {
  const migrations = path.join(REPO_ROOT, 'prisma', 'migrations');
  const folders = (await readdir(migrations, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  const files = [
    ...folders.sort().map((folder) => path.join('prisma', 'migrations', folder, 'migration.sql')),
    'prisma/schema.prisma',
    'src/infra/migrator.ts',
    'src/infra/schema-engine-patches.ts',
    'src/infra/embedded-postgres.ts',
    'package-lock.json',
  ];
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${file}\0`).update(await readFile(path.join(REPO_ROOT, file)).catch(() => Buffer.alloc(0)));
  return hash.digest('hex').slice(0, 16);
}

/**
 * An uncompressed tar of a migrated embedded data folder: the cached one for these migrations and
 * packages, or one made now (initdb, then every migration, in memory) and cached.
 */
async function migratedEmbeddedArchive(): Promise<string> {
  const archive = path.join(ARCHIVE_CACHE, `embedded-${await embeddedFingerprint()}.tar`);
  if (existsSync(archive)) return archive;
  const embedded = await startEmbeddedPostgres();
  let gzipped: Blob;
  try {
    await applyMigrations(embedded.url);
    gzipped = await embedded.dumpDataDir();
  } finally {
    await embedded.close();
  }
  await mkdir(ARCHIVE_CACHE, { recursive: true });
  // Archives of earlier migrations are of no further use.
  for (const stale of await readdir(ARCHIVE_CACHE)) if (/^embedded-\w+\.tar$/.test(stale)) await rm(path.join(ARCHIVE_CACHE, stale), { force: true });
  // Uncompressed, so each server that starts from it skips the gunzip; renamed into place whole.
  const partial = `${archive}.${randomBytes(4).toString('hex')}.partial`;
  await writeFile(partial, gunzipSync(Buffer.from(await gzipped.arrayBuffer())));
  await rename(partial, archive);
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

/** Prepares the run's databases; the returned function drops the run's PostgreSQL databases. */
export async function prepareRunDatabases(withPostgres: boolean): Promise<{ provided: RunDatabases; remove(): Promise<void> }> {
  const prefix = `omega_run_${randomBytes(5).toString('hex')}`;
  const remove = async () => {
    if (withPostgres) await dropDatabasesNamed(prefix);
  };
  try {
    // One after the other: both migrations would share the one schema engine of this process.
    const postgresTemplate = withPostgres ? await migratedPostgresTemplate(prefix) : undefined;
    const embeddedArchive = await migratedEmbeddedArchive();
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

/**
 * An empty PostgreSQL database for a test of its own, named under the run's prefix so the run drops
 * it at its end with the others (a DROP DATABASE waits for a checkpoint, seconds on a busy server);
 * without a prepared run, one that drop() removes.
 */
export async function createTestDatabase(label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const { serverDatabasePrefix } = provided();
  if (serverDatabasePrefix === undefined) return createScratchDatabase(label);
  const database = await createScratchDatabase(`${serverDatabasePrefix}_${label}`);
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
