import { ConfigError } from '../../config.js';

/** Tunables of the cluster and workloads modules, read from the environment once at start. */
export interface ClusterSettings {
  /** A node whose last heartbeat is older than this takes no new sessions or replicas. */
  heartbeatTimeoutSeconds: number;
  schedulerPassIntervalMs: number;
  /** Pending sessions one scheduling pass considers per tenant. */
  schedulerBatchSize: number;
  deploymentReconcileIntervalMs: number;
  clusterViewsRefreshIntervalMs: number;
  /** Assumed runtime, for quotas, of a session that names no maximum. */
  defaultMaxRuntimeMinutes: number;
}

function whole(env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

export function loadClusterSettings(env: Record<string, string | undefined> = process.env): ClusterSettings {
  return {
    heartbeatTimeoutSeconds: whole(env, 'NODE_HEARTBEAT_TIMEOUT_SECONDS', 60, 1, 86_400),
    schedulerPassIntervalMs: whole(env, 'SCHEDULER_PASS_INTERVAL_MS', 5_000, 100, 3_600_000),
    schedulerBatchSize: whole(env, 'SCHEDULER_BATCH_SIZE', 200, 1, 10_000),
    deploymentReconcileIntervalMs: whole(env, 'DEPLOYMENT_RECONCILE_INTERVAL_MS', 15_000, 100, 3_600_000),
    clusterViewsRefreshIntervalMs: whole(env, 'CLUSTER_VIEWS_REFRESH_INTERVAL_MS', 60_000, 1_000, 86_400_000),
    defaultMaxRuntimeMinutes: whole(env, 'SESSION_DEFAULT_MAX_RUNTIME_MINUTES', 60, 1, 525_600),
  };
}
