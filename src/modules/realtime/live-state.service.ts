import type { PrismaClient } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/logger.js';
import { ALL_TENANTS, type PubSub } from '../../infra/pubsub.js';
import { inTenant } from './in-tenant.js';
import { Topic, type MetricsIngestedEvent, type SessionStateChangedEvent } from '../../infra/topics.js';
import { OutageLog } from './outage-log.js';
import type { RealtimeSettings } from './realtime.settings.js';
import type { HeartbeatRecord, MetricRecord, RealtimeStore, SessionStateRecord } from './realtime.store.js';

const ENDED = new Set(['completed', 'failed', 'cancelled']);

/**
 * The latest session states, node metrics and heartbeats dashboards read from Redis. The instance
 * that publishes a change writes it (so each is written once); readers fall back to PostgreSQL
 * when a value is missing or Redis is away, and put what they read back.
 */
export class LiveStateService {
  private readonly outage: OutageLog;
  private readonly stopListening: (() => void)[];

  constructor(
    private readonly prisma: PrismaClient,
    private readonly store: RealtimeStore,
    pubsub: PubSub,
    log: Logger,
    private readonly settings: RealtimeSettings,
  ) {
    this.outage = new OutageLog(log, 'live state cache (redis)');
    this.stopListening = [
      pubsub.listen(Topic.SessionStateChanged, ALL_TENANTS, (event) => void this.cacheSessionState(event), { origin: 'local' }),
      pubsub.listen(Topic.MetricsIngested, ALL_TENANTS, (event) => void this.cacheMetrics(event), { origin: 'local' }),
    ];
  }

  /** session:state:{session_id} of the tenant's session, or null when the tenant has none such. */
  async sessionState(tenantId: string, sessionId: string): Promise<SessionStateRecord | null> {
    const cached = await this.outage.attempt(() => this.store.sessionState(sessionId));
    if (cached) return cached.tenantId === tenantId ? cached : null;
    const session = await inTenant(tenantId, () =>
      this.prisma.session.findFirst({
        where: { id: sessionId, tenantId },
        select: {
          status: true,
          scheduledNodeId: true,
          startTime: true,
          updatedAt: true,
          allocations: { where: { status: 'active' }, select: { resourceType: true, allocatedAmount: true, unit: true } },
        },
      }),
    );
    if (!session) return null;
    const record: SessionStateRecord = {
      tenantId,
      sessionId,
      status: session.status,
      nodeId: session.scheduledNodeId,
      allocations: session.allocations.map((a) => ({ resourceType: a.resourceType, amount: a.allocatedAmount.toNumber(), unit: a.unit })),
      startTime: session.startTime?.toISOString() ?? null,
      updatedAt: session.updatedAt.toISOString(),
    };
    await this.outage.attempt(() => this.store.putSessionState(record, this.ttlFor(record.status)));
    return record;
  }

  /** The latest point of each metric type of the tenant's node, from metrics:node:{node_id}:{metric_type}. */
  async latestNodeMetrics(tenantId: string, nodeId: string, metricTypes: readonly string[] | null): Promise<MetricRecord[]> {
    const cached = (await this.outage.attempt(() => this.store.latestMetrics(nodeId, metricTypes)))?.filter((m) => m.tenantId === tenantId);
    const missing = metricTypes ? metricTypes.filter((type) => !cached?.some((m) => m.metricType === type)) : cached?.length ? [] : null;
    if (cached && missing !== null && missing.length === 0) return sortByType(cached);
    const rows = await inTenant(tenantId, () =>
      this.prisma.$queryRaw<{ metric_type: string; value: number; unit: string | null; time: Date }[]>`
        SELECT DISTINCT ON (metric_type) metric_type, value, unit, time
        FROM node_metrics
        WHERE tenant_id = ${tenantId}::uuid AND node_id = ${nodeId}::uuid
          AND time > now() - make_interval(secs => ${this.settings.metricKeyTtlSeconds}::int)
          AND (${missing === null}::boolean OR metric_type = ANY(${missing ?? []}::text[]))
        ORDER BY metric_type, time DESC`,
    );
    const fromDatabase = rows.map((row) => ({ tenantId, nodeId, metricType: row.metric_type, value: row.value, unit: row.unit, time: row.time.toISOString() }));
    return sortByType([...(cached ?? []).filter((m) => !fromDatabase.some((d) => d.metricType === m.metricType)), ...fromDatabase]);
  }

  /** The tenant's nodes heard from within the heartbeat key's lifetime, from the sorted index (no KEYS). */
  async liveHeartbeats(tenantId: string): Promise<HeartbeatRecord[] | undefined> {
    return this.outage.attempt(() => this.store.liveHeartbeats(tenantId, this.settings.heartbeatKeyTtlSeconds));
  }

  close(): void {
    for (const stop of this.stopListening) stop();
  }

  private ttlFor(status: string): number {
    return ENDED.has(status) ? this.settings.endedSessionStateTtlSeconds : this.settings.liveSessionStateTtlSeconds;
  }

  private async cacheSessionState(event: SessionStateChangedEvent): Promise<void> {
    await this.outage.attempt(async () => {
      const previous = await this.store.sessionState(event.sessionId);
      // Events of one session published by two instances may arrive out of order: the later state wins.
      if (previous && previous.tenantId === event.tenantId && previous.updatedAt > event.at) return;
      const startTime = previous?.tenantId === event.tenantId && previous.startTime ? previous.startTime : event.status === 'running' ? event.at : null;
      await this.store.putSessionState(
        {
          tenantId: event.tenantId,
          sessionId: event.sessionId,
          status: event.status,
          nodeId: event.nodeId,
          allocations: ENDED.has(event.status) ? [] : event.allocations,
          startTime,
          updatedAt: event.at,
        },
        this.ttlFor(event.status),
      );
    });
  }

  private async cacheMetrics(event: MetricsIngestedEvent): Promise<void> {
    const latest = new Map<string, MetricRecord>();
    for (const point of event.points) {
      if (!point.nodeId) continue;
      const key = `${point.nodeId}:${point.metricType}`;
      const seen = latest.get(key);
      if (seen && seen.time >= point.time) continue;
      latest.set(key, { tenantId: event.tenantId, nodeId: point.nodeId, metricType: point.metricType, value: point.value, unit: point.unit ?? null, time: point.time });
    }
    await this.outage.attempt(() => this.store.putMetrics([...latest.values()], this.settings.metricKeyTtlSeconds));
  }
}

const sortByType = (records: MetricRecord[]) => [...records].sort((a, b) => a.metricType.localeCompare(b.metricType));
