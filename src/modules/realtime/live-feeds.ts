import type { PrismaClient } from '../../generated/prisma/client.js';
import type { PubSub } from '../../infra/pubsub.js';
import { inTenant } from './in-tenant.js';
import {
  Topic,
  type ClusterStateChangedEvent,
  type MetricPoint,
  type NodeHeartbeat,
  type NodeStatusChangedEvent,
  type PrincipalRevokedEvent,
  type SessionStateChangedEvent,
  type SystemEventRecordedEvent,
  type TopicName,
  type TopicPayloads,
} from '../../infra/topics.js';
import type { Permission } from '../identity/permissions.js';
import { can, type Principal } from '../identity/principal.js';
import { NotFoundError } from '../shared/errors.js';
import type { ClusterStateService } from './cluster-state.service.js';
import { isRevokedBy, type ConnectionRegistry } from './connections.js';
import { parseLiveMetricsFilter, parseMinSeverity, severityRank } from './realtime.validation.js';
import { LatestValueFeed, OrderedFeed, SheddingFeed, type LiveFeed, type PointBatch } from './live-feed.js';
import type { RealtimeSettings } from './realtime.settings.js';
import { CredentialsEndedError } from '../shared/errors.js';

const MAX_TIMER_MS = 2_147_483_647;

/**
 * One feed per subscription: events of the subscriber's tenant only (its own channel, and checked
 * again here), and only while its principal holds the permission, before anything is queued.
 */
