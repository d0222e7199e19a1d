import type { Server as HttpServer } from 'node:http';
import type { Database } from '../infra/db.js';
import type { BackgroundJob } from '../infra/jobs.js';
import type { Logger } from '../infra/logger.js';
import type { PubSub } from '../infra/pubsub.js';
import type { Services } from '../services.js';
import type { RequestDrain } from './drain.js';

export interface ShutdownParts {
  jobs: BackgroundJob[];
  sockets: { dispose(): unknown };
  /** The GraphQL handler: disposing it releases what its plugins hold (the response cache's Redis). */
  graphql: { dispose(): unknown };
  httpServer: HttpServer;
  drain: RequestDrain;
  /** The whole shutdown ends within this; requests still open at 80 % of it are cut. */
  timeoutMs: number;
  pubsub: PubSub;
  services: Services;
  db: Database;
  stopEmbedded?: () => Promise<void>;
  log: Logger;
}

/** The share of the timeout open requests may take; the rest closes pub/sub, the pool and the embedded database. */
const DRAIN_SHARE = 0.8;

/**
 * Stops in dependency order: readiness turns 503 and new requests are refused at once, background
 * jobs finish their running pass while requests in flight finish, then sockets, the jobs requests
 * rely on, pub/sub and the pool close. Calling it again returns the same shutdown.
 */
export function shutdownOnce(parts: ShutdownParts): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () =>
    (closing ??= (async () => {
      const started = Date.now();
      const drained = parts.drain.drain();
      parts.httpServer.close();
      parts.httpServer.closeIdleConnections();
      const background = parts.jobs.filter((job) => !job.servesRequests);
      let cut = 0;
      await Promise.all([
        Promise.all(background.map((job) => job.stop())),
        new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            cut = parts.drain.inFlightCount;
            parts.httpServer.closeAllConnections();
            resolve();
          }, parts.timeoutMs * DRAIN_SHARE);
          void drained.then(() => {
            clearTimeout(force);
            resolve();
          });
        }),
      ]);
      if (cut > 0) parts.log.warn('requests cut at the shutdown timeout', { requests: cut });
      await parts.sockets.dispose();
      await parts.graphql.dispose();
      await Promise.all(parts.jobs.filter((job) => job.servesRequests).map((job) => job.stop()));
      await parts.pubsub.close().catch(() => undefined);
      await parts.services.realtime.close().catch(() => undefined);
      await parts.services.rateLimiter.close();
      await parts.db.close().catch(() => undefined);
      await parts.stopEmbedded?.();
      parts.log.info('server stopped', { ms: Date.now() - started });
    })());
}
