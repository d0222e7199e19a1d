import type { PrismaClient } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/logger.js';
import { ALL_TENANTS, type PubSub } from '../../infra/pubsub.js';
import { inTenant } from './in-tenant.js';
import { Topic, type HeartbeatHealth, type NodeHeartbeat } from '../../infra/topics.js';
import { NotFoundError } from '../shared/errors.js';
import { parseHeartbeat, parseHeartbeatBatch, type HeartbeatInput } from './realtime.validation.js';
import { announceTransitions, recordTransitionEvent, type LivenessTransition, type RecordedTransition } from './node-liveness.js';
import { OutageLog } from './outage-log.js';
import type { RealtimeSettings } from './realtime.settings.js';
import type { RealtimeStore } from './realtime.store.js';

interface KnownNode {
  tenantId: string;
  status: string;
  hostname: string;
  checkedAt: number;
}

/** How long a node's tenant and status are trusted without asking PostgreSQL; status events refresh it sooner. */
const KNOWN_NODE_TTL_MS = 10_000;

export interface HeartbeatBatchResult {
  heartbeats: NodeHeartbeat[];
  /** Node ids the tenant has no node for; their heartbeats were refused. */
  unknownNodeIds: string[];
}

/**
 * The status a heartbeat moves a node to, if any: a live agent brings an inactive or failed node
 * back; an agent reporting itself unhealthy takes an active or draining node out. Draining and
 * maintenance are the operator's and stay.
 */
export function statusAfterHeartbeat(current: string, health: HeartbeatHealth): 'active' | 'failed' | null {
  if (health !== 'unhealthy' && (current === 'inactive' || current === 'failed')) return 'active';
  if (health === 'unhealthy' && (current === 'active' || current === 'draining')) return 'failed';
  return null;
}

/**
 * Node heartbeats: each one refreshes node:heartbeat:{node_id} in Redis and is published at once;
 * nodes.last_heartbeat is written behind, coalesced: the realtime.heartbeat-flush job (see
 * realtime.jobs.ts) writes every node heard from since its last run, in one statement. A storm of
 * heartbeats is then at most one PostgreSQL write per node per interval; close() writes the rest.
 */
export class HeartbeatService {
  private readonly known = new Map<string, KnownNode>();
  private readonly pending = new Map<string, { tenantId: string; at: Date }>();
  private readonly storeOutage: OutageLog;
  private readonly stopListening: (() => void)[];

  constructor(
    private readonly prisma: PrismaClient,
    private readonly system: PrismaClient,
    private readonly pubsub: PubSub,
    private readonly store: RealtimeStore,
    private readonly log: Logger,
    private readonly settings: RealtimeSettings,
  ) {
    this.storeOutage = new OutageLog(log, 'heartbeat cache (redis)');
    // Status changes made anywhere (operators, the sweeper on another instance) refresh what this instance knows.
    this.stopListening = [
      pubsub.listen(Topic.NodeStatusChanged, ALL_TENANTS, (event) => {
        const node = this.known.get(event.nodeId);
        if (node && node.tenantId === event.tenantId) node.status = event.status;
      }),
      pubsub.listen(Topic.NodeDeregistered, ALL_TENANTS, (event) => this.known.delete(event.nodeId)),
    ];
  }

  async recordHeartbeat(tenantId: string, rawInput: unknown): Promise<NodeHeartbeat> {
    const input = parseHeartbeat(rawInput);
    const result = await this.accept(tenantId, [input]);
    const heartbeat = result.heartbeats[0];
    if (!heartbeat) throw new NotFoundError('Node', input.nodeId);
    return heartbeat;
  }

  /** An agent's batch: heartbeats of nodes the tenant has are accepted, the others are listed back. */
  async recordHeartbeats(tenantId: string, rawInput: unknown): Promise<HeartbeatBatchResult> {
    return this.accept(tenantId, parseHeartbeatBatch(rawInput));
  }

  /** Heartbeats waiting for their PostgreSQL write. */
  get pendingWrites(): number {
    return this.pending.size;
  }

  /**
   * Writes the latest heartbeat time of every node heard from since the last flush, in one
   * statement through the owner connection, each row matched on its node and validated tenant.
   */
  async flush(): Promise<number> {
    this.forgetStaleNodes();
    if (this.pending.size === 0) return 0;
    const batch = [...this.pending.entries()];
    this.pending.clear();
    const nodeIds = batch.map(([nodeId]) => nodeId);
    const tenantIds = batch.map(([, beat]) => beat.tenantId);
    const times = batch.map(([, beat]) => beat.at.toISOString());
    try {
      return await this.system.$executeRaw`
        UPDATE nodes AS n SET last_heartbeat = b.at
        FROM unnest(${nodeIds}::uuid[], ${tenantIds}::uuid[], ${times}::timestamptz[]) AS b(node_id, tenant_id, at)
        WHERE n.node_id = b.node_id AND n.tenant_id = b.tenant_id
          AND (n.last_heartbeat IS NULL OR n.last_heartbeat < b.at)`;
    } catch (error) {
      // Keep them for the next flush, unless a newer heartbeat of the node arrived meanwhile.
      for (const [nodeId, beat] of batch) if (!this.pending.has(nodeId)) this.pending.set(nodeId, beat);
      throw error;
    }
  }

