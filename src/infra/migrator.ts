import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  ColumnTypeEnum,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import type {
  DiffTarget,
  MigrationList,
  SchemaContainer,
  SchemaEngine,
  SchemaFilter,
} from '@prisma/schema-engine-wasm/schema_engine_bg';
import { startEmbeddedPostgres } from './embedded-postgres.js';

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
    withEngine(databaseUrl, schemaFiles, async (engine) => {
      try {
        const output = await engine.applyMigrations({ migrationsList, filters: NO_FILTERS });
        return { applied: output.appliedMigrationNames };
      } catch (error) {
        throw await explainFailedMigration(databaseUrl, error);
      }
    }),
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
    const created = runtime.glue.SchemaEngine.new({ datamodels }, logEngineEvent, factory);
    engine = await untilCrash(runtime, created);
    return await untilCrash(runtime, fn(engine));
  } catch (error) {
    throw runtime?.crash ?? toMigrateError(error);
  } finally {
    if (engine !== undefined && runtime?.crash === undefined) engine.free();
    await pool.end().catch(() => undefined);
  }
}

function engineAdapterFactory(pool: pg.Pool): SqlMigrationAwareDriverAdapterFactory {
  const base = new PrismaPg(pool);
  return {
    provider: base.provider,
    adapterName: base.adapterName,
    async connect() {
      const adapter = await base.connect();
      const queryRaw = adapter.queryRaw.bind(adapter);
      adapter.queryRaw = async (query) => {
        const result = await queryRaw(query);
        for (const index of charColumns.get(result.rows) ?? []) {
          result.columnTypes[index] = ColumnTypeEnum.Character;
        }
        return result;
      };
      // adapter-pg splits a script on every ';', which breaks function bodies and DO blocks.
      // Prisma's native engine sends a migration as one simple-protocol query (one implicit
      // transaction); a query without parameters through executeRaw does exactly that.
      adapter.executeScript = async (script) => {
        await adapter.executeRaw({ sql: script, args: [], argTypes: [] });
      };
      return adapter;
    },
    connectToShadowDb: () => base.connectToShadowDb(),
  };
}

const CHAR_OID = 18;
const TEXT_OID = 25;
const charColumns = new WeakMap<unknown[], number[]>();

/**
 * The engine reads catalog columns of type "char" (pg_constraint.contype, ...) as characters,
 * but adapter-pg 7.10 rejects that type. pg decodes it as a string already, so it is passed
 * to the adapter as text and the adapter's result is then typed as Character.
 */
function reportCatalogCharAsText(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const patched = (...args: unknown[]): unknown => {
    const callback = args.at(-1);
    if (typeof callback === 'function') {
      args[args.length - 1] = (error: unknown, result: unknown) => callback(error, retypeCharFields(result));
      return query(...args);
    }
    const returned = query(...args);
    return returned instanceof Promise ? returned.then(retypeCharFields) : returned;
  };
  client.query = patched as typeof client.query;
}

function retypeCharFields(result: unknown): unknown {
  const results = (Array.isArray(result) ? result : [result]) as Array<Partial<pg.QueryResult> | undefined>;
  for (const { fields = [], rows } of results.filter((r) => r !== undefined)) {
    const indexes = fields.flatMap((field, index) => (field.dataTypeID === CHAR_OID ? [index] : []));
    if (indexes.length === 0 || rows === undefined) continue;
    for (const index of indexes) fields[index]!.dataTypeID = TEXT_OID;
    charColumns.set(rows, indexes);
  }
  return result;
}

function logEngineEvent(event: string): void {
  if (process.env.MIGRATE_DEBUG) process.stderr.write(`[schema-engine] ${redactUrls(event)}\n`);
}

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

// ---------------------------------------------------------------------------------------------
// Loading the WebAssembly engine

type EngineModule = typeof import('@prisma/schema-engine-wasm/schema_engine_bg');

interface EngineRuntime {
  glue: EngineModule;
  /** Set once the engine panicked; the instance is unusable from then on. */
  crash: Error | undefined;
  crashListeners: Set<(error: Error) => void>;
}

let engineRuntime: Promise<EngineRuntime> | undefined;

/**
 * The package's entry imports its .wasm as an ES module, which Node 20 allows only behind
 * --experimental-wasm-modules, a flag neither tsx nor vitest set. Its wasm-bindgen glue is a
 * plain module, so the bytes are instantiated here with the glue as the import object; that
 * works the same under tsx, vitest and plain node.
 */
