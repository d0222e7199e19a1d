/** Tunables of heartbeats, liveness and live subscriptions, parsed by src/config.ts. */
export interface RealtimeSettings {
  /** A node whose last heartbeat is older than this is marked failed by the liveness sweeper. */
  heartbeatTimeoutSeconds: number;
  /** How often the sweeper looks for silent nodes. */
  livenessSweepIntervalMs: number;
  /** Heartbeats reach nodes.last_heartbeat at most this often per node, batched in one statement. */
  heartbeatFlushIntervalMs: number;
  /** Lifetime of node:heartbeat:{node_id} in Redis (the seed's 30 s). */
  heartbeatKeyTtlSeconds: number;
  /** Lifetime of metrics:node:{node_id}:{metric_type} (the seed's 5 min). */
  metricKeyTtlSeconds: number;
  /** Lifetime of session:state:{session_id} while the session lives, and after it ends. */
  liveSessionStateTtlSeconds: number;
  endedSessionStateTtlSeconds: number;
  /** cluster:state is recomputed and announced at most this often per tenant. */
  clusterStateIntervalMs: number;
  /** Events (heartbeats, state changes) one subscriber may have waiting; beyond it the subscription ends with an error. */
  subscriberQueueLimit: number;
  /** liveMetrics points one subscriber may have waiting; beyond it the oldest are dropped and counted. */
  metricsQueueLimit: number;
  /** Bytes a subscriber's socket may hold unsent before it counts as slow (metrics dropped, other feeds ended). */
  subscriberBufferLimitBytes: number;
  /** graphql-ws keep-alive: a ping this often, and the socket is dropped when no pong came back in as long. */
  keepAliveMs: number;
}
