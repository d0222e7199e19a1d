import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgresOptions {
  /** Directory PGlite persists to; undefined keeps the database in memory. */
  dataDir?: string;
  /** TCP port to listen on; 0 picks a free one. */
  port?: number;
  host?: string;
  /** Connections the socket server accepts; at least the API's pool (see embeddedConnectionCap). */
  maxConnections?: number;
  /** A data folder archive (from dumpDataDir) the new database starts from; only for an empty dataDir. */
  loadDataDir?: Blob;
}

export interface EmbeddedPostgres {
  /** postgres:// URL for node-postgres and @prisma/adapter-pg. */
  url: string;
  /** A gzipped tar of the data folder, taken between two statements, so consistent. */
  dumpDataDir(): Promise<Blob>;
  /** Stops the socket server, then shuts PGlite down cleanly. End client pools first. */
  close(): Promise<void>;
}

// The socket server accepts a single connection by default, which makes pools reset.
const DEFAULT_MAX_CONNECTIONS = 16;
const LOCK_FILE = 'embedded.lock';

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const { dataDir, port = 0, host = '127.0.0.1', loadDataDir, maxConnections = DEFAULT_MAX_CONNECTIONS } = options;
  const dir = dataDir === undefined ? undefined : path.resolve(dataDir);
  const unlock = dir === undefined ? async () => undefined : await lockDataDir(dir);

  let db: PGlite;
  try {
    const extensions = { vector };
    db = dir === undefined ? await PGlite.create({ extensions, loadDataDir }) : await PGlite.create(dir, { extensions, loadDataDir });
  } catch (error) {
    await unlock();
    throw error;
  }

  const server = new PGLiteSocketServer({ db, port, host, maxConnections });
  let boundPort = port;
  server.addEventListener('listening', (event) => {
    const detail = (event as CustomEvent<{ port?: number }>).detail;
    if (typeof detail.port === 'number') boundPort = detail.port;
  });

  try {
    await server.start();
  } catch (error) {
    await db.close();
    await unlock();
    throw error;
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await server.stop();
      // stop() detaches connections without awaiting them; a detaching connection may still
      // roll back its open transaction, so let that run before PGlite closes.
      await new Promise((resolve) => setImmediate(resolve));
      await db.close();
      await unlock();
    })();
    return closing;
  };

  const urlHost = host.includes(':') ? `[${host}]` : host;
  return { url: `postgres://postgres@${urlHost}:${boundPort}/postgres`, dumpDataDir: () => db.dumpDataDir('gzip'), close };
}

const lockedByThisProcess = new Set<string>();

/**
 * PGlite opens a data directory another process is using without complaint, and two writers
 * corrupt it (say the server and `migrate deploy` both on ./data), so a lock file holds it.
 * A lock left by a process that died is taken over, also when a restarted container gives
 * this process the dead one's pid.
 */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  if (lockedByThisProcess.has(dir)) throw new Error(`${dir} is already open in this process`);
  await mkdir(dir, { recursive: true });
  const lockPath = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lockPath, String(process.pid), { flag: 'wx' });
      lockedByThisProcess.add(dir);
      return async () => {
        lockedByThisProcess.delete(dir);
        await rm(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number.parseInt(await readFile(lockPath, 'utf8').catch(() => ''), 10);
    if (owner !== process.pid && isRunning(owner)) {
      throw new Error(`${dir} is in use by process ${owner} (if it is not, delete ${lockPath})`);
    }
    await rm(lockPath, { force: true });
  }
  throw new Error(`${dir} is in use by another process`);
}

function isRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (Z) or dead (X) process still answers signal 0 until its parent reaps it.
  const state = processState(pid);
  return state !== 'Z' && state !== 'X';
}

/** The state letter of /proc/<pid>/stat (after the parenthesised command name), where /proc exists. */
function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}
