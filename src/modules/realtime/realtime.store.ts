import { Redis } from 'ioredis';
import type { ClusterStateChangedEvent, NodeHeartbeat } from '../../infra/topics.js';

/** The latest heartbeat of a node, as node:heartbeat:{node_id} holds it. */
export interface HeartbeatRecord extends NodeHeartbeat {
  tenantId: string;
}

/** session:state:{session_id}: where a compute session is in its life and what it holds. */
export interface SessionStateRecord {
  tenantId: string;
  sessionId: string;
  status: string;
  nodeId: string | null;
  allocations: { resourceType: string; amount: number; unit: string }[];
  startTime: string | null;
  updatedAt: string;
}

/** metrics:node:{node_id}:{metric_type}: the latest point of one metric of a node. */
export interface MetricRecord {
  tenantId: string;
  nodeId: string;
  metricType: string;
  value: number;
  unit: string | null;
  time: string;
}

export type ClusterStateRecord = ClusterStateChangedEvent;

/**
 * The latest values dashboards read without touching PostgreSQL, under the seed's key patterns.
 * Every value carries its tenant, and readers check it. Writes throw when the store is unreachable.
 */
export interface RealtimeStore {
  readonly kind: 'redis' | 'memory';
  putHeartbeats(tenantId: string, heartbeats: readonly NodeHeartbeat[], ttlSeconds: number): Promise<void>;
  /** The tenant's nodes that sent a heartbeat within `withinSeconds`, latest first. */
  liveHeartbeats(tenantId: string, withinSeconds: number): Promise<HeartbeatRecord[]>;
  putSessionState(record: SessionStateRecord, ttlSeconds: number): Promise<void>;
  sessionState(sessionId: string): Promise<SessionStateRecord | null>;
  putMetrics(records: readonly MetricRecord[], ttlSeconds: number): Promise<void>;
  /** The latest point of each metric type of a node (of the given types only, when given). */
  latestMetrics(nodeId: string, metricTypes: readonly string[] | null): Promise<MetricRecord[]>;
  putClusterState(state: ClusterStateRecord): Promise<void>;
  clusterState(tenantId: string): Promise<ClusterStateRecord | null>;
  /** Someone reads or subscribes to the tenant's cluster:state; it is kept current while this lasts. */
  markClusterStateWatched(tenantId: string, ttlSeconds: number): Promise<void>;
  isClusterStateWatched(tenantId: string): Promise<boolean>;
  close(): Promise<void>;
}

/** The seed's key patterns under a namespace (the pub/sub one by default), so deployments sharing a Redis do not collide. */
export function realtimeKeys(namespace: string) {
  const key = (name: string) => `${namespace}:${name}`;
  return {
    heartbeat: (nodeId: string) => key(`node:heartbeat:${nodeId}`),
    /** Replaces seed 000's KEYS node:heartbeat:*: a sorted set of the tenant's nodes by last-seen time. */
    heartbeatIndex: (tenantId: string) => key(`nodes:heartbeat:${tenantId}`),
    sessionState: (sessionId: string) => key(`session:state:${sessionId}`),
    metric: (nodeId: string, metricType: string) => key(`metrics:node:${nodeId}:${metricType}`),
    /** The metric types a node reported lately, by time, so reading all of them needs no SCAN. */
    metricIndex: (nodeId: string) => key(`metrics:node:${nodeId}:types`),
    /** The seed's cluster:state, one per tenant. */
    clusterState: (tenantId: string) => key(`cluster:state:${tenantId}`),
    clusterStateWatched: (tenantId: string) => key(`cluster:state:watched:${tenantId}`),
  } as const;
}

type RealtimeKeys = ReturnType<typeof realtimeKeys>;

/** Index keys outlive their members a little, and vanish with an idle tenant or node. */
const INDEX_TTL_SECONDS = 86_400;

interface StoredHeartbeat {
  tenant_id: string;
  node_id: string;
  status: NodeHeartbeat['status'];
  load: number;
  timestamp: string;
}

interface StoredSessionState {
  tenant_id: string;
  session_id: string;
  status: string;
  node_id: string | null;
  allocated_resources: SessionStateRecord['allocations'];
  start_time: string | null;
  updated_at: string;
}

interface StoredMetric {
  tenant_id: string;
  node_id: string;
  metric_type: string;
  value: number;
  unit: string | null;
  timestamp: string;
}

const parse = <T>(text: string | null): T | null => {
  if (text === null) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
};

const fromStoredHeartbeat = (stored: StoredHeartbeat): HeartbeatRecord => ({
  tenantId: stored.tenant_id,
  nodeId: stored.node_id,
  status: stored.status,
  load: stored.load,
  at: stored.timestamp,
});

const fromStoredMetric = (stored: StoredMetric): MetricRecord => ({
  tenantId: stored.tenant_id,
  nodeId: stored.node_id,
  metricType: stored.metric_type,
  value: stored.value,
  unit: stored.unit,
  time: stored.timestamp,
});

export class RedisRealtimeStore implements RealtimeStore {
  readonly kind = 'redis';
  private readonly redis: Redis;
  private readonly keys: RealtimeKeys;

