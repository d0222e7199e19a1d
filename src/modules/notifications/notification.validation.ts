import { z } from 'zod';
import { parseInput } from '../shared/validation.js';

export const CHANNEL_TYPES = ['webhook', 'slack', 'discord', 'email'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

/** What a channel may subscribe to. */
export const SUBSCRIBABLE_EVENT_TYPES = ['node.failed', 'session.failed', 'deployment.scaled', 'quota.exceeded', 'security.event'] as const;
/** Sent only by sendTestNotification, to the one channel tested. */
export const TEST_EVENT_TYPE = 'notification.test';
export const NOTIFICATION_EVENT_TYPES = [...SUBSCRIBABLE_EVENT_TYPES, TEST_EVENT_TYPE] as const;
export type NotificationEventType = (typeof NOTIFICATION_EVENT_TYPES)[number];

export const DELIVERY_STATUSES = ['pending', 'in_progress', 'delivered', 'failed', 'dead'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** Channels whose receivers can verify a signature; Slack and Discord authenticate by their URL instead. */
export const SIGNED_CHANNELS: readonly ChannelType[] = ['webhook', 'email'];

const uuid = z.guid();
const name = z.string().trim().min(1).max(255);
const targetUrl = z.string().trim().min(1).max(2048);
const secret = z.string().min(16, 'must be at least 16 characters').max(256);
const eventTypes = z
  .array(z.enum(SUBSCRIBABLE_EVENT_TYPES))
  .min(1, 'must name at least one event type')
  .max(SUBSCRIBABLE_EVENT_TYPES.length)
  .transform((types) => [...new Set(types)]);
const maxAttempts = z.number().int().min(1).max(20);

const createConfigInput = z
  .object({
    name,
    channelType: z.enum(CHANNEL_TYPES),
    targetUrl,
    secret: secret.nullish(),
    eventTypes,
    enabled: z.boolean().default(true),
    maxAttempts: maxAttempts.default(8),
  })
  .superRefine((input, ctx) => {
    if (SIGNED_CHANNELS.includes(input.channelType) && !input.secret) {
      ctx.addIssue({ code: 'custom', path: ['secret'], message: `is required for ${input.channelType} channels, which sign each delivery with it` });
    }
  });

export type CreateConfigInput = z.output<typeof createConfigInput>;
export const parseCreateConfig = (input: unknown): CreateConfigInput => parseInput(createConfigInput, input);

/** Absent fields stay as they are; a null secret removes it. */
const updateConfigInput = z.object({
  name: name.optional(),
  targetUrl: targetUrl.optional(),
  secret: secret.nullable().optional(),
  eventTypes: eventTypes.optional(),
  enabled: z.boolean().optional(),
  maxAttempts: maxAttempts.optional(),
});

export type UpdateConfigInput = z.output<typeof updateConfigInput>;
export const parseUpdateConfig = (input: unknown): UpdateConfigInput => parseInput(updateConfigInput, input);

const enqueueEventInput = z.object({
  tenantId: uuid,
  eventId: uuid,
  eventType: z.enum(SUBSCRIBABLE_EVENT_TYPES),
  payload: z.record(z.string(), z.unknown()).default({}),
  occurredAt: z.date().optional(),
});

export type EnqueueEventInput = z.input<typeof enqueueEventInput>;
export const parseEnqueueEvent = (input: unknown): z.output<typeof enqueueEventInput> => parseInput(enqueueEventInput, input);
