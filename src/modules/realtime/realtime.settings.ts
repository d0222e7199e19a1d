import { ConfigError } from '../../config.js';

/** Tunables of heartbeats, liveness and live subscriptions, read from the environment once at start. */
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

type Env = Record<string, string | undefined>;

function whole(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

export function loadRealtimeSettings(env: Env = process.env): RealtimeSettings {
  return {
    heartbeatTimeoutSeconds: whole(env, 'HEARTBEAT_TIMEOUT_SECONDS', 60, 1, 86_400),
    livenessSweepIntervalMs: whole(env, 'LIVENESS_SWEEP_INTERVAL_MS', 10_000, 100, 3_600_000),
    heartbeatFlushIntervalMs: whole(env, 'HEARTBEAT_FLUSH_INTERVAL_MS', 5_000, 10, 60_000),
    heartbeatKeyTtlSeconds: whole(env, 'HEARTBEAT_KEY_TTL_SECONDS', 30, 1, 86_400),
    metricKeyTtlSeconds: whole(env, 'METRIC_KEY_TTL_SECONDS', 300, 1, 86_400),
    liveSessionStateTtlSeconds: whole(env, 'SESSION_STATE_TTL_SECONDS', 86_400, 60, 2_592_000),
    endedSessionStateTtlSeconds: whole(env, 'ENDED_SESSION_STATE_TTL_SECONDS', 3_600, 1, 2_592_000),
    clusterStateIntervalMs: whole(env, 'CLUSTER_STATE_INTERVAL_MS', 1_000, 100, 600_000),
    subscriberQueueLimit: whole(env, 'SUBSCRIBER_QUEUE_LIMIT', 1_000, 10, 1_000_000),
    metricsQueueLimit: whole(env, 'LIVE_METRICS_QUEUE_LIMIT', 500, 10, 1_000_000),
    subscriberBufferLimitBytes: whole(env, 'WS_SUBSCRIBER_BUFFER_LIMIT_BYTES', 262_144, 1_024, 1_073_741_824),
    keepAliveMs: whole(env, 'WS_KEEPALIVE_MS', 15_000, 1_000, 600_000),
  };
}
