import { z } from 'zod';
import { ConfigError } from '../../config.js';

/** How notifications are delivered; read from NOTIFICATIONS_* variables, overridable by tests. */
export interface NotificationSettings {
  /** Whether webhooks may target loopback, private, link-local and unique-local addresses. */
  allowPrivateTargets: boolean;
  /** The first retry waits about this long; each later one twice as long, up to the cap. */
  backoffBaseMs: number;
  backoffCapMs: number;
  /** One attempt's whole request, connect to response headers. */
  timeoutMs: number;
  /** How long a claimed delivery stays with its worker before another may take it over. */
  leaseMs: number;
  batchSize: number;
  pollIntervalMs: number;
}

const VARIABLES = {
  allowPrivateTargets: 'NOTIFICATIONS_ALLOW_PRIVATE_TARGETS',
  backoffBaseMs: 'NOTIFICATIONS_BACKOFF_BASE_MS',
  backoffCapMs: 'NOTIFICATIONS_BACKOFF_CAP_MS',
  timeoutMs: 'NOTIFICATIONS_TIMEOUT_MS',
  leaseMs: 'NOTIFICATIONS_LEASE_MS',
  batchSize: 'NOTIFICATIONS_BATCH_SIZE',
  pollIntervalMs: 'NOTIFICATIONS_POLL_INTERVAL_MS',
} as const satisfies Record<keyof NotificationSettings, string>;

export const DEFAULT_NOTIFICATION_SETTINGS: NotificationSettings = {
  allowPrivateTargets: false,
  backoffBaseMs: 30_000,
  backoffCapMs: 3_600_000,
  timeoutMs: 10_000,
  leaseMs: 60_000,
  batchSize: 20,
  pollIntervalMs: 5_000,
};

const millis = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const FIELDS = {
  backoffBaseMs: millis(10, 86_400_000),
  backoffCapMs: millis(10, 7 * 86_400_000),
  timeoutMs: millis(100, 300_000),
  leaseMs: millis(200, 3_600_000),
  batchSize: z.coerce.number().int().min(1).max(500),
  pollIntervalMs: millis(10, 3_600_000),
};

function flag(variable: string, raw: string): boolean {
  const value = raw.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new ConfigError(variable, `must be true or false, got "${raw}"`);
}

/** Checks settings however they were made: the lease must outlast an attempt, or a slow send could be taken over and repeated. */
export function checkNotificationSettings(settings: NotificationSettings): NotificationSettings {
  if (settings.backoffCapMs < settings.backoffBaseMs) throw new ConfigError(VARIABLES.backoffCapMs, 'must not be below NOTIFICATIONS_BACKOFF_BASE_MS');
  if (settings.leaseMs <= settings.timeoutMs) throw new ConfigError(VARIABLES.leaseMs, 'must be longer than NOTIFICATIONS_TIMEOUT_MS');
  return settings;
}

export function loadNotificationSettings(
  env: Record<string, string | undefined> = process.env,
  overrides: Partial<NotificationSettings> = {},
): NotificationSettings {
  const settings: NotificationSettings = { ...DEFAULT_NOTIFICATION_SETTINGS };
  const allow = env[VARIABLES.allowPrivateTargets]?.trim();
  if (allow) settings.allowPrivateTargets = flag(VARIABLES.allowPrivateTargets, allow);
  for (const key of Object.keys(FIELDS) as (keyof typeof FIELDS)[]) {
    const raw = env[VARIABLES[key]]?.trim();
    if (!raw) continue;
    const parsed = FIELDS[key].safeParse(raw);
    if (!parsed.success) throw new ConfigError(VARIABLES[key], `is out of range or not a whole number: "${raw}"`);
    settings[key] = parsed.data;
  }
  return checkNotificationSettings({ ...settings, ...overrides });
}
