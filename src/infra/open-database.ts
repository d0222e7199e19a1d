import pg from 'pg';
import { embeddedConnectionCap, redactUrl, type Config } from '../config.js';
import { StartupError } from '../startup-error.js';
import { createDatabase, pingDatabase, type Database } from './db.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import type { Logger } from './logger.js';

export interface OpenedDatabase {
  db: Database;
  /** The unredacted connection URL, for migrations. */
  url: string;
  /** Stops the embedded database when the API started one. */
  stopEmbedded?: () => Promise<void>;
}

/**
 * Connects to DATABASE_URL, or starts the embedded database when none is set, and checks it answers;
 * `loadDataDir` is the archive an embedded database on an empty folder starts from.
 */
export async function openDatabase(config: Config, log: Logger, options: { loadDataDir?: Blob } = {}): Promise<OpenedDatabase> {
  let url = config.databaseUrl;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (url === undefined) {
    const embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir === ':memory:' ? undefined : config.dataDir,
      port: config.embeddedDbPort,
      maxConnections: embeddedConnectionCap(config.dbPoolMax),
      loadDataDir: options.loadDataDir,
    }).catch((error: unknown) => {
      throw new StartupError(`embedded database could not start in ${config.dataDir}: ${(error as Error).message}`);
    });
    url = embedded.url;
    stopEmbedded = embedded.close;
    log.info('embedded database started', { dataDir: config.dataDir });
  }
  const unreachable = async (error: unknown): Promise<never> => {
    await stopEmbedded?.();
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new StartupError(`database unreachable at ${redactUrl(url)}: ${(error as Error).message || reason}`);
  };
  // Another instance's embedded database (reached through its URL) shares one session too.
  const oneSession = stopEmbedded !== undefined || (await servesOneSession(url).catch(unreachable));
  const db = createDatabase(url, config.dbPoolMax, { embedded: oneSession, preparedStatements: config.database.preparedStatements });
  try {
    await pingDatabase(db.pool);
  } catch (error) {
    await db.close().catch(() => undefined);
    await unreachable(error);
  }
  return { db, url, stopEmbedded };
}

/** Whether the server is PGlite, whose socket server runs every connection in one session. */
async function servesOneSession(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: string }>('SELECT version()');
    return /\bPGlite\b/.test(rows[0]?.version ?? '');
  } finally {
    await client.end().catch(() => undefined);
  }
}
