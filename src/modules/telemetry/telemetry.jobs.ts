import { periodicJob, type BackgroundJob } from '../../infra/jobs.js';
import type { Logger } from '../../infra/logger.js';
import type { TelemetryMaintenanceService } from './maintenance.service.js';

const HOUR_MS = 3_600_000;

/** Daily summaries of finished days, raw-metric retention, monthly partitions made ahead, and the hourly rollup where it is a plain materialized view. */
export function createTelemetryJobs(maintenance: TelemetryMaintenanceService, log: Logger): BackgroundJob[] {
  return [
    periodicJob('telemetry.daily-summary', HOUR_MS, () => maintenance.summarizeFinishedDays(), log),
    periodicJob('telemetry.retention', HOUR_MS, async () => void (await maintenance.applyRetention()), log),
    periodicJob('telemetry.partitions', HOUR_MS, async () => void (await maintenance.partitions.ensurePartitions()), log),
    periodicJob('telemetry.hourly-rollup', HOUR_MS, async () => void (await maintenance.refreshHourlyRollup()), log),
  ];
}