async function loadEngineRuntime(): Promise<EngineRuntime> {
  engineRuntime ??= import('@prisma/schema-engine-wasm/schema_engine_bg').then((glue) => {
    // The glue holds one instance's memory; a second instance would corrupt it. The glue
    // outlives this module when a test runner re-evaluates sources but not dependencies.
    const key = Symbol.for('omega.schema-engine-wasm');
    const runtimes = ((globalThis as Record<symbol, unknown>)[key] ??= new WeakMap()) as WeakMap<
      EngineModule,
      Promise<EngineRuntime>
    >;
    let runtime = runtimes.get(glue);
    if (runtime === undefined) {
      runtime = instantiate(glue);
      runtimes.set(glue, runtime);
    }
    return runtime;
  });
  const runtime = await engineRuntime;
  if (runtime.crash !== undefined) throw runtime.crash;
  return runtime;
}

async function instantiate(glue: EngineModule): Promise<EngineRuntime> {
  const runtime: EngineRuntime = { glue, crash: undefined, crashListeners: new Set() };
  const gluePath = createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const bytes = await readFile(path.join(path.dirname(gluePath), 'schema_engine_bg.wasm'));
  let memory: WebAssembly.Memory | undefined;
  const readString = (ptr: number, len: number) =>
    memory === undefined ? '' : new TextDecoder().decode(new Uint8Array(memory.buffer, ptr, len));
  const imports = adaptImports(glue as unknown as WebAssembly.ModuleImports, readString, (message) =>
    reportCrash(runtime, message),
  );
  const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': imports });
  memory = instance.exports.memory as WebAssembly.Memory;
  glue.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  return runtime;
}

type ImportFunction = (...args: unknown[]) => unknown;

/**
 * Three changes to the glue's imports:
 * - A Rust panic reports its message (through a global registry the glue expects Prisma's CLI
 *   to install) and then traps. The message is caught here instead, and every engine call in
 *   flight is rejected with it, since a trapped engine never settles its promises.
 * - The trap itself surfaces in callbacks run from the event loop, where it would be an
 *   uncaught exception that kills the process; those callbacks swallow it.
 * - The engine arms a 10 s timer around its advisory lock and never clears it, which would
 *   hold a finished CLI open for 10 s. While it works, its connection keeps the process alive.
 */
function adaptImports(
  glue: WebAssembly.ModuleImports,
  readString: (ptr: number, len: number) => string,
  onCrash: (message: string) => void,
): WebAssembly.ModuleImports {
  const imports: WebAssembly.ModuleImports = {};
  for (const [name, value] of Object.entries(glue)) {
    if (typeof value !== 'function') {
      imports[name] = value;
    } else if (name.startsWith('__wbg_set_message_')) {
      imports[name] = (ptr: number, len: number) => onCrash(readString(ptr, len));
    } else if (name.startsWith('__wbindgen_cast_')) {
      imports[name] = (...args: unknown[]) => guardCallback((value as ImportFunction)(...args), onCrash);
    } else if (name.startsWith('__wbg_setTimeout_')) {
      imports[name] = (...args: unknown[]) => unrefTimer((value as ImportFunction)(...args));
    } else {
      imports[name] = value;
    }
  }
  return imports;
}

function guardCallback(value: unknown, onCrash: (message: string) => void): unknown {
  if (typeof value !== 'function') return value;
  const callback = value as ImportFunction & { _wbg_cb_unref?: unknown };
  const guarded = Object.assign(
    (...args: unknown[]) => {
      try {
        return callback(...args);
      } catch (error) {
        if (!(error instanceof WebAssembly.RuntimeError)) throw error;
        onCrash(error.message);
        return undefined;
      }
    },
    { _wbg_cb_unref: callback._wbg_cb_unref },
  );
  return guarded;
}

function unrefTimer(timer: unknown): unknown {
  if (timer instanceof Object && 'unref' in timer && typeof timer.unref === 'function') timer.unref();
  return timer;
}

function reportCrash(runtime: EngineRuntime, message: string): void {
  runtime.crash ??= new Error(`schema engine crashed, restart the process: ${message}`);
  for (const listener of runtime.crashListeners) listener(runtime.crash);
}

/** A crashed engine never settles its promises, so each call also waits for a crash. */
function untilCrash<T>(runtime: EngineRuntime, operation: Promise<T>): Promise<T> {
  if (runtime.crash !== undefined) return Promise.reject(runtime.crash);
  let listener: (error: Error) => void = () => undefined;
  const crashed = new Promise<never>((_, reject) => {
    listener = reject;
    runtime.crashListeners.add(listener);
  });
  return Promise.race([operation, crashed]).finally(() => runtime.crashListeners.delete(listener));
}