  constructor(url: string, namespace: string) {
    this.keys = realtimeKeys(namespace);
    // Fail fast while Redis is away: callers fall back to PostgreSQL rather than wait.
    this.redis = new Redis(url, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
      connectionName: 'omega-realtime-store',
    });
    this.redis.on('error', () => undefined);
  }

  async putHeartbeats(tenantId: string, heartbeats: readonly NodeHeartbeat[], ttlSeconds: number): Promise<void> {
    if (heartbeats.length === 0) return;
    const pipeline = this.redis.multi();
    const index = this.keys.heartbeatIndex(tenantId);
    for (const beat of heartbeats) {
      const stored: StoredHeartbeat = { tenant_id: tenantId, node_id: beat.nodeId, status: beat.status, load: beat.load, timestamp: beat.at };
      pipeline.set(this.keys.heartbeat(beat.nodeId), JSON.stringify(stored), 'EX', ttlSeconds);
      pipeline.zadd(index, Date.parse(beat.at), beat.nodeId);
    }
    pipeline.expire(index, INDEX_TTL_SECONDS);
    await execOrThrow(pipeline);
  }

  async liveHeartbeats(tenantId: string, withinSeconds: number): Promise<HeartbeatRecord[]> {
    const index = this.keys.heartbeatIndex(tenantId);
    const since = Date.now() - withinSeconds * 1000;
    await this.redis.zremrangebyscore(index, '-inf', `(${since}`);
    const nodeIds = await this.redis.zrevrangebyscore(index, '+inf', since);
    if (nodeIds.length === 0) return [];
    const values = await this.redis.mget(nodeIds.map((nodeId) => this.keys.heartbeat(nodeId)));
    return values.flatMap((text) => {
      const stored = parse<StoredHeartbeat>(text);
      return stored && stored.tenant_id === tenantId ? [fromStoredHeartbeat(stored)] : [];
    });
  }

  async putSessionState(record: SessionStateRecord, ttlSeconds: number): Promise<void> {
    const stored: StoredSessionState = {
      tenant_id: record.tenantId,
      session_id: record.sessionId,
      status: record.status,
      node_id: record.nodeId,
      allocated_resources: record.allocations,
      start_time: record.startTime,
      updated_at: record.updatedAt,
    };
    await this.redis.set(this.keys.sessionState(record.sessionId), JSON.stringify(stored), 'EX', ttlSeconds);
  }

  async sessionState(sessionId: string): Promise<SessionStateRecord | null> {
    const stored = parse<StoredSessionState>(await this.redis.get(this.keys.sessionState(sessionId)));
    if (!stored) return null;
    return {
      tenantId: stored.tenant_id,
      sessionId: stored.session_id,
      status: stored.status,
      nodeId: stored.node_id,
      allocations: stored.allocated_resources,
      startTime: stored.start_time,
      updatedAt: stored.updated_at,
    };
  }

  async putMetrics(records: readonly MetricRecord[], ttlSeconds: number): Promise<void> {
    if (records.length === 0) return;
    const pipeline = this.redis.multi();
    const indexes = new Set<string>();
    for (const record of records) {
      const stored: StoredMetric = {
        tenant_id: record.tenantId,
        node_id: record.nodeId,
        metric_type: record.metricType,
        value: record.value,
        unit: record.unit,
        timestamp: record.time,
      };
      pipeline.set(this.keys.metric(record.nodeId, record.metricType), JSON.stringify(stored), 'EX', ttlSeconds);
      pipeline.zadd(this.keys.metricIndex(record.nodeId), Date.now(), record.metricType);
      indexes.add(this.keys.metricIndex(record.nodeId));
    }
    for (const index of indexes) pipeline.expire(index, ttlSeconds);
    await execOrThrow(pipeline);
  }

  async latestMetrics(nodeId: string, metricTypes: readonly string[] | null): Promise<MetricRecord[]> {
    const types = metricTypes ?? (await this.redis.zrange(this.keys.metricIndex(nodeId), 0, -1));
    if (types.length === 0) return [];
    const values = await this.redis.mget(types.map((type) => this.keys.metric(nodeId, type)));
    return values.flatMap((text) => {
      const stored = parse<StoredMetric>(text);
      return stored ? [fromStoredMetric(stored)] : [];
    });
  }

  async putClusterState(state: ClusterStateRecord): Promise<void> {
    await this.redis.hset(this.keys.clusterState(state.tenantId), {
      tenant_id: state.tenantId,
      total_nodes: state.totalNodes,
      active_nodes: state.activeNodes,
      total_sessions: state.totalSessions,
      cluster_load: state.clusterLoad === null ? '' : state.clusterLoad,
      updated_at: state.at,
    });
  }

  async clusterState(tenantId: string): Promise<ClusterStateRecord | null> {
    const hash = await this.redis.hgetall(this.keys.clusterState(tenantId));
    if (!hash.updated_at || hash.tenant_id !== tenantId) return null;
    return {
      tenantId,
      totalNodes: Number(hash.total_nodes),
      activeNodes: Number(hash.active_nodes),
      totalSessions: Number(hash.total_sessions),
      clusterLoad: hash.cluster_load ? Number(hash.cluster_load) : null,
      at: hash.updated_at,
    };
  }

  async markClusterStateWatched(tenantId: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(this.keys.clusterStateWatched(tenantId), '1', 'EX', ttlSeconds);
  }

  async isClusterStateWatched(tenantId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.clusterStateWatched(tenantId))) === 1;
  }

  async close(): Promise<void> {
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }
}

