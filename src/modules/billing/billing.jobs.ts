import { z } from 'zod';
import { ConfigError } from '../../config.js';
import { periodicJob, type BackgroundJob } from '../../infra/jobs.js';
import type { Logger } from '../../infra/logger.js';
import type { BillingService } from './billing.service.js';

const HOUR_MS = 3_600_000;

/** BILLING_CLOSE_INTERVAL_MS: how often each instance tries the monthly close (idempotent, so every instance may). */
export function billingCloseIntervalMs(env: Record<string, string | undefined> = process.env): number {
  const raw = env.BILLING_CLOSE_INTERVAL_MS?.trim();
  if (!raw) return HOUR_MS;
  const parsed = z.coerce.number().int().min(1_000).max(24 * HOUR_MS).safeParse(raw);
  if (!parsed.success) throw new ConfigError('BILLING_CLOSE_INTERVAL_MS', `must be a whole number of milliseconds between 1000 and 86400000, got "${raw}"`);
  return parsed.data;
}

/** Closes the previous month; the unique (tenant, type, period) makes repeated and concurrent runs harmless. */
export function createBillingJobs(billing: BillingService, log: Logger, env: Record<string, string | undefined> = process.env): BackgroundJob[] {
  return [
    periodicJob(
      'billing.monthly-close',
      billingCloseIntervalMs(env),
      async () => {
        await billing.closePreviousMonth();
      },
      log,
    ),
  ];
}
