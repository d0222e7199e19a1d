import { Prisma, type PrismaClient, type Session } from '../../generated/prisma/client.js';
import { actAsTenant, type Transaction } from '../../infra/db.js';
import { withExclusiveLock } from '../../infra/locks.js';
import type { Logger } from '../../infra/logger.js';
import type { PubSub } from '../../infra/pubsub.js';
import { Topic } from '../../infra/topics.js';
import { countUnplaceableNodes, loadPlaceableNodes, placeableNode } from '../cluster/capacity.js';
import { EventPublisher, recordSystemEvent } from '../shared/domain-events.js';
import { rankNodes, requestedAmounts, type NodeRejection, type PlacementRequest } from '../cluster/placement.js';
import type { ClusterSettings } from '../cluster/settings.js';
import { IllegalTransitionError, InsufficientCapacityError, NotFoundError } from '../shared/errors.js';
import type { SessionStatus } from './session-states.js';
import { readPlacementPreferences } from './session.validation.js';
import { assertMaySteer, type SessionActor } from './session-access.js';

/** Why a session is still pending, as stored in sessions.scheduling_notes. */
export interface SchedulingNotes {
  attemptedAt: string;
  /** Scheduling attempts that found no place so far. */
  attempts: number;
  strategy: string;
  rejections: NodeRejection[];
  /** The tenant's nodes that take no new work at all, counted by reason. */
  excluded: { reason: string; count: number }[];
}

interface LockedSession {
  id: string;
  user_id: string;
  session_name: string;
  status: SessionStatus;
  cpu_request: string;
  memory_request_gb: string;
  gpu_request: number;
  gpu_type: string | null;
  storage_request_gb: string;
  placement_preferences: unknown;
  scheduling_notes: SchedulingNotes | null;
}

export interface PassResult {
  tenants: number;
  considered: number;
  scheduled: number;
}

type PlaceOutcome =
  | { placed: true; session: Session; nodeId: string; allocations: { resourceType: string; amount: number; unit: string }[] }
  | { placed: false; notes: SchedulingNotes };

// In a transaction, so the embedded database's socket server keeps the statement's messages together.
const pendingTenants = (system: PrismaClient) =>
  system.$transaction((tx) => tx.$queryRaw<{ tenant_id: string }[]>`SELECT DISTINCT tenant_id::text FROM sessions WHERE status = 'pending'`);

/**
 * Lets at most `limit` callers run at once; the rest wait their turn in order. Placements contend
 * for the same node rows anyway, so queueing them here keeps them from holding (and timing out
 * waiting for) every pooled connection while they wait on each other's row locks.
 */
class Gate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}

/** Candidates tried per call; the rest of a long list waits for the next pass. */
const MAX_NODES_TRIED = 16;
/** Rejections kept in a session's notes. */
const MAX_REJECTIONS_KEPT = 50;

/**
 * Places pending sessions on nodes. Capacity is taken with one conditional UPDATE per resource
 * (the check and the write are the same statement), under a share lock on the node row that a
 * status change must wait for, all in the transaction that holds the session's row lock; a
 * failed resource rolls the node's attempt back to a savepoint and the next candidate is tried.
 */
