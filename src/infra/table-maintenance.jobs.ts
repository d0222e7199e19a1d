import { periodicJob, type BackgroundJob } from './jobs.js';
import type { Logger } from './logger.js';
import type { TableMaintenance } from './table-maintenance.js';

/** Statistics upkeep on a schedule; the interval bounds how far statistics trail ordinary writes. */
export function createTableMaintenanceJobs(maintenance: TableMaintenance, intervalMs: number | undefined, log: Logger): BackgroundJob[] {
  if (intervalMs === undefined) return [];
  return [periodicJob('database.table-maintenance', intervalMs, async () => void (await maintenance.runPass()), log)];
}
