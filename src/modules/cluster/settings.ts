/** Tunables of the cluster and workloads modules, parsed by src/config.ts. */
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
