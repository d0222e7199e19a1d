import type { BillingSettings } from '../../config.js';
import { periodicJob, type BackgroundJob } from '../../infra/jobs.js';
import type { Logger } from '../../infra/logger.js';
import type { BillingService } from './billing.service.js';

/** Closes the previous month; the unique (tenant, type, period) makes repeated and concurrent runs harmless. */
export function createBillingJobs(billing: BillingService, log: Logger, settings: BillingSettings): BackgroundJob[] {
  return [
    periodicJob(
      'billing.monthly-close',
      settings.closeIntervalMs,
      async () => {
        await billing.closePreviousMonth();
      },
      log,
    ),
  ];
}
