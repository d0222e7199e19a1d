import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type {
  DiffTarget,
  MigrationList,
  SchemaContainer,
  SchemaEngine,
  SchemaFilter,
} from '@prisma/schema-engine-wasm/schema_engine_bg';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import {
  engineAdapterFactory,
  loadEngineRuntime,
  reportCatalogCharAsText,
  untilCrash,
  type EngineRuntime,
} from './schema-engine-patches.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const DEFAULT_MIGRATIONS_DIR = path.join(repoRoot, 'prisma', 'migrations');
const DEFAULT_SCHEMA_PATH = path.join(repoRoot, 'prisma', 'schema.prisma');
const MIGRATION_FILE = 'migration.sql';
const LOCKFILE = 'migration_lock.toml';
const NO_FILTERS: SchemaFilter = { externalTables: [], externalEnums: [] };

export interface ApplyMigrationsOptions {
  /** Defaults to prisma/migrations of this repository. */
  migrationsDir?: string;
  /** Defaults to prisma/schema.prisma when it exists; its `schemas` tell the engine which namespaces are ours. */
  schemaPath?: string;
  /** Print the schema engine's own log lines on stderr (MIGRATE_DEBUG). */
  debug?: boolean;
}

/**
 * Applies the not-yet-applied folders of migrationsDir in order, recording each in
 * `_prisma_migrations` exactly as `prisma migrate deploy` does.
 */
export async function applyMigrations(
  databaseUrl: string,
  opts: ApplyMigrationsOptions = {},
): Promise<{ applied: string[] }> {
  const migrationsList = await readMigrationsList(path.resolve(opts.migrationsDir ?? DEFAULT_MIGRATIONS_DIR));
  const schemaPath = opts.schemaPath ?? (existsSync(DEFAULT_SCHEMA_PATH) ? DEFAULT_SCHEMA_PATH : undefined);
  const schemaFiles = schemaPath === undefined ? undefined : await readSchemaFiles(schemaPath);

  return withDeployLock(databaseUrl, () =>
    withEngine(
      databaseUrl,
      schemaFiles,
      async (engine) => {
        try {
          const output = await engine.applyMigrations({ migrationsList, filters: NO_FILTERS });
          return { applied: output.appliedMigrationNames };
        } catch (error) {
          throw await explainFailedMigration(databaseUrl, error);
        }
      },
      opts.debug,
    ),
  );
}

/** The SQL that would bring the live database to the schema's datamodel; '' when they agree. */
export async function diffDatabaseToSchema(databaseUrl: string, schemaPath: string): Promise<string> {
  const files = await readSchemaFiles(schemaPath);
  const live: DiffTarget = { tag: 'schemaDatasource', files, configDir: path.dirname(files[0]!.path) };
  return withEngine(databaseUrl, files, (engine) => diffScript(engine, live, files));
}

/** The full CREATE script for a schema. */
export async function diffEmptyToSchema(schemaPath: string): Promise<string> {
  const files = await readSchemaFiles(schemaPath);
  // The engine exists only connected to a database, even for a diff that never reads it.
  const db = await startEmbeddedPostgres();
  try {
    return await withEngine(db.url, files, (engine) => diffScript(engine, { tag: 'empty' }, files));
  } finally {
    await db.close();
  }
}

async function diffScript(engine: SchemaEngine, from: DiffTarget, files: SchemaContainer[]): Promise<string> {
  const result = await engine.diff({
    from,
    to: { tag: 'schemaDatamodel', files },
    script: true,
    exitCode: null,
    filters: NO_FILTERS,
  });
  const script = result.stdout ?? '';
  const hasStatements = script.split('\n').some((line) => {
    const trimmed = line.trim();
    return trimmed !== '' && !trimmed.startsWith('--');
  });
  return hasStatements ? script : '';
}

async function readSchemaFiles(schemaPath: string): Promise<SchemaContainer[]> {
  const absolute = path.resolve(schemaPath);
  return [{ path: absolute, content: await readFile(absolute, 'utf8') }];
}

/** Reads the migrations folder the way the Prisma CLI does before handing it to the engine. */
async function readMigrationsList(baseDir: string): Promise<MigrationList> {
  const lockContent = await readFile(path.join(baseDir, LOCKFILE), 'utf8').catch(() => null);
  const entries = await readdir(baseDir, { withFileTypes: true }).catch(() => []);
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort((a, b) => a.localeCompare(b));

  const migrationDirectories = await Promise.all(
    names.map(async (name) => ({
      path: name,
      migrationFile: {
        path: MIGRATION_FILE,
        content: await readFile(path.join(baseDir, name, MIGRATION_FILE), 'utf8').then(
          (value) => ({ tag: 'ok' as const, value }),
          (error: Error) => ({ tag: 'error' as const, value: error.message }),
        ),
      },
    })),
  );

  return {
    baseDir,
    lockfile: { path: LOCKFILE, content: lockContent },
    shadowDbInitScript: '',
    migrationDirectories,
  };
}