async function execOrThrow(pipeline: ReturnType<Redis['multi']>): Promise<void> {
  const results = await pipeline.exec();
  const failure = results?.find(([error]) => error);
  if (failure?.[0]) throw failure[0];
}

/** In process the keys need no namespace: no other deployment shares the map. */
const MemoryKey = realtimeKeys('local');

/** The same store in process, for a single instance without Redis. */
export class MemoryRealtimeStore implements RealtimeStore {
  readonly kind = 'memory';
  private readonly values = new Map<string, { value: unknown; expiresAt: number }>();

  async putHeartbeats(tenantId: string, heartbeats: readonly NodeHeartbeat[], ttlSeconds: number): Promise<void> {
    for (const beat of heartbeats) this.put(MemoryKey.heartbeat(beat.nodeId), { ...beat, tenantId }, ttlSeconds);
    const index = this.get<Map<string, number>>(MemoryKey.heartbeatIndex(tenantId)) ?? new Map<string, number>();
    for (const beat of heartbeats) index.set(beat.nodeId, Date.parse(beat.at));
    this.put(MemoryKey.heartbeatIndex(tenantId), index, INDEX_TTL_SECONDS);
  }

  async liveHeartbeats(tenantId: string, withinSeconds: number): Promise<HeartbeatRecord[]> {
    const index = this.get<Map<string, number>>(MemoryKey.heartbeatIndex(tenantId));
    if (!index) return [];
    const since = Date.now() - withinSeconds * 1000;
    for (const [nodeId, seen] of index) if (seen < since) index.delete(nodeId);
    return [...index.entries()]
      .sort(([, a], [, b]) => b - a)
      .flatMap(([nodeId]) => {
        const record = this.get<HeartbeatRecord>(MemoryKey.heartbeat(nodeId));
        return record && record.tenantId === tenantId ? [record] : [];
      });
  }

  async putSessionState(record: SessionStateRecord, ttlSeconds: number): Promise<void> {
    this.put(MemoryKey.sessionState(record.sessionId), record, ttlSeconds);
  }

  async sessionState(sessionId: string): Promise<SessionStateRecord | null> {
    return this.get<SessionStateRecord>(MemoryKey.sessionState(sessionId)) ?? null;
  }

  async putMetrics(records: readonly MetricRecord[], ttlSeconds: number): Promise<void> {
    for (const record of records) {
      this.put(MemoryKey.metric(record.nodeId, record.metricType), record, ttlSeconds);
      const index = this.get<Set<string>>(MemoryKey.metricIndex(record.nodeId)) ?? new Set<string>();
      index.add(record.metricType);
      this.put(MemoryKey.metricIndex(record.nodeId), index, ttlSeconds);
    }
  }

  async latestMetrics(nodeId: string, metricTypes: readonly string[] | null): Promise<MetricRecord[]> {
    const types = metricTypes ?? [...(this.get<Set<string>>(MemoryKey.metricIndex(nodeId)) ?? [])];
    return types.flatMap((type) => {
      const record = this.get<MetricRecord>(MemoryKey.metric(nodeId, type));
      return record ? [record] : [];
    });
  }

  async putClusterState(state: ClusterStateRecord): Promise<void> {
    this.put(MemoryKey.clusterState(state.tenantId), state, INDEX_TTL_SECONDS);
  }

  async clusterState(tenantId: string): Promise<ClusterStateRecord | null> {
    return this.get<ClusterStateRecord>(MemoryKey.clusterState(tenantId)) ?? null;
  }

  async markClusterStateWatched(tenantId: string, ttlSeconds: number): Promise<void> {
    this.put(MemoryKey.clusterStateWatched(tenantId), true, ttlSeconds);
  }

  async isClusterStateWatched(tenantId: string): Promise<boolean> {
    return this.get<boolean>(MemoryKey.clusterStateWatched(tenantId)) === true;
  }

  async close(): Promise<void> {
    this.values.clear();
  }

  private put(key: string, value: unknown, ttlSeconds: number): void {
    this.values.set(key, { value, expiresAt: Date.now() + ttlSeconds * 1000 });
    // Expired entries go as new ones arrive, so the map stays as small as what is live.
    if (this.values.size % 1024 === 0) for (const [k, entry] of this.values) if (entry.expiresAt <= Date.now()) this.values.delete(k);
  }

  private get<T>(key: string): T | undefined {
    const entry = this.values.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.values.delete(key);
      return undefined;
    }
    return entry.value as T;
  }
}

export function createRealtimeStore(redisUrl: string | undefined, namespace: string): RealtimeStore {
  return redisUrl ? new RedisRealtimeStore(redisUrl, namespace) : new MemoryRealtimeStore();
}
