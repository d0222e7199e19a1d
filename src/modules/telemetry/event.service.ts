import type { Prisma, PrismaClient, SystemEvent } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/logger.js';
import type { PubSub } from '../../infra/pubsub.js';
import { Topic } from '../../infra/topics.js';
import { ConflictError, NotFoundError, ValidationError, type FieldIssue } from '../shared/errors.js';
import { parseEventKey, parseRecordEvent } from './event.validation.js';

export class SystemEventService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly pubsub: PubSub,
    private readonly log: Logger,
  ) {}

  /** Records an event of the tenant; any module (heartbeats, scheduler, agents) reports through here. */
  async recordEvent(tenantId: string, userId: string | null, rawInput: unknown): Promise<SystemEvent> {
    const input = parseRecordEvent(rawInput);
    const issues: FieldIssue[] = [];
    if (input.sourceNodeId && !(await this.prisma.node.findFirst({ where: { id: input.sourceNodeId, tenantId }, select: { id: true } }))) {
      issues.push({ path: 'sourceNodeId', message: 'no such node in this tenant' });
    }
    if (input.sessionId && !(await this.prisma.session.findFirst({ where: { id: input.sessionId, tenantId }, select: { id: true } }))) {
      issues.push({ path: 'sessionId', message: 'no such session in this tenant' });
    }
    if (issues.length > 0) throw new ValidationError(issues);
    const event = await this.prisma.systemEvent.create({
      data: { ...input, details: input.details as Prisma.InputJsonObject, tenantId, userId },
    });
    await this.pubsub
      .publish(Topic.SystemEventRecorded, {
        tenantId,
        eventId: event.id,
        eventType: event.eventType,
        severity: event.severity,
        nodeId: event.sourceNodeId,
        sessionId: event.sessionId,
        at: event.timestamp.toISOString(),
      })
      .catch((error: unknown) => this.log.warn('system event not published', { eventId: event.id, reason: String(error) }));
    return event;
  }

  /**
   * Marks an event resolved by this user now; resolving twice is a conflict, not a silent overwrite.
   * `rawKey` is the key inside the event's global ID.
   */
  async resolveEvent(tenantId: string, userId: string | null, rawKey: string): Promise<SystemEvent> {
    const key = parseEventKey(rawKey);
    // The key's timestamp has millisecond precision; a row written with now() may carry microseconds.
    const timestamp = { gte: key.timestamp, lt: new Date(key.timestamp.getTime() + 1) };
    const where = { id: key.id, timestamp, tenantId };
    const { count } = await this.prisma.systemEvent.updateMany({
      where: { ...where, resolvedAt: null },
      data: { resolvedAt: new Date(), resolvedById: userId },
    });
    const event = await this.prisma.systemEvent.findFirst({ where });
    if (!event) throw new NotFoundError('SystemEvent', key.id);
    if (count === 0) throw new ConflictError(`event ${key.id} was already resolved at ${event.resolvedAt?.toISOString()}`, 'id');
    return event;
  }
}
