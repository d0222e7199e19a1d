import { periodicJob, type BackgroundJob } from '../../infra/jobs.js';
import type { Logger } from '../../infra/logger.js';
import type { EmbeddingIndexService } from './embedding-index.service.js';
import type { EmbeddingIndexSettings } from './embedding-index.settings.js';
import type { ResponseCacheService } from './response-cache.service.js';

const PURGE_INTERVAL_MS = 10 * 60_000;

/**
 * Expired cached responses are never served; this job also removes them. Chunks stored outside the
 * HNSW index are found by searches all the same; the indexing job brings them into it while ingest is quiet.
 */
export function createAiJobs(responseCache: ResponseCacheService, embeddingIndex: EmbeddingIndexService, settings: EmbeddingIndexSettings, log: Logger): BackgroundJob[] {
  return [
    periodicJob('ai.response-cache-purge', PURGE_INTERVAL_MS, async () => void (await responseCache.purgeExpired()), log),
    periodicJob('ai.embedding-index', settings.intervalMs, async (signal) => void (await embeddingIndex.indexWhileQuiet(signal)), log),
  ];
}
