import { spawn } from 'node:child_process';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { lockDataDir } from '../infra/embedded-postgres.js';
import { holdsEmbeddedDatabase, openEmbeddedForCommand, OperatorError, type DatabaseTarget } from './database-target.js';

export interface BackupResult {
  file: string;
  bytes: number;
  ms: number;
  /** pg_dump: PostgreSQL's custom format; pglite: a gzipped tar of the embedded data folder. */
  format: 'pg_dump' | 'pglite';
}

export interface RestoreResult extends BackupResult {
  /** Where the database that a forced embedded restore replaced was kept. */
  replacedDataKeptIn?: string;
}

/** The first bytes of each backup format, so a restore knows what it was given. */
const PG_DUMP_MAGIC = Buffer.from('PGDMP');
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const OWNED_SCHEMAS = ['public', 'security'];
// Dropped with them by a forced restore: it holds the monthly partitions of the telemetry tables.
const PARTITION_SCHEMA = 'telemetry_partitions';

/** Writes a backup of the target to `file`: pg_dump's custom format, or the embedded data folder. */
export async function backupDatabase(target: DatabaseTarget, file: string): Promise<BackupResult> {
  const started = performance.now();
  const out = path.resolve(file);
  await mkdir(path.dirname(out), { recursive: true });
  if (target.kind === 'postgresql') {
    await runPgProgram('pg_dump', ['--format=custom', '--no-owner', `--file=${out}`, `--dbname=${target.url}`], target.url);
  } else {
    if (!holdsEmbeddedDatabase(target.dataDir)) throw new OperatorError(`db:backup: there is no embedded database in ${target.dataDir}`);
    const embedded = await openEmbeddedForCommand(target.dataDir, 'db:backup');
    try {
      await writeFile(out, Buffer.from(await (await embedded.dumpDataDir()).arrayBuffer()));
    } finally {
      await embedded.close();
    }
  }
  return { file: out, bytes: (await stat(out)).size, ms: performance.now() - started, format: target.kind === 'postgresql' ? 'pg_dump' : 'pglite' };
}

/**
 * Restores a backup into the target. A target that already holds data is refused unless `force`:
 * then PostgreSQL's schemas are dropped first, and an embedded data folder is set aside, not deleted.
 */
export async function restoreDatabase(target: DatabaseTarget, file: string, options: { force?: boolean } = {}): Promise<RestoreResult> {
  const started = performance.now();
  const source = path.resolve(file);
  const format = await backupFormatOf(source);
  if (target.kind === 'postgresql') {
    if (format !== 'pg_dump') {
      throw new OperatorError('db:restore: this is a backup of the embedded database; restore it without DATABASE_URL, then copy it to PostgreSQL with db:move');
    }
    await restorePostgres(target.url, source, options.force ?? false);
    return { file: source, bytes: (await stat(source)).size, ms: performance.now() - started, format };
  }
  if (format !== 'pglite') {
    throw new OperatorError('db:restore: this is a pg_dump backup of a PostgreSQL database; restore it with DATABASE_URL set to an empty PostgreSQL database');
  }
  const replacedDataKeptIn = await restoreEmbedded(target.dataDir, source, options.force ?? false);
  return { file: source, bytes: (await stat(source)).size, ms: performance.now() - started, format, replacedDataKeptIn };
}

async function backupFormatOf(file: string): Promise<'pg_dump' | 'pglite'> {
  let head: Buffer;
  try {
    const handle = await open(file, 'r');
    try {
      head = Buffer.alloc(5);
      await handle.read(head, 0, 5, 0);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new OperatorError(`db:restore: cannot read ${file}: ${(error as Error).message}`);
  }
  if (head.subarray(0, 5).equals(PG_DUMP_MAGIC)) return 'pg_dump';
  if (head.subarray(0, 2).equals(GZIP_MAGIC)) return 'pglite';
  throw new OperatorError(`db:restore: ${file} is not a backup made by db:backup`);
}

async function restorePostgres(url: string, file: string, force: boolean): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ tables: number }>(
      `SELECT count(*)::int AS tables FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1::text[])`,
      [OWNED_SCHEMAS],
    );
    if (rows[0]!.tables > 0 && !force) {
      throw new OperatorError(`db:restore: the database already holds ${rows[0]!.tables} tables; restore into an empty database, or pass --force to replace them`);
    }
    if (rows[0]!.tables > 0) {
      await client.query(`DROP SCHEMA IF EXISTS ${PARTITION_SCHEMA} CASCADE`);
      await client.query('DROP SCHEMA IF EXISTS security CASCADE');
      await client.query('DROP SCHEMA IF EXISTS public CASCADE');
      await client.query('CREATE SCHEMA public');
    }
    // Roles belong to the server, not to a dump: the API's role must exist before its grants are restored.
    await client.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'omega_app') THEN CREATE ROLE omega_app NOLOGIN; END IF;
      IF NOT pg_has_role(current_user, 'omega_app', 'MEMBER') THEN EXECUTE format('GRANT omega_app TO %I', current_user); END IF;
    END $$`);
  } finally {
    await client.end();
  }
  await runPgProgram('pg_restore', ['--no-owner', '--single-transaction', '--exit-on-error', `--dbname=${url}`, file], url);
}

/** Loads the archive into a staging folder beside dataDir, then moves it into place. */
async function restoreEmbedded(dataDir: string, file: string, force: boolean): Promise<string | undefined> {
  if (holdsEmbeddedDatabase(dataDir) && !force) {
    throw new OperatorError(`db:restore: ${dataDir} already holds a database; choose an empty DATA_DIR, or pass --force to replace it (it is kept beside, not deleted)`);
  }
  const staging = `${dataDir}.restoring-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  try {
    const restored = await openEmbeddedForCommand(staging, 'db:restore', { loadDataDir: new Blob([await readFile(file)]) });
    await restored.close();
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  // Holding the target's lock keeps a server from starting on it while the folders change places.
  const unlock = await lockDataDir(dataDir).catch((error: unknown) => {
    throw new OperatorError(`db:restore: ${(error as Error).message}; stop the server and run db:restore again`);
  });
  let keptIn: string | undefined;
  try {
    if (holdsEmbeddedDatabase(dataDir)) {
      keptIn = `${dataDir}.before-restore-${new Date().toISOString().replace(/[-:.]/g, '')}`;
      await mkdir(keptIn);
      for (const entry of await readdir(dataDir)) if (entry !== 'embedded.lock') await rename(path.join(dataDir, entry), path.join(keptIn, entry));
    }
    for (const entry of await readdir(staging)) await rename(path.join(staging, entry), path.join(dataDir, entry));
  } finally {
    await unlock();
    await rm(staging, { recursive: true, force: true });
  }
  return keptIn;
}

/** Runs pg_dump or pg_restore; a missing program, or a failing one, becomes one clear line. */
async function runPgProgram(program: 'pg_dump' | 'pg_restore', args: string[], url: string): Promise<void> {
  const stderr: Buffer[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        reject(
          new OperatorError(
            `db:${program === 'pg_dump' ? 'backup' : 'restore'}: ${program} was not found on PATH; install PostgreSQL's client programs (the package postgresql-client, of the server's major version or newer) and run it again`,
          ),
        );
      } else reject(error);
    });
    child.on('close', (exit) => resolve(exit ?? 1));
  });
  if (code !== 0) {
    const message = Buffer.concat(stderr).toString('utf8').trim().split(url).join('<database>');
    throw new OperatorError(`${program} failed (exit ${code}): ${message}`);
  }
}
