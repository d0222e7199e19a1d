import type { PrismaClient } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/logger.js';
import { ALL_TENANTS, type PubSub } from '../../infra/pubsub.js';
import { Topic } from '../../infra/topics.js';
import { ClusterStateService } from './cluster-state.service.js';
import { ConnectionRegistry, revocationAnnouncer, type AnnounceRevocation } from './connections.js';
import { HeartbeatService } from './heartbeat.service.js';
import { LiveFeeds } from './live-feeds.js';
import { LiveStateService } from './live-state.service.js';
import { LivenessSweeper } from './liveness.sweeper.js';
import type { RealtimeSettings } from './realtime.settings.js';
import { createRealtimeStore, type RealtimeStore } from './realtime.store.js';

export interface RealtimeDeps {
  /** the tenant client */
  prisma: PrismaClient;
  /** the owner client, for cross-tenant batches and the sweeper */
  system: PrismaClient;
  pubsub: PubSub;
  log: Logger;
  redisUrl: string | undefined;
  /** PUBSUB_NAMESPACE: the prefix of every Redis key the realtime store writes. */
  namespace: string;
  settings: RealtimeSettings;
  store?: RealtimeStore;
}

/** Heartbeats, liveness, the live caches, subscription feeds and the sockets that carry them. */
export class RealtimeService {
  readonly settings: RealtimeSettings;
  readonly store: RealtimeStore;
  readonly heartbeats: HeartbeatService;
  readonly sweeper: LivenessSweeper;
  readonly clusterState: ClusterStateService;
  readonly liveState: LiveStateService;
  readonly connections: ConnectionRegistry;
  readonly feeds: LiveFeeds;
  readonly announceRevocation: AnnounceRevocation;
  private readonly stopRevocations: () => void;

  constructor(private readonly deps: RealtimeDeps) {
    const { prisma, system, pubsub, log } = deps;
    this.settings = deps.settings;
    this.store = deps.store ?? createRealtimeStore(deps.redisUrl, deps.namespace);
    this.heartbeats = new HeartbeatService(prisma, system, pubsub, this.store, log, this.settings);
    this.sweeper = new LivenessSweeper(system, pubsub, log, this.settings.heartbeatTimeoutSeconds, () =>
      this.heartbeats.flush().catch((error: unknown) => log.warn('heartbeats not written before the sweep', { error: (error as Error).message })),
    );
    this.clusterState = new ClusterStateService(system, pubsub, this.store, log, this.settings);
    this.liveState = new LiveStateService(prisma, this.store, pubsub, log, this.settings);
    this.connections = new ConnectionRegistry(log);
    this.feeds = new LiveFeeds(prisma, pubsub, this.settings, this.connections, this.clusterState);
    this.announceRevocation = revocationAnnouncer(pubsub, log);
    this.stopRevocations = pubsub.listen(Topic.PrincipalRevoked, ALL_TENANTS, (event) => {
      this.connections.revoke(event);
      this.feeds.revoke(event);
    });
  }

  /** Stops listening; heartbeats heard since the last flush still reach PostgreSQL. */
  async close(): Promise<void> {
    this.stopRevocations();
    await this.heartbeats.close().catch((error: unknown) => this.deps.log.warn('heartbeats not written at shutdown', { error: (error as Error).message }));
    this.clusterState.close();
    this.liveState.close();
    await this.store.close();
  }
}
