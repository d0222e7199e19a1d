import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/logger.js';
import type { PubSub } from '../../infra/pubsub.js';
import { Topic } from '../../infra/topics.js';
import { EventPublisher, recordSystemEvent } from '../shared/domain-events.js';
import type { ClusterSettings } from '../cluster/settings.js';
import { ForbiddenError, IllegalTransitionError, NotFoundError, QuotaExceededError, ValidationError } from '../shared/errors.js';
import { canTransition, isTerminal, LIVE_STATUSES, type SessionStatus } from './session-states.js';
import { parseCreateSession, parseTransition } from './session.validation.js';
import type { SchedulerService } from './scheduler.service.js';
import { assertMaySteer, type SessionActor } from './session-access.js';
import { SecretBox } from '../../infra/secret-box.js';
import { releaseAllocations } from './allocations.js';

interface QuotaUsage {
  quota_cpu_hours: string;
  quota_memory_gb_hours: string;
  quota_storage_gb: string;
  cpu_hours: string;
  memory_gb_hours: string;
  storage_gb: string;
}

/** Allocations as events carry them. */
export const allocationSummary = (rows: { resourceType: string; allocatedAmount: Prisma.Decimal; unit: string }[]) =>
  rows.map((row) => ({ resourceType: row.resourceType, amount: row.allocatedAmount.toNumber(), unit: row.unit }));

/**
 * Compute sessions: creation within quotas and the state machine. Quotas bound what a user's live
 * sessions (pending, scheduled, running, paused) reserve: the sum of cpu_request x runtime hours,
 * of memory_request_gb x runtime hours, and of storage_request_gb, where the runtime is
 * max_runtime_minutes (or the configured default when a session names none).
 */
export class ComputeSessionService {
  private readonly events: EventPublisher;

  constructor(
    private readonly prisma: PrismaClient,
    pubsub: PubSub,
    log: Logger,
    private readonly settings: ClusterSettings,
    private readonly scheduler: SchedulerService,
    /** Seals the values a session's owner marks secret. */
    private readonly secrets: SecretBox,
  ) {
    this.events = new EventPublisher(pubsub, log);
  }

  async createSession(actor: SessionActor, rawInput: unknown) {
    const input = parseCreateSession(rawInput);
    const userId = input.userId ?? actor.userId;
    if (!userId) throw new ValidationError([{ path: 'userId', message: 'is required when the caller is not a user' }]);
    if (userId !== actor.userId && !actor.canManage) throw new ForbiddenError('only operators may create sessions for other users');
    const maxRuntimeMinutes = input.maxRuntimeMinutes ?? this.settings.defaultMaxRuntimeMinutes;
    const session = await this.prisma.$transaction(async (tx) => {
      // The user's row lock serialises quota checks, so two requests cannot both fit the last hour.
      const [usage] = await tx.$queryRaw<QuotaUsage[]>`
        WITH locked AS (
          SELECT user_id, quota_cpu_hours, quota_memory_gb_hours, quota_storage_gb FROM users
          WHERE user_id = ${userId}::uuid AND tenant_id = ${actor.tenantId}::uuid FOR UPDATE
        )
        SELECT l.quota_cpu_hours::text, l.quota_memory_gb_hours::text, l.quota_storage_gb::text,
               coalesce(sum(s.cpu_request * coalesce(s.max_runtime_minutes, ${this.settings.defaultMaxRuntimeMinutes}::int) / 60.0), 0)::text AS cpu_hours,
               coalesce(sum(s.memory_request_gb * coalesce(s.max_runtime_minutes, ${this.settings.defaultMaxRuntimeMinutes}::int) / 60.0), 0)::text AS memory_gb_hours,
               coalesce(sum(s.storage_request_gb), 0)::text AS storage_gb
        FROM locked l
        LEFT JOIN sessions s ON s.user_id = l.user_id AND s.tenant_id = ${actor.tenantId}::uuid AND s.status = ANY(${[...LIVE_STATUSES]}::text[])
        GROUP BY l.quota_cpu_hours, l.quota_memory_gb_hours, l.quota_storage_gb`;
      if (!usage) throw new NotFoundError('User', userId);
      const hours = new Prisma.Decimal(maxRuntimeMinutes).div(60);
      const checks: [string, string, string, Prisma.Decimal][] = [
        ['cpu_hours', usage.quota_cpu_hours, usage.cpu_hours, new Prisma.Decimal(input.cpuRequest).mul(hours)],
        ['memory_gb_hours', usage.quota_memory_gb_hours, usage.memory_gb_hours, new Prisma.Decimal(input.memoryRequestGb).mul(hours)],
        ['storage_gb', usage.quota_storage_gb, usage.storage_gb, new Prisma.Decimal(input.storageRequestGb)],
      ];
      for (const [quota, limit, used, requested] of checks) {
        if (requested.plus(used).greaterThan(limit)) {
          throw new QuotaExceededError(quota, Number(limit), round(Number(used)), round(requested.toNumber()));
        }
      }
      const { userId: _for, placementPreferences, environmentVariables, secretEnvironmentVariables, resourceConstraints, ...columns } = input;
      const sealed = Object.fromEntries(Object.entries(secretEnvironmentVariables).map(([name, value]) => [name, this.secrets.seal(value)]));
      const created = await tx.session.create({
        data: {
          ...columns,
          maxRuntimeMinutes,
          tenantId: actor.tenantId,
          userId,
          environmentVariables: { ...environmentVariables, ...sealed },
          resourceConstraints: resourceConstraints as Prisma.InputJsonObject,
          placementPreferences: placementPreferences as Prisma.InputJsonObject,
        },
      });
      await recordSystemEvent(tx, {
        tenantId: actor.tenantId,
        eventType: 'session.created',
        severity: 'info',
        sourceComponent: 'sessions',
        sessionId: created.id,
        userId,
        message: `session ${created.sessionName} created, pending`,
        details: { sessionId: created.id, status: 'pending' },
      });
      return created;
    });
    await this.events.publish(Topic.SessionStateChanged, {
      tenantId: actor.tenantId,
      sessionId: session.id,
      userId,
      previousStatus: null,
      status: 'pending',
      nodeId: null,
      allocations: [],
      reason: null,
      at: session.createdAt.toISOString(),
    });
    return session;
  }

