/** How notifications are delivered; parsed from NOTIFICATIONS_* variables by src/config.ts. */
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
