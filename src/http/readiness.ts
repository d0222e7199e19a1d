import type { Plugin } from 'graphql-yoga';
import { pingDatabase, type Database } from '../infra/db.js';
import type { PubSub } from '../infra/pubsub.js';

const READINESS_PATH = '/readyz';
const READINESS_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * /readyz answers 200 only while the database (and Redis, when configured) answer within the timeout;
 * otherwise 503 naming the dependencies that failed, never the driver's text.
 */
export function useReadiness(db: Database, pubsub: PubSub): Plugin {
  const dependencies: [string, () => Promise<unknown>][] = [['database', () => pingDatabase(db.pool)]];
  if (pubsub.backend === 'redis') dependencies.push(['redis', () => pubsub.ping()]);
  return {
    // The path compared as it is: graphql-yoga's own readiness plugin matches a URL pattern on every request.
    async onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname !== READINESS_PATH) return;
      const answers = await Promise.all(dependencies.map(([name, ping]) => withTimeout(ping(), READINESS_TIMEOUT_MS, name).then(() => null, () => name)));
      const failing = answers.filter((name): name is string => name !== null);
      endResponse(
        failing.length === 0
          ? new fetchAPI.Response(null, { status: 200 })
          : new fetchAPI.Response(JSON.stringify({ ready: false, failing }), { status: 503, headers: { 'content-type': 'application/json', 'retry-after': '5' } }),
      );
    },
  };
}
