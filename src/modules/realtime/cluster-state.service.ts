import type { PrismaClient } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/logger.js';
import { ALL_TENANTS, type PubSub } from '../../infra/pubsub.js';
import { Topic, type ClusterStateChangedEvent, type TopicName } from '../../infra/topics.js';
import { OutageLog } from './outage-log.js';
import type { RealtimeSettings } from './realtime.settings.js';
import type { ClusterStateRecord, RealtimeStore } from './realtime.store.js';

/** Events after which a tenant's cluster:state may differ. */
const CHANGES: readonly TopicName[] = [
  Topic.NodeRegistered,
  Topic.NodeStatusChanged,
  Topic.NodeDeregistered,
  Topic.SessionStateChanged,
  Topic.NodeHeartbeatsRecorded,
];

const sameState = (a: ClusterStateRecord | undefined, b: ClusterStateRecord) =>
  a !== undefined &&
  a.totalNodes === b.totalNodes &&
  a.activeNodes === b.activeNodes &&
  a.totalSessions === b.totalSessions &&
  a.clusterLoad === b.clusterLoad;

/** A read or a subscription keeps a tenant's cluster:state current this long; open subscriptions renew it. */
const WATCH_TTL_SECONDS = 120;
const WATCH_RENEW_MS = 60_000;

/**
 * Keeps the seed's cluster:state current per tenant, for the tenants someone watches (a read of
 * it, or a subscription on any instance, within the last two minutes): a change marks the tenant;
 * every interval each marked and watched tenant is recomputed once, and written and announced only
 * when it differs. A tenant's summary thus changes at most once per interval however many events
 * arrive, and tenants nobody watches cost no queries.
 */
export class ClusterStateService {
  private readonly dirty = new Set<string>();
  private readonly published = new Map<string, ClusterStateRecord>();
  /** Open subscriptions per tenant on this instance, whose interest this instance renews. */
  private readonly watchers = new Map<string, number>();
  private lastRenewal = 0;
  private readonly storeOutage: OutageLog;
  private readonly stopListening: (() => void)[];

  constructor(
    private readonly system: PrismaClient,
    private readonly pubsub: PubSub,
    private readonly store: RealtimeStore,
    private readonly log: Logger,
    private readonly settings: RealtimeSettings,
  ) {
    this.storeOutage = new OutageLog(log, 'cluster state cache (redis)');
    // Only events this instance published: each change is then recomputed by exactly one instance.
    this.stopListening = CHANGES.map((topic) =>
      pubsub.listen(topic, ALL_TENANTS, (event) => this.dirty.add((event as { tenantId: string }).tenantId), { origin: 'local' }),
    );
  }

  /** Recomputes every watched tenant marked since the last run; returns the states that changed. */
  async refreshChanged(): Promise<ClusterStateRecord[]> {
    if (Date.now() - this.lastRenewal >= WATCH_RENEW_MS) {
      this.lastRenewal = Date.now();
      for (const tenantId of this.watchers.keys()) await this.markWatched(tenantId);
    }
    const tenants = [...this.dirty];
    this.dirty.clear();
    const changed: ClusterStateRecord[] = [];
    for (const tenantId of tenants) {
      const state = await this.refresh(tenantId).catch((error: unknown) => {
        this.dirty.add(tenantId);
        throw error;
      });
      if (state) changed.push(state);
    }
    return changed;
  }

  /** Recomputes one watched tenant's state; writes and announces it when it changed, and returns it then. */
  async refresh(tenantId: string): Promise<ClusterStateRecord | null> {
    // Without Redis, interest is unknown: keep the state current rather than let a watcher miss a change.
    if (!this.watchers.has(tenantId) && (await this.storeOutage.attempt(() => this.store.isClusterStateWatched(tenantId))) === false) return null;
    const state = await this.compute(tenantId);
    // What Redis holds may come from another instance; what this one published last stands in while Redis is away.
    const previous = (await this.storeOutage.attempt(() => this.store.clusterState(tenantId))) ?? this.published.get(tenantId);
    if (sameState(previous, state)) return null;
    this.published.set(tenantId, state);
    await this.storeOutage.attempt(() => this.store.putClusterState(state));
    await this.pubsub
      .publish(Topic.ClusterStateChanged, state)
      .catch((error: unknown) => this.log.warn('cluster state not published', { reason: String(error) }));
    return state;
  }

  /** The tenant's cluster:state as Redis holds it while watched; computed (and stored) otherwise. Marks it watched. */
  async current(tenantId: string): Promise<ClusterStateRecord> {
    const watched = (await this.storeOutage.attempt(() => this.store.isClusterStateWatched(tenantId))) === true;
    await this.markWatched(tenantId);
    // Nobody watched it lately, so what Redis holds may be old: compute it afresh.
    const cached = watched ? await this.storeOutage.attempt(() => this.store.clusterState(tenantId)) : null;
    if (cached) return cached;
    const state = await this.compute(tenantId);
    this.published.set(tenantId, state);
    await this.storeOutage.attempt(() => this.store.putClusterState(state));
    return state;
  }

  /** Keeps the tenant's state current while a subscription of this instance is open; returns the way to stop. */
  watchWhileOpen(tenantId: string): () => void {
    this.watchers.set(tenantId, (this.watchers.get(tenantId) ?? 0) + 1);
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      const count = (this.watchers.get(tenantId) ?? 1) - 1;
      if (count > 0) this.watchers.set(tenantId, count);
      else this.watchers.delete(tenantId);
    };
  }

  close(): void {
    for (const stop of this.stopListening) stop();
  }

  private async markWatched(tenantId: string): Promise<void> {
    await this.storeOutage.attempt(() => this.store.markClusterStateWatched(tenantId, WATCH_TTL_SECONDS));
  }

  private async compute(tenantId: string): Promise<ClusterStateChangedEvent> {
    const [counts] = await this.system.$queryRaw<{ total_nodes: number; active_nodes: number; total_sessions: number }[]>`
      SELECT count(*)::int AS total_nodes,
             (count(*) FILTER (WHERE status = 'active'))::int AS active_nodes,
             (SELECT count(*)::int FROM sessions
               WHERE tenant_id = ${tenantId}::uuid AND status IN ('scheduled', 'running', 'paused')) AS total_sessions
      FROM nodes WHERE tenant_id = ${tenantId}::uuid`;
    const live = await this.storeOutage.attempt(() => this.store.liveHeartbeats(tenantId, this.settings.heartbeatKeyTtlSeconds));
    const loads = live?.map((beat) => beat.load) ?? [];
    // Without the heartbeat cache, the last known load stands rather than flapping to unknown.
    const clusterLoad = live === undefined ? (this.published.get(tenantId)?.clusterLoad ?? null) : loads.length > 0 ? round(loads.reduce((a, b) => a + b, 0) / loads.length) : null;
    return {
      tenantId,
      totalNodes: counts?.total_nodes ?? 0,
      activeNodes: counts?.active_nodes ?? 0,
      totalSessions: counts?.total_sessions ?? 0,
      clusterLoad,
      at: new Date().toISOString(),
    };
  }
}

const round = (value: number) => Math.round(value * 1000) / 1000;