  /** Stops listening and writes what is still pending. */
  async close(): Promise<void> {
    for (const stop of this.stopListening) stop();
    await this.flush();
  }

  private async accept(tenantId: string, inputs: HeartbeatInput[]): Promise<HeartbeatBatchResult> {
    const latest = new Map(inputs.map((input) => [input.nodeId, input]));
    const nodes = await this.lookup(tenantId, [...latest.keys()]);
    const at = new Date();
    const heartbeats: NodeHeartbeat[] = [];
    const unknownNodeIds: string[] = [];
    const transitions: LivenessTransition[] = [];
    for (const [nodeId, input] of latest) {
      const node = nodes.get(nodeId);
      if (!node) {
        unknownNodeIds.push(nodeId);
        continue;
      }
      heartbeats.push({ nodeId, status: input.status, load: input.load, at: at.toISOString() });
      this.pending.set(nodeId, { tenantId, at });
      const status = statusAfterHeartbeat(node.status, input.status);
      if (status) {
        const reason = status === 'active' ? 'heartbeat received' : 'agent reported unhealthy';
        transitions.push({ tenantId, nodeId, hostname: node.hostname, previousStatus: node.status, status, at, reason });
      }
    }
    if (heartbeats.length === 0) return { heartbeats, unknownNodeIds };
    await this.storeOutage.attempt(() => this.store.putHeartbeats(tenantId, heartbeats, this.settings.heartbeatKeyTtlSeconds));
    await this.pubsub
      .publish(Topic.NodeHeartbeatsRecorded, { tenantId, heartbeats })
      .catch((error: unknown) => this.log.warn('heartbeats not published', { count: heartbeats.length, reason: String(error) }));
    if (transitions.length > 0) await announceTransitions(this.pubsub, this.log, await this.transition(tenantId, transitions));
    return { heartbeats, unknownNodeIds };
  }

  /** The tenant's nodes among `nodeIds`, from what this instance knows or else from PostgreSQL. */
  private async lookup(tenantId: string, nodeIds: string[]): Promise<Map<string, KnownNode>> {
    const now = Date.now();
    const found = new Map<string, KnownNode>();
    const missing: string[] = [];
    for (const nodeId of nodeIds) {
      const node = this.known.get(nodeId);
      if (node && node.tenantId === tenantId && now - node.checkedAt < KNOWN_NODE_TTL_MS) found.set(nodeId, node);
      else missing.push(nodeId);
    }
    if (missing.length === 0) return found;
    const rows = await inTenant(tenantId, () =>
      this.prisma.node.findMany({ where: { tenantId, id: { in: missing } }, select: { id: true, status: true, hostname: true } }),
    );
    for (const row of rows) {
      const node = { tenantId, status: row.status, hostname: row.hostname, checkedAt: now };
      this.known.set(row.id, node);
      found.set(row.id, node);
    }
    return found;
  }

  /** Moves nodes whose status the heartbeat changes, each re-read under its row lock first. */
  private async transition(tenantId: string, transitions: LivenessTransition[]): Promise<RecordedTransition[]> {
    const recorded = await inTenant(tenantId, () =>
      this.prisma.$transaction(async (tx) => {
        const done: RecordedTransition[] = [];
        for (const transition of transitions) {
          const [locked] = await tx.$queryRaw<{ status: string }[]>`
            SELECT status FROM nodes WHERE node_id = ${transition.nodeId}::uuid AND tenant_id = ${tenantId}::uuid FOR UPDATE`;
          if (!locked || locked.status === transition.status) continue;
          // Another change won the race (an operator drained it meanwhile): that one stands.
          if (statusAfterHeartbeat(locked.status, transition.status === 'active' ? 'healthy' : 'unhealthy') !== transition.status) continue;
          await tx.node.update({ where: { id: transition.nodeId }, data: { status: transition.status, lastHeartbeat: transition.at } });
          done.push(await recordTransitionEvent(tx, { ...transition, previousStatus: locked.status }));
        }
        return done;
      }),
    );
    for (const t of recorded) {
      const node = this.known.get(t.nodeId);
      if (node) node.status = t.status;
    }
    return recorded;
  }

  private forgetStaleNodes(): void {
    const oldest = Date.now() - 10 * KNOWN_NODE_TTL_MS;
    for (const [nodeId, node] of this.known) if (node.checkedAt < oldest) this.known.delete(nodeId);
  }
}
