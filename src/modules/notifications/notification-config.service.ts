import type { NotificationConfig, PrismaClient } from '../../generated/prisma/client.js';
import type { SecretBox } from '../../infra/secret-box.js';
import { ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import { isUniqueViolation } from '../shared/prisma-errors.js';
import {
  parseCreateConfig,
  parseUpdateConfig,
  SIGNED_CHANNELS,
  type ChannelType,
} from './notification.validation.js';
import { resolveTarget, TargetRefusedError, type HostLookup } from './webhook-target.js';

export interface TargetPolicy {
  allowPrivateTargets: boolean;
  lookup?: HostLookup;
}

/** Per-tenant notification channels: where events go, which events, and how they are signed. */
export class NotificationConfigService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly policy: TargetPolicy,
    /** Signing secrets are kept sealed: the worker needs them back to sign, so they are encrypted, not hashed. */
    private readonly secrets: SecretBox,
  ) {}

  /** Refuses a URL that is not http(s) or that reaches a non-public address (unless allowed by configuration). */
  private async checkTarget(targetUrl: string): Promise<void> {
    try {
      await resolveTarget(targetUrl, this.policy);
    } catch (error) {
      if (error instanceof TargetRefusedError) throw new ValidationError([{ path: 'targetUrl', message: error.message }]);
      throw error;
    }
  }

  async create(tenantId: string, rawInput: unknown): Promise<NotificationConfig> {
    const input = parseCreateConfig(rawInput);
    await this.checkTarget(input.targetUrl);
    try {
      return await this.prisma.notificationConfig.create({
        data: {
          tenantId,
          name: input.name,
          channelType: input.channelType,
          targetUrl: input.targetUrl,
          secret: input.secret ? this.secrets.seal(input.secret) : null,
          eventTypes: input.eventTypes,
          enabled: input.enabled,
          maxAttempts: input.maxAttempts,
        },
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`a notification channel named "${input.name}" already exists`, 'name');
      throw error;
    }
  }

  async update(tenantId: string, id: string, rawInput: unknown): Promise<NotificationConfig> {
    const input = parseUpdateConfig(rawInput);
    const existing = await this.prisma.notificationConfig.findFirst({ where: { id, tenantId }, select: { channelType: true } });
    if (!existing) throw new NotFoundError('NotificationConfig', id);
    if (input.secret === null && SIGNED_CHANNELS.includes(existing.channelType as ChannelType)) {
      throw new ValidationError([{ path: 'secret', message: `is required for ${existing.channelType} channels, which sign each delivery with it` }]);
    }
    if (input.targetUrl !== undefined) await this.checkTarget(input.targetUrl);
    try {
      const data = { ...input, ...(input.secret ? { secret: this.secrets.seal(input.secret) } : {}) };
      const { count } = await this.prisma.notificationConfig.updateMany({ where: { id, tenantId }, data });
      if (count === 0) throw new NotFoundError('NotificationConfig', id);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`a notification channel named "${input.name}" already exists`, 'name');
      throw error;
    }
    return this.prisma.notificationConfig.findFirstOrThrow({ where: { id, tenantId } });
  }

  /** Deletes the channel and, with it, its deliveries. */
  async delete(tenantId: string, id: string): Promise<string> {
    const { count } = await this.prisma.notificationConfig.deleteMany({ where: { id, tenantId } });
    if (count === 0) throw new NotFoundError('NotificationConfig', id);
    return id;
  }

  /** Refuses, as not found, a channel the tenant does not have. */
  async assertExists(tenantId: string, id: string): Promise<void> {
    if (!(await this.prisma.notificationConfig.findFirst({ where: { id, tenantId }, select: { id: true } }))) throw new NotFoundError('NotificationConfig', id);
  }
}
