import type { Server as HttpServer } from 'node:http';
import type { Database } from '../infra/db.js';
import type { BackgroundJob } from '../infra/jobs.js';
import type { Logger } from '../infra/logger.js';
import type { PubSub } from '../infra/pubsub.js';
import type { Services } from '../services.js';

export interface ShutdownParts {
  jobs: BackgroundJob[];
  sockets: { dispose(): unknown };
  httpServer: HttpServer;
  /** How long open requests may take before their connections are cut. */
  timeoutMs: number;
  pubsub: PubSub;
  services: Services;
  db: Database;
  stopEmbedded?: () => Promise<void>;
  log: Logger;
}

/**
 * Stops in dependency order: jobs and sockets first, then HTTP (open requests get `timeoutMs`),
 * then the connections they used. Calling it again returns the same shutdown.
 */
export function shutdownOnce(parts: ShutdownParts): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () =>
    (closing ??= (async () => {
      await Promise.all(parts.jobs.map((job) => job.stop()));
      await parts.sockets.dispose();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => parts.httpServer.closeAllConnections(), parts.timeoutMs);
        parts.httpServer.close(() => {
          clearTimeout(force);
          resolve();
        });
        parts.httpServer.closeIdleConnections();
      });
      await parts.pubsub.close().catch(() => undefined);
      await parts.services.realtime.close().catch(() => undefined);
      await parts.services.rateLimiter.close();
      await parts.db.close().catch(() => undefined);
      await parts.stopEmbedded?.();
      parts.log.info('server stopped');
    })());
}