export class SchedulerService {
  private readonly events: EventPublisher;
  private readonly gate: Gate;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly system: PrismaClient,
    pubsub: PubSub,
    private readonly log: Logger,
    private readonly settings: ClusterSettings,
    /** Placement transactions one instance runs at once; keep it below the connection pool's size. */
    maxConcurrentPlacements: number,
  ) {
    this.events = new EventPublisher(pubsub, log);
    this.gate = new Gate(Math.max(1, maxConcurrentPlacements));
  }

  /** Schedules one pending session now, or records why not and says so with a typed error. */
  async scheduleSession(actor: SessionActor, sessionId: string) {
    const outcome = await this.gate.run(() =>
      this.prisma.$transaction((tx) => this.placeIn(tx, actor.tenantId, sessionId, actor), {
        // Placements queue for the same node's rows; waiting is their normal state.
        maxWait: 30_000,
        timeout: 60_000,
      }),
    );
    await this.announce(actor.tenantId, outcome);
    if (!outcome.placed) throw new InsufficientCapacityError(`session ${sessionId} cannot be placed now; it stays pending`, describe(outcome.notes));
    return outcome.session;
  }

  /**
   * One pass over pending sessions, highest priority first, then oldest: of every tenant, or of
   * one. A tenant's pass runs on one instance at a time, inside the transaction holding its lock
   * (so it needs no second connection); other instances skip that tenant meanwhile.
   */
  async runPass(onlyTenantId?: string): Promise<PassResult> {
    const tenantIds = onlyTenantId
      ? [onlyTenantId]
      : (await pendingTenants(this.system)).map((row) => row.tenant_id);
    const result: PassResult = { tenants: 0, considered: 0, scheduled: 0 };
    for (const tenantId of tenantIds) {
      const outcomes = await withExclusiveLock(this.system, `workloads.scheduler:${tenantId}`, (tx) => this.passForTenant(tx, tenantId), 300_000);
      if (!outcomes) continue;
      for (const outcome of outcomes) await this.announce(tenantId, outcome);
      const scheduled = outcomes.filter((outcome) => outcome.placed).length;
      if (outcomes.length > 0) this.log.debug('scheduler pass', { tenantId, considered: outcomes.length, scheduled });
      result.tenants += 1;
      result.considered += outcomes.length;
      result.scheduled += scheduled;
    }
    return result;
  }

  private async passForTenant(tx: Transaction, tenantId: string): Promise<PlaceOutcome[]> {
    await actAsTenant(tx, tenantId);
    const pending = await tx.session.findMany({
      where: { tenantId, status: 'pending' },
      orderBy: [{ priority: 'desc' }, { createdAt: 'asc' }, { id: 'asc' }],
      take: this.settings.schedulerBatchSize,
      select: { id: true },
    });
    const outcomes: PlaceOutcome[] = [];
    for (const { id } of pending) {
      try {
        outcomes.push(await this.placeIn(tx, tenantId, id, null));
      } catch (error) {
        // Cancelled or scheduled by someone else since the listing: nothing to do for it.
        if (!(error instanceof IllegalTransitionError || error instanceof NotFoundError)) throw error;
      }
    }
    return outcomes;
  }

  /** Publishes a placement once its transaction has committed. */
  private async announce(tenantId: string, outcome: PlaceOutcome): Promise<void> {
    if (!outcome.placed) return;
    const { session } = outcome;
    await this.events.publish(Topic.SessionStateChanged, {
      tenantId,
      sessionId: session.id,
      userId: session.userId,
      previousStatus: 'pending',
      status: 'scheduled',
      nodeId: outcome.nodeId,
      allocations: outcome.allocations,
      reason: null,
      at: session.updatedAt.toISOString(),
    });
  }

  /** Places one session within the caller's transaction, which holds the session's row lock until it ends. */
  private async placeIn(tx: Transaction, tenantId: string, sessionId: string, actor: SessionActor | null): Promise<PlaceOutcome> {
    const [session] = await tx.$queryRaw<LockedSession[]>`
      SELECT session_id::text AS id, user_id::text, session_name, status, cpu_request::text, memory_request_gb::text,
             gpu_request, gpu_type, storage_request_gb::text, placement_preferences, scheduling_notes
      FROM sessions WHERE session_id = ${sessionId}::uuid AND tenant_id = ${tenantId}::uuid FOR UPDATE`;
    if (!session) throw new NotFoundError('Session', sessionId);
    if (actor) assertMaySteer(actor, { id: sessionId, userId: session.user_id });
    if (session.status !== 'pending') throw new IllegalTransitionError('Session', sessionId, session.status, 'scheduled');

    const preferences = readPlacementPreferences(session.placement_preferences);
    const request: PlacementRequest = {
      cpu: Number(session.cpu_request),
      memoryGb: Number(session.memory_request_gb),
      gpuCount: session.gpu_request,
      gpuType: session.gpu_type,
      storageGb: Number(session.storage_request_gb),
      ...preferences,
    };
    const exact = requestedAmounts(request).map(({ resourceType }) => ({
      resourceType,
      amount: { cpu: session.cpu_request, memory: session.memory_request_gb, storage: session.storage_request_gb, gpu: String(session.gpu_request), network: '0' }[resourceType],
    }));
    const nodes = await loadPlaceableNodes(tx, tenantId, this.settings.heartbeatTimeoutSeconds);
    const { candidates, rejections } = rankNodes(nodes, request);

    for (const { node } of candidates.slice(0, MAX_NODES_TRIED)) {
      // The session's own rows are written first, so the node's capacity rows, the ones every
      // concurrent placement queues for, stay locked only from their UPDATE to the commit.
      await tx.$executeRaw`SAVEPOINT placement_attempt`;
      const allocations = exact.map(({ resourceType, amount }) => ({ resourceType, amount, unit: node.resources[resourceType]?.unit ?? '' }));
      await tx.sessionAllocation.createMany({
        data: allocations.map(({ resourceType, amount, unit }) => ({ tenantId, sessionId, nodeId: node.nodeId, resourceType, allocatedAmount: amount, unit })),
      });
      const placed = await tx.session.update({
        where: { id: sessionId },
        data: { status: 'scheduled', scheduledNodeId: node.nodeId, actualNodeIds: [node.nodeId], schedulingNotes: Prisma.DbNull },
      });
      await recordSystemEvent(tx, {
        tenantId,
        eventType: 'session.state_changed',
        severity: 'info',
        sourceComponent: 'scheduler',
        sessionId,
        sourceNodeId: node.nodeId,
        userId: session.user_id,
        message: `session ${session.session_name} pending -> scheduled on ${node.hostname}`,
        details: { sessionId, previousStatus: 'pending', status: 'scheduled', nodeId: node.nodeId, strategy: request.strategy },
      });
      const refusal = await this.allocateOn(tx, tenantId, node.nodeId, exact);
      if (refusal) {
        await tx.$executeRaw`ROLLBACK TO SAVEPOINT placement_attempt`;
        await tx.$executeRaw`RELEASE SAVEPOINT placement_attempt`;
        rejections.push({ nodeId: node.nodeId, hostname: node.hostname, reasons: [refusal] });
        continue;
      }
      await tx.$executeRaw`RELEASE SAVEPOINT placement_attempt`;
      return {
        placed: true,
        session: placed,
        nodeId: node.nodeId,
        allocations: allocations.map(({ resourceType, amount, unit }) => ({ resourceType, amount: Number(amount), unit })),
      };
    }

    const notes: SchedulingNotes = {
      attemptedAt: new Date().toISOString(),
      attempts: (session.scheduling_notes?.attempts ?? 0) + 1,
      strategy: request.strategy,
      rejections: rejections.slice(0, MAX_REJECTIONS_KEPT),
      excluded: await countUnplaceableNodes(tx, tenantId, this.settings.heartbeatTimeoutSeconds),
    };
    await tx.session.update({ where: { id: sessionId }, data: { schedulingNotes: notes as unknown as Prisma.InputJsonObject } });
    return { placed: false, notes };
  }

  /**
   * Takes the amounts on one node, or says why it could not (null when taken). The share lock makes
   * a concurrent drain, failure or deployment claim of the node wait for this transaction (or makes
   * this one see it); each UPDATE adds only when the free capacity covers the amount.
   */
  private async allocateOn(tx: Transaction, tenantId: string, nodeId: string, amounts: { resourceType: string; amount: string }[]): Promise<string | null> {
    const [open] = await tx.$queryRaw<{ node_id: string }[]>`
      SELECT n.node_id::text FROM nodes n
      WHERE n.node_id = ${nodeId}::uuid AND n.tenant_id = ${tenantId}::uuid AND ${placeableNode(this.settings.heartbeatTimeoutSeconds)}
      FOR SHARE`;
    if (!open) return 'the node stopped taking new work meanwhile';
    for (const { resourceType, amount } of amounts) {
      const changed = await tx.$executeRaw`
        UPDATE node_resources
        SET allocated_capacity = allocated_capacity + ${amount}::numeric, updated_at = now()
        WHERE node_id = ${nodeId}::uuid AND tenant_id = ${tenantId}::uuid AND resource_type = ${resourceType}
          AND total_capacity - allocated_capacity - reservation_capacity >= ${amount}::numeric`;
      if (changed === 0) return `${resourceType}: taken by a concurrent placement`;
    }
    return null;
  }
}

/** The notes as lines a client can show: one per rejected node, one per excluded group. */
export function describe(notes: SchedulingNotes): string[] {
  const lines = [
    ...notes.rejections.map((rejection) => `${rejection.hostname}: ${rejection.reasons.join('; ')}`),
    ...notes.excluded.map((group) => `${group.count} node${group.count === 1 ? '' : 's'}: ${group.reason}`),
  ];
  return lines.length > 0 ? lines : ['the tenant has no nodes'];
}