/** Names the failed migration and the database's error, which the engine's own report buries. */
async function explainFailedMigration(databaseUrl: string, error: unknown): Promise<unknown> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ migration_name: string; logs: string | null }>(
      `SELECT migration_name, logs FROM _prisma_migrations
        WHERE finished_at IS NULL AND rolled_back_at IS NULL
        ORDER BY started_at DESC LIMIT 1`,
    );
    const failed = rows[0];
    if (failed === undefined) return error;
    const reason = (summarizeEngineText(failed.logs ?? '') || summarizeEngineText(errorMessage(error)))
      .replace(/\s*\n\s*/g, ' ')
      .replace(/\.$/, '');
    return new Error(
      `migration ${failed.migration_name} failed: ${reason}. ` +
        'No further migrations apply until it is fixed and marked rolled back in _prisma_migrations.',
      { cause: error },
    );
  } catch {
    return error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Locking

// Prisma's engine itself takes pg_advisory_lock(72707369), but gives up after 10 seconds.
// This second key, taken first, queues concurrent deploys for as long as a migration may take.
const DEPLOY_LOCK_KEY = 72707370;
const DEPLOY_LOCK_TIMEOUT_MS = 5 * 60_000;
const DEPLOY_LOCK_POLL_MS = 200;

const deploysInProcess = new Map<string, Promise<unknown>>();

/**
 * Serialises deploys to one database: across processes with an advisory lock, and within this
 * process with a queue, since all connections to PGlite share one session, on which advisory
 * locks never block.
 */
async function withDeployLock<T>(databaseUrl: string, fn: () => Promise<T>): Promise<T> {
  const previous = deploysInProcess.get(databaseUrl) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => withAdvisoryLock(databaseUrl, fn));
  deploysInProcess.set(databaseUrl, run);
  try {
    return await run;
  } finally {
    if (deploysInProcess.get(databaseUrl) === run) deploysInProcess.delete(databaseUrl);
  }
}

async function withAdvisoryLock<T>(databaseUrl: string, fn: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await acquireDeployLock(client);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw toMigrateError(error);
  }
  try {
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [DEPLOY_LOCK_KEY]).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

// Polls rather than setting lock_timeout, which on PGlite would leak into the one session
// that every connection, the application's too, shares.
async function acquireDeployLock(client: pg.Client): Promise<void> {
  const deadline = Date.now() + DEPLOY_LOCK_TIMEOUT_MS;
  for (;;) {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
      DEPLOY_LOCK_KEY,
    ]);
    if (rows[0]?.locked) return;
    if (Date.now() > deadline) {
      throw new Error('timed out waiting for another migration run on this database to finish');
    }
    await new Promise((resolve) => setTimeout(resolve, DEPLOY_LOCK_POLL_MS));
  }
}

// ---------------------------------------------------------------------------------------------
// Engine sessions

async function withEngine<T>(
  databaseUrl: string,
  schemaFiles: SchemaContainer[] | undefined,
  fn: (engine: SchemaEngine) => Promise<T>,
  debug = false,
): Promise<T> {
  // One connection, kept open: the engine's advisory lock and any session state a migration
  // sets stay on one session, as with Prisma's native engine.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1, idleTimeoutMillis: 0 });
  pool.on('connect', reportCatalogCharAsText);
  pool.on('error', () => undefined);
  let runtime: EngineRuntime | undefined;
  let engine: SchemaEngine | undefined;
  try {
    // pg's own connection errors are clearer than the engine's rendering of them.
    await pool.query('SELECT 1');
    runtime = await loadEngineRuntime();
    const datamodels = schemaFiles?.map((file): [string, string] => [file.path, file.content]);
    const factory = bindMigrationAwareSqlAdapterFactory(engineAdapterFactory(pool));
    const created = runtime.glue.SchemaEngine.new({ datamodels }, debug ? logEngineEvent : ignoreEngineEvent, factory);
    engine = await untilCrash(runtime, created);
    return await untilCrash(runtime, fn(engine));
  } catch (error) {
    throw runtime?.crash ?? toMigrateError(error);
  } finally {
    if (engine !== undefined && runtime?.crash === undefined) engine.free();
    await pool.end().catch(() => undefined);
  }
}

function logEngineEvent(event: string): void {
  process.stderr.write(`[schema-engine] ${redactUrls(event)}\n`);
}

function ignoreEngineEvent(): void {}

function redactUrls(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@\s]*@/gi, '$1***@');
}

function toMigrateError(error: unknown): Error {
  return new Error(redactUrls(summarizeEngineText(errorMessage(error))) || 'schema engine failed', {
    cause: error,
  });
}

/** Drops the engine's span trace and its generic wrapper line, keeping the database's words. */
function summarizeEngineText(text: string): string {
  return text
    .split('\n')
    .filter((line) => {
      const trimmed = line.trim();
      return trimmed !== '' && trimmed !== 'external connector error' && !/^(\d+: |with |at )/.test(trimmed);
    })
    .join('\n')
    .trim()
    .replace(/^Error querying the database: /, '');
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