  /**
   * Moves a session along the state machine. Becoming scheduled is the scheduler's job; reaching a
   * terminal state releases its allocations and returns the capacity to the node, in one transaction.
   */
  async transition(actor: SessionActor, sessionId: string, rawInput: unknown) {
    const { status, reason } = parseTransition(rawInput);
    if (status === 'scheduled') return this.scheduler.scheduleSession(actor, sessionId);
    const { session, previousStatus, released } = await this.prisma.$transaction(async (tx) => {
      const [locked] = await tx.$queryRaw<{ status: SessionStatus; user_id: string; start_time: Date | null }[]>`
        SELECT status, user_id::text, start_time FROM sessions WHERE session_id = ${sessionId}::uuid AND tenant_id = ${actor.tenantId}::uuid FOR UPDATE`;
      if (!locked) throw new NotFoundError('Session', sessionId);
      assertMaySteer(actor, { id: sessionId, userId: locked.user_id });
      if (!canTransition(locked.status, status)) throw new IllegalTransitionError('Session', sessionId, locked.status, status);
      const now = new Date();
      let released: { resourceType: string; allocatedAmount: Prisma.Decimal; unit: string; nodeId: string }[] = [];
      if (isTerminal(status)) released = await releaseAllocations(tx, actor.tenantId, sessionId, now);
      const updated = await tx.session.update({
        where: { id: sessionId },
        data: {
          status,
          ...(status === 'running' && !locked.start_time ? { startTime: now } : {}),
          ...(isTerminal(status) ? { endTime: now } : {}),
        },
        include: { allocations: { where: { status: 'active' } } },
      });
      await recordSystemEvent(tx, {
        tenantId: actor.tenantId,
        eventType: 'session.state_changed',
        severity: status === 'failed' ? 'warning' : 'info',
        sourceComponent: 'sessions',
        sessionId,
        sourceNodeId: updated.scheduledNodeId,
        userId: updated.userId,
        message: `session ${updated.sessionName} ${locked.status} -> ${status}${reason ? `: ${reason}` : ''}`,
        details: {
          sessionId,
          previousStatus: locked.status,
          status,
          reason: reason ?? null,
          released: released.map((r) => ({ resourceType: r.resourceType, amount: r.allocatedAmount.toNumber(), nodeId: r.nodeId })),
        },
      });
      return { session: updated, previousStatus: locked.status, released };
    });
    await this.events.publish(Topic.SessionStateChanged, {
      tenantId: actor.tenantId,
      sessionId,
      userId: session.userId,
      previousStatus,
      status,
      nodeId: session.scheduledNodeId,
      allocations: allocationSummary(released.length > 0 ? released : session.allocations),
      reason: reason ?? null,
      at: session.updatedAt.toISOString(),
    });
    return session;
  }

  /**
   * A session's environment with its secret values opened, for the agent that runs it: only the API
   * key bound to the session's node (the key that registered it) opens it, only while the session is
   * scheduled or running there. The event it records names the variables, never their values.
   */
  async openEnvironmentForAgent(caller: { tenantId: string; apiKeyId: string | null }, sessionId: string): Promise<{ sessionId: string; variables: Record<string, string> }> {
    const session = await this.prisma.session.findFirst({
      where: { id: sessionId, tenantId: caller.tenantId },
      select: { status: true, userId: true, environmentVariables: true, scheduledNodeId: true, scheduledNode: { select: { agentApiKeyId: true } } },
    });
    if (!session) throw new NotFoundError('Session', sessionId);
    if (!caller.apiKeyId) throw new ForbiddenError("only the API key of the node's agent opens a session's environment");
    if (!session.scheduledNode || session.scheduledNode.agentApiKeyId !== caller.apiKeyId) {
      throw new ForbiddenError(`session ${sessionId} is not placed on a node this API key registered`);
    }
    if (session.status !== 'scheduled' && session.status !== 'running') throw new ForbiddenError(`session ${sessionId} is ${session.status}: only a scheduled or running session's environment opens`);
    const stored = session.environmentVariables as Record<string, unknown>;
    const variables = Object.fromEntries(Object.entries(stored).map(([name, value]) => [name, this.secrets.open(String(value))]));
    await recordSystemEvent(this.prisma, {
      tenantId: caller.tenantId,
      eventType: 'session.environment_opened',
      severity: 'info',
      sourceComponent: 'sessions',
      sessionId,
      sourceNodeId: session.scheduledNodeId,
      userId: session.userId,
      message: `the agent of node ${session.scheduledNodeId} opened the environment of session ${sessionId}`,
      details: { sessionId, nodeId: session.scheduledNodeId, apiKeyId: caller.apiKeyId, secretNames: Object.keys(stored).filter((name) => SecretBox.isSealed(String(stored[name]))) },
    });
    return { sessionId, variables };
  }
}

const round = (value: number) => Math.round(value * 10_000) / 10_000;
