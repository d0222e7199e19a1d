import { useReadinessCheck } from 'graphql-yoga';
import { pingDatabase, type Database } from '../infra/db.js';
import type { PubSub } from '../infra/pubsub.js';

const READINESS_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** /readyz answers 200 only while the database (and Redis, when configured) answer within the timeout. */
export function useReadiness(db: Database, pubsub: PubSub) {
  return useReadinessCheck({
    endpoint: '/readyz',
    check: async () => {
      await withTimeout(pingDatabase(db.pool), READINESS_TIMEOUT_MS, 'database');
      if (pubsub.backend === 'redis') await withTimeout(pubsub.ping(), READINESS_TIMEOUT_MS, 'redis');
    },
  });
}
