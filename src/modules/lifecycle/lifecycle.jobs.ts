import { periodicJob, type BackgroundJob } from '../../infra/jobs.js';
import type { Logger } from '../../infra/logger.js';
import type { RetentionService } from './retention.service.js';

const HOUR_MS = 3_600_000;

/** Retention of every growing table outside the raw metrics (which telemetry keeps by partition). */
export function createLifecycleJobs(retention: RetentionService, log: Logger): BackgroundJob[] {
  return [periodicJob('lifecycle.retention', HOUR_MS, async () => void (await retention.applyRetention()), log)];
}
