import { createHash, randomUUID } from 'node:crypto';
import type { NotificationDelivery, Prisma, PrismaClient } from '../../generated/prisma/client.js';
import { runInTenant } from '../../infra/tenant-scope.js';
import { ConflictError, NotFoundError } from '../shared/errors.js';
import type { NotificationEnvelope } from './notification.payloads.js';
import { parseEnqueueEvent, TEST_EVENT_TYPE, type EnqueueEventInput } from './notification.validation.js';

/**
 * A stable event id from what identifies an event (e.g. topic, node id, time): every API instance
 * that receives the same pub/sub message derives the same id, so the event fans out once.
 */
export function eventIdFor(...parts: string[]): string {
  const hex = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  // Shaped as a version-5-style UUID so it fits the uuid column and reads as one.
  const variant = ((Number.parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}

/** Events to webhook deliveries: fan-out to the tenant's matching channels, retry of dead ones, listing. */
export class NotificationService {
  private readonly queuedListeners: (() => void)[] = [];

  constructor(private readonly prisma: PrismaClient) {}

  /** Called after deliveries are queued, so this instance's worker can send them without waiting for its next poll. */
  onQueued(listener: () => void): void {
    this.queuedListeners.push(listener);
  }

  private announceQueued(): void {
    for (const listener of this.queuedListeners) listener();
  }

  /**
   * Queues one delivery per enabled channel of the tenant that wants this event type. Idempotent per
   * channel and event: enqueueing the same eventId again adds nothing. Returns how many were queued.
   * Runs in the tenant's scope itself, so pub/sub handlers outside a request can call it.
   */
  async enqueueEvent(tenantId: string, event: Omit<EnqueueEventInput, 'tenantId'>): Promise<number> {
    const input = parseEnqueueEvent({ ...event, tenantId });
    return runInTenant(input.tenantId, async () => {
      const configs = await this.prisma.notificationConfig.findMany({
        where: { tenantId: input.tenantId, enabled: true, eventTypes: { has: input.eventType } },
        select: { id: true, maxAttempts: true },
      });
      if (configs.length === 0) return 0;
      const envelope: NotificationEnvelope = {
        id: input.eventId,
        type: input.eventType,
        tenantId: input.tenantId,
        occurredAt: (input.occurredAt ?? new Date()).toISOString(),
        data: input.payload,
      };
      const { count } = await this.prisma.notificationDelivery.createMany({
        data: configs.map((config) => ({
          tenantId: input.tenantId,
          configId: config.id,
          eventId: input.eventId,
          eventType: input.eventType,
          payload: envelope as unknown as Prisma.InputJsonObject,
          maxAttempts: config.maxAttempts,
        })),
        skipDuplicates: true,
      });
      if (count > 0) this.announceQueued();
      return count;
    });
  }

  /** Queues a test event for one channel, whatever event types it wants, to check its target and secret. */
  async sendTest(tenantId: string, configId: string): Promise<NotificationDelivery> {
    const config = await this.prisma.notificationConfig.findFirst({ where: { id: configId, tenantId } });
    if (!config) throw new NotFoundError('NotificationConfig', configId);
    if (!config.enabled) throw new ConflictError('the channel is disabled; enable it to send to it', 'enabled');
    const eventId = randomUUID();
    const envelope: NotificationEnvelope = {
      id: eventId,
      type: TEST_EVENT_TYPE,
      tenantId,
      occurredAt: new Date().toISOString(),
      data: { channelName: config.name, channelType: config.channelType },
    };
    const delivery = await this.prisma.notificationDelivery.create({
      data: {
        tenantId,
        configId,
        eventId,
        eventType: TEST_EVENT_TYPE,
        payload: envelope as unknown as Prisma.InputJsonObject,
        maxAttempts: config.maxAttempts,
      },
    });
    this.announceQueued();
    return delivery;
  }

  /**
   * Gives a dead delivery another round of attempts (the channel's maximum), due now. The status
   * condition makes two concurrent retries start one round, and never resends a delivered one.
   */
  async retryDead(tenantId: string, id: string): Promise<NotificationDelivery> {
    const delivery = await this.prisma.notificationDelivery.findFirst({ where: { id, tenantId }, include: { config: { select: { maxAttempts: true } } } });
    if (!delivery) throw new NotFoundError('NotificationDelivery', id);
    const { count } = await this.prisma.notificationDelivery.updateMany({
      where: { id, tenantId, status: 'dead' },
      data: {
        status: 'pending',
        nextAttemptAt: new Date(),
        maxAttempts: delivery.attemptCount + delivery.config.maxAttempts,
        lockedUntil: null,
      },
    });
    const current = await this.prisma.notificationDelivery.findFirstOrThrow({ where: { id, tenantId } });
    if (count === 0) throw new ConflictError(`the delivery is ${current.status.replace('_', ' ')}; only a dead delivery can be retried`, 'status');
    this.announceQueued();
    return current;
  }
}
