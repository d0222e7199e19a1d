import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import type { EncryptionConfig } from '../config.js';
import { lockDataDir } from '../infra/embedded-postgres.js';
import { EMBEDDED_KEY_FILE, parseEncryptionKey } from '../infra/secret-box.js';
import { holdsEmbeddedDatabase, openEmbeddedForCommand, OperatorError, type DatabaseTarget } from './database-target.js';
import { sealedKeyIds } from './secrets.js';

export interface BackupResult {
  file: string;
  bytes: number;
  ms: number;
  /** pg_dump: PostgreSQL's custom format; pglite: a gzipped tar of the embedded data folder. */
  format: 'pg_dump' | 'pglite';
  secrets: SealedSecrets;
}

/** The keys a backup's sealed secrets need, and the one it carries (the embedded database's generated key). */
export interface SealedSecrets {
  keyIds: string[];
  carriedKeyId?: string;
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

/**
 * Writes a backup of the target to `file`, readable by its owner only: pg_dump's custom format, or
 * the embedded data folder, which holds the key the embedded default generated for its secrets.
 */
export async function backupDatabase(target: DatabaseTarget, file: string): Promise<BackupResult> {
  const started = performance.now();
  const out = path.resolve(file);
  await mkdir(path.dirname(out), { recursive: true });
  let secrets: SealedSecrets;
  if (target.kind === 'postgresql') {
    secrets = { keyIds: await withClient(target.url, sealedKeyIds) };
    // pg_dump keeps the mode of a file that exists.
    await writePrivately(out, Buffer.alloc(0));
    await runPgProgram('pg_dump', ['--format=custom', '--no-owner', `--file=${out}`], target.url);
  } else {
    if (!holdsEmbeddedDatabase(target.dataDir)) throw new OperatorError(`db:backup: there is no embedded database in ${target.dataDir}`);
    const embedded = await openEmbeddedForCommand(target.dataDir, 'db:backup');
    try {
      const carried = await keptKeyIn(target.dataDir, 'db:backup');
      secrets = { keyIds: await withClient(embedded.url, sealedKeyIds), carriedKeyId: carried?.id };
      const archive = Buffer.from(await (await embedded.dumpDataDir()).arrayBuffer());
      // PGlite archives the whole data folder, key included; a backup without it could not open its secrets.
      if (carried && !tarHolds(gunzipSync(archive), EMBEDDED_KEY_FILE)) {
        throw new OperatorError(`db:backup: the archive of ${target.dataDir} lacks its ${EMBEDDED_KEY_FILE}, so no backup was written`);
      }
      await writePrivately(out, archive);
    } finally {
      await embedded.close();
    }
  }
  return { file: out, bytes: (await stat(out)).size, ms: performance.now() - started, format: target.kind === 'postgresql' ? 'pg_dump' : 'pglite', secrets };
}

/** One line on the keys a backup's secrets need, for the operator commands to print; undefined when none is sealed. */
export function secretsNote({ keyIds, carriedKeyId }: SealedSecrets): string | undefined {
  if (keyIds.length === 0) return undefined;
  const outside = keyIds.filter((id) => id !== carriedKeyId);
  if (outside.length === 0) return `its secrets are sealed with key ${carriedKeyId}, which the backup holds: keep the file as private as the key`;
  return `its secrets are sealed with key ${outside.join(', ')}, which the backup does not hold: keep that ENCRYPTION_KEY, a restore needs it`;
}

/**
 * Restores a backup into the target. A target that already holds data is refused unless `force`:
 * then PostgreSQL's schemas are dropped first, and an embedded data folder is set aside, not deleted.
 * `encryption` is the configuration the server will run with: a backup whose secrets it could not
 * open is refused before anything changes.
 */
export async function restoreDatabase(
  target: DatabaseTarget,
  file: string,
  options: { force?: boolean; encryption?: EncryptionConfig } = {},
): Promise<RestoreResult> {
  const started = performance.now();
  const source = path.resolve(file);
  const format = await backupFormatOf(source);
  const encryption = options.encryption ?? { key: undefined, previousKeys: [] };
  if (target.kind === 'postgresql') {
    if (format !== 'pg_dump') {
      throw new OperatorError('db:restore: this is a backup of the embedded database; restore it without DATABASE_URL, then copy it to PostgreSQL with db:move');
    }
    const secrets = { keyIds: await dumpKeyIds(source) };
    refuseUnopenableSecrets(secrets, encryption, undefined);
    await restorePostgres(target.url, source, options.force ?? false);
    return { file: source, bytes: (await stat(source)).size, ms: performance.now() - started, format, secrets };
  }
  if (format !== 'pglite') {
    throw new OperatorError('db:restore: this is a pg_dump backup of a PostgreSQL database; restore it with DATABASE_URL set to an empty PostgreSQL database');
  }
  const { replacedDataKeptIn, secrets } = await restoreEmbedded(target.dataDir, source, options.force ?? false, encryption);
  return { file: source, bytes: (await stat(source)).size, ms: performance.now() - started, format, secrets, replacedDataKeptIn };
}

/**
 * Refuses a restore after which the server could not open the secrets: the keys it will have are
 * ENCRYPTION_KEY and ENCRYPTION_PREVIOUS_KEYS, or without ENCRYPTION_KEY the key the backup carries.
 */
function refuseUnopenableSecrets(secrets: SealedSecrets, encryption: EncryptionConfig, carried: KeptKey | undefined): void {
  const configured = (encryption.key ? [encryption.key, ...encryption.previousKeys] : encryption.previousKeys).map((raw) => parseEncryptionKey(raw).id);
  const opening = new Set([...configured, ...(!encryption.key && carried ? [carried.id] : [])]);
  const missing = secrets.keyIds.filter((id) => !opening.has(id));
  if (missing.length === 0) return;
  const sealed = `db:restore: the backup's secrets are sealed with key ${missing.join(', ')}`;
  if (encryption.key && carried && missing.every((id) => id === carried.id)) {
    throw new OperatorError(
      `${sealed}, which the backup holds, but ENCRYPTION_KEY (key ${configured[0]}) is set and the server would use it alone: restore without ENCRYPTION_KEY, then set it and run secrets:rotate to reseal them under it`,
    );
  }
  const holders = encryption.key ? `ENCRYPTION_KEY (key ${configured[0]}) nor ENCRYPTION_PREVIOUS_KEYS` : 'the backup nor ENCRYPTION_PREVIOUS_KEYS';
  throw new OperatorError(`${sealed}, which neither ${holders} holds: set ENCRYPTION_KEY to the key the backed-up server used and run db:restore again`);
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
  await runPgProgram('pg_restore', ['--no-owner', '--single-transaction', '--exit-on-error', file], url);
}

/** Loads the archive into a staging folder beside dataDir, checks its secrets can be opened, then moves it into place. */
async function restoreEmbedded(
  dataDir: string,
  file: string,
  force: boolean,
  encryption: EncryptionConfig,
): Promise<{ replacedDataKeptIn?: string; secrets: SealedSecrets }> {
  if (holdsEmbeddedDatabase(dataDir) && !force) {
    throw new OperatorError(`db:restore: ${dataDir} already holds a database; choose an empty DATA_DIR, or pass --force to replace it (it is kept beside, not deleted)`);
  }
  const staging = `${dataDir}.restoring-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  let secrets: SealedSecrets;
  try {
    const restored = await openEmbeddedForCommand(staging, 'db:restore', { loadDataDir: new Blob([await readFile(file)]) });
    let keyIds: string[];
    try {
      keyIds = await withClient(restored.url, sealedKeyIds);
    } finally {
      await restored.close();
    }
    const carried = await keptKeyIn(staging, 'db:restore');
    secrets = { keyIds, carriedKeyId: carried?.id };
    refuseUnopenableSecrets(secrets, encryption, carried);
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
    // PGlite writes the files it unpacks readable by everyone; the key is for the server's user alone.
    if (secrets.carriedKeyId) await chmod(path.join(dataDir, EMBEDDED_KEY_FILE), 0o600);
  } finally {
    await unlock();
    await rm(staging, { recursive: true, force: true });
  }
  return { replacedDataKeptIn: keptIn, secrets };
}

interface KeptKey {
  id: string;
}

/** The key the embedded default keeps in a data folder, if it holds one. */
async function keptKeyIn(dataDir: string, command: string): Promise<KeptKey | undefined> {
  const raw = await readFile(path.join(dataDir, EMBEDDED_KEY_FILE), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (raw === undefined) return undefined;
  try {
    return { id: parseEncryptionKey(raw).id };
  } catch (error) {
    throw new OperatorError(`${command}: ${path.join(dataDir, EMBEDDED_KEY_FILE)} is not a key: ${(error as Error).message}`);
  }
}

/** Whether a tar archive holds a file of this name (PGlite names entries from the folder's root, with a leading slash). */
function tarHolds(tar: Buffer, name: string): boolean {
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) return false;
    const field = (start: number, length: number) => header.toString('utf8', start, start + length).replace(/\0.*$/s, '');
    const prefix = header.toString('latin1', 257, 262) === 'ustar' ? field(345, 155) : '';
    const entry = [prefix, field(0, 100)].filter(Boolean).join('/');
    if (entry.replace(/^\/+/, '') === name) return true;
    offset += 512 + Math.ceil(Number.parseInt(field(124, 12).trim() || '0', 8) / 512) * 512;
  }
  return false;
}

/** Writes a file only its owner may read, also when it existed with a wider mode. */
async function writePrivately(file: string, data: Buffer): Promise<void> {
  await writeFile(file, data, { mode: 0o600 });
  await chmod(file, 0o600);
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The key ids a pg_dump backup's secrets need, read from the tables that hold them without restoring it. */
async function dumpKeyIds(file: string): Promise<string[]> {
  const found = new Set<string>();
  let tail = '';
  const tables = ['notification_config', 'credentials', 'sessions', 'sessions_archive'].map((table) => `--table=${table}`);
  await runPgProgram('pg_restore', ['--data-only', ...tables, '--file=-', file], undefined, (chunk) => {
    const text = tail + chunk.toString('utf8');
    for (const match of text.matchAll(/enc:v1:([0-9a-f]+):/g)) found.add(match[1]!);
    // A sealed value's prefix may straddle two chunks.
    tail = text.slice(-40);
  });
  return [...found].sort();
}

/**
 * Runs pg_dump or pg_restore; a missing program, or a failing one, becomes one clear line. The
 * database's password goes in a temporary pgpass file, not on the command line others can list.
 */
async function runPgProgram(program: 'pg_dump' | 'pg_restore', args: string[], url: string | undefined, onOutput?: (chunk: Buffer) => void): Promise<void> {
  const connection = url === undefined ? undefined : await withoutPassword(url);
  const stderr: Buffer[] = [];
  try {
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(program, [...args, ...(connection ? [`--dbname=${connection.dbname}`] : [])], { stdio: ['ignore', onOutput ? 'pipe' : 'ignore', 'pipe'] });
      child.stdout?.on('data', (chunk: Buffer) => onOutput?.(chunk));
      child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
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
      const hidden = [url, connection?.dbname].filter((text): text is string => Boolean(text));
      const message = hidden.reduce((text, secret) => text.split(secret).join('<database>'), Buffer.concat(stderr).toString('utf8').trim());
      throw new OperatorError(`${program} failed (exit ${code}): ${message}`);
    }
  } finally {
    await connection?.cleanUp();
  }
}

/** The URL without its password, which libpq reads from a pgpass file (mode 0600) named in the URL instead. */
async function withoutPassword(url: string): Promise<{ dbname: string; cleanUp(): Promise<void> }> {
  const parsed = new URL(url);
  if (!parsed.password) return { dbname: url, cleanUp: async () => undefined };
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  const dir = await mkdtemp(path.join(tmpdir(), 'omega-pgpass-'));
  const passfile = path.join(dir, 'pgpass');
  // Any host, port, database and user: the file lives only as long as the one command.
  await writeFile(passfile, `*:*:*:*:${password.replace(/\\/g, '\\\\').replace(/:/g, '\\:')}\n`, { mode: 0o600 });
  parsed.searchParams.set('passfile', passfile);
  return { dbname: parsed.toString(), cleanUp: () => rm(dir, { recursive: true, force: true }) };
}
