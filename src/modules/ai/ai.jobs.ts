import { periodicJob, type BackgroundJob } from '../../infra/jobs.js';
import type { Logger } from '../../infra/logger.js';
import type { ResponseCacheService } from './response-cache.service.js';

const PURGE_INTERVAL_MS = 10 * 60_000;

/** Expired cached responses are never served; this job also removes them. */
export function createAiJobs(responseCache: ResponseCacheService, log: Logger): BackgroundJob[] {
  return [periodicJob('ai.response-cache-purge', PURGE_INTERVAL_MS, async () => void (await responseCache.purgeExpired()), log)];
}
