import { mkdir } from 'node:fs/promises';
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
}

export interface EmbeddedPostgres {
  /** postgres:// URL for node-postgres and @prisma/adapter-pg. */
  url: string;
  /** Stops the socket server, then shuts PGlite down cleanly. Close client pools first. */
  close(): Promise<void>;
}

// The socket server accepts a single connection by default, which makes pools reset.
const MAX_CONNECTIONS = 16;

export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  const { dataDir, port = 0, host = '127.0.0.1' } = options;

  let db: PGlite;
  if (dataDir === undefined) {
    db = await PGlite.create({ extensions: { vector } });
  } else {
    const dir = path.resolve(dataDir);
    await mkdir(dir, { recursive: true });
    db = await PGlite.create(dir, { extensions: { vector } });
  }

  const server = new PGLiteSocketServer({ db, port, host, maxConnections: MAX_CONNECTIONS });
  let boundPort = port;
  server.addEventListener('listening', (event) => {
    const detail = (event as CustomEvent<{ port?: number }>).detail;
    if (typeof detail.port === 'number') boundPort = detail.port;
  });

  try {
    await server.start();
  } catch (error) {
    await db.close();
    throw error;
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await server.stop();
      // stop() detaches handlers without awaiting them; a detaching handler may still
      // roll back an open transaction, so let those callbacks run before closing PGlite.
      await new Promise((resolve) => setImmediate(resolve));
      await db.close();
    })();
    return closing;
  };

  const urlHost = host.includes(':') ? `[${host}]` : host;
  return { url: `postgres://postgres@${urlHost}:${boundPort}/postgres`, close };
}