export class LiveFeeds {
  /** Feeds whose principal no socket of this instance carries (SSE); they end themselves on expiry and revocation. */
  private readonly detached = new Map<LiveFeed<unknown, unknown>, Principal>();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly pubsub: PubSub,
    private readonly settings: RealtimeSettings,
    private readonly connections: ConnectionRegistry,
    private readonly clusterState: ClusterStateService,
  ) {}

  get open(): number {
    return this.detached.size;
  }

  /**
   * A domain's feed of one or more topics: what `select` keeps of each event of the principal's
   * tenant, in order, while the principal holds `permission`. A subscriber that lets the queue limit
   * pile up is ended with SUBSCRIBER_TOO_SLOW, so it knows to resync.
   */
  ordered<T extends TopicName, Out>(
    principal: Principal,
    permission: Permission,
    topics: readonly T[],
    select: (payload: TopicPayloads[T], topic: T) => readonly Out[],
  ): AsyncIterableIterator<Out> {
    return this.connect(principal, permission, new OrderedFeed<Out>(this.settings.subscriberQueueLimit), topics, select);
  }

  async nodeHeartbeats(principal: Principal, nodeId: string | null): Promise<AsyncIterableIterator<NodeHeartbeat>> {
    if (nodeId) await this.assertNode(principal.tenantId, nodeId);
    return this.ordered(principal, 'cluster:read', [Topic.NodeHeartbeatsRecorded], (event) =>
      nodeId ? event.heartbeats.filter((beat) => beat.nodeId === nodeId) : event.heartbeats,
    );
  }

  async nodeStatusChanges(principal: Principal, nodeId: string | null): Promise<AsyncIterableIterator<NodeStatusChangedEvent>> {
    if (nodeId) await this.assertNode(principal.tenantId, nodeId);
    return this.ordered(principal, 'cluster:read', [Topic.NodeStatusChanged], (event) => (!nodeId || event.nodeId === nodeId ? [event] : []));
  }

  async sessionStateChanges(principal: Principal, sessionId: string | null): Promise<AsyncIterableIterator<SessionStateChangedEvent>> {
    if (sessionId) await this.assertSession(principal.tenantId, sessionId);
    return this.ordered(principal, 'sessions:read', [Topic.SessionStateChanged], (event) => (!sessionId || event.sessionId === sessionId ? [event] : []));
  }

  async liveMetrics(principal: Principal, rawFilter: unknown): Promise<AsyncIterableIterator<PointBatch<MetricPoint>>> {
    const filter = parseLiveMetricsFilter(rawFilter);
    if (filter.nodeId) await this.assertNode(principal.tenantId, filter.nodeId);
    const types = filter.metricTypes?.length ? new Set(filter.metricTypes) : null;
    const feed = new SheddingFeed<MetricPoint>(this.settings.metricsQueueLimit);
    return this.connect(principal, 'metrics:read', feed, [Topic.MetricsIngested], (event) =>
      event.points.filter((point) => (!filter.nodeId || point.nodeId === filter.nodeId) && (!types || types.has(point.metricType))),
    );
  }

  systemEvents(principal: Principal, rawMinSeverity: unknown): AsyncIterableIterator<SystemEventRecordedEvent> {
    const least = severityRank(parseMinSeverity(rawMinSeverity));
    return this.ordered(principal, 'events:read', [Topic.SystemEventRecorded], (event) => (severityRank(event.severity) >= least ? [event] : []));
  }

  /** The current cluster:state first, then each change, at most one per interval to this subscriber. */
  async clusterStates(principal: Principal): Promise<AsyncIterableIterator<ClusterStateChangedEvent>> {
    const feed = new LatestValueFeed<ClusterStateChangedEvent>(this.settings.clusterStateIntervalMs);
    const connected = this.connect(principal, 'cluster:read', feed, [Topic.ClusterStateChanged], (event) => [event]);
    feed.onEnd(this.clusterState.watchWhileOpen(principal.tenantId));
    const current = await this.clusterState.current(principal.tenantId);
    // A change that arrived while the current state was read is newer: keep it.
    if (!feed.hasValue) feed.push(current);
    return connected;
  }

  /** Ends the detached feeds a revocation names; socket feeds end with their socket. */
  revoke(event: PrincipalRevokedEvent): number {
    let ended = 0;
    for (const [feed, principal] of [...this.detached]) {
      if (!isRevokedBy(principal, event)) continue;
      feed.end(new CredentialsEndedError(event.reason === 'role_changed' ? 'permissions changed: subscribe again' : 'credentials revoked'));
      ended += 1;
    }
    return ended;
  }

  private connect<T extends TopicName, In, Out>(
    principal: Principal,
    permission: Permission,
    feed: LiveFeed<In, Out>,
    topics: readonly T[],
    select: (payload: TopicPayloads[T], topic: T) => readonly In[],
  ): LiveFeed<In, Out> {
    const tenantId = principal.tenantId;
    for (const topic of topics) {
      const stop = this.pubsub.listen(topic, tenantId, (payload) => {
        if ((payload as { tenantId: string }).tenantId !== tenantId || !can(principal, permission)) return;
        for (const item of select(payload, topic)) feed.push(item);
      });
      feed.onEnd(stop);
    }
    if (!this.connections.ownsPrincipal(principal)) this.detach(principal, feed as LiveFeed<unknown, unknown>);
    return feed;
  }

  private detach(principal: Principal, feed: LiveFeed<unknown, unknown>): void {
    this.detached.set(feed, principal);
    let timer: NodeJS.Timeout | undefined;
    const expiresAt = principal.expiresAt?.getTime();
    if (expiresAt !== undefined) {
      const arm = () => {
        const wait = expiresAt - Date.now();
        if (wait <= 0) return feed.end(new CredentialsEndedError('access token expired: refresh it and subscribe again'));
        timer = setTimeout(arm, Math.min(wait, MAX_TIMER_MS));
        timer.unref();
      };
      arm();
    }
    feed.onEnd(() => {
      clearTimeout(timer);
      this.detached.delete(feed);
    });
  }

  private async assertNode(tenantId: string, nodeId: string): Promise<void> {
    const node = await inTenant(tenantId, () => this.prisma.node.findFirst({ where: { id: nodeId, tenantId }, select: { id: true } }));
    if (!node) throw new NotFoundError('Node', nodeId);
  }

  private async assertSession(tenantId: string, sessionId: string): Promise<void> {
    const session = await inTenant(tenantId, () => this.prisma.session.findFirst({ where: { id: sessionId, tenantId }, select: { id: true } }));
    if (!session) throw new NotFoundError('Session', sessionId);
  }
}
