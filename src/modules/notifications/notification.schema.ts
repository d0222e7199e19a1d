import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import {
  CHANNEL_TYPES,
  DELIVERY_STATUSES,
  NOTIFICATION_EVENT_TYPES,
  type NotificationEventType,
} from './notification.validation.js';
import { redactTargetUrl } from './webhook-target.js';
import { anyOf, atLeast, atMost, below, custom, defineList, enumGroup, equals, globalIdKey, idIn, idIs, textSearch, uuidIs } from '../shared/list-query.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';

const enumValues = <T extends string>(values: readonly T[]) =>
  Object.fromEntries(values.map((value) => [value.replace(/[.]/g, '_').toUpperCase(), { value }])) as Record<string, { value: T }>;

export const NotificationChannelTypeEnum = builder.enumType('NotificationChannelType', { values: enumValues(CHANNEL_TYPES) });
export const NotificationEventTypeEnum = builder.enumType('NotificationEventType', {
  description: 'NOTIFICATION_TEST is sent only by sendTestNotification; the others can be subscribed to',
  values: enumValues(NOTIFICATION_EVENT_TYPES),
});
export const NotificationDeliveryStatusEnum = builder.enumType('NotificationDeliveryStatus', { values: enumValues(DELIVERY_STATUSES) });
const AttemptOutcomeEnum = builder.enumType('NotificationAttemptOutcome', {
  values: enumValues(['delivered', 'failed', 'dead', 'lease_expired'] as const),
});

interface AttemptRecord {
  attempt: number;
  startedAt: string | null;
  finishedAt: string;
  outcome: 'delivered' | 'failed' | 'dead' | 'lease_expired';
  responseCode: number | null;
  error: string | null;
  retryAt: string | null;
  durationMs?: number | null;
}

const NotificationAttemptRef = builder.objectRef<AttemptRecord>('NotificationAttempt').implement({
  description: 'One attempt to send a delivery',
  fields: (t) => ({
    attempt: t.exposeInt('attempt'),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (a) => (a.startedAt ? new Date(a.startedAt) : null) }),
    finishedAt: t.field({ type: 'DateTime', resolve: (a) => new Date(a.finishedAt) }),
    outcome: t.field({ type: AttemptOutcomeEnum, resolve: (a) => a.outcome }),
    responseCode: t.exposeInt('responseCode', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    retryAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the next attempt became due',
      resolve: (a) => (a.retryAt ? new Date(a.retryAt) : null),
    }),
    durationMs: t.int({ nullable: true, resolve: (a) => a.durationMs ?? null }),
  }),
});

export const NotificationConfigRef = builder.prismaNode('NotificationConfig', {
  description: "A tenant's notification channel: where events go and which ones. Its secret is never shown",
  id: { field: 'id' },
  fields: (t) => ({
    name: t.exposeString('name'),
    channelType: t.field({ type: NotificationChannelTypeEnum, resolve: (c) => c.channelType as never }),
    targetUrl: t.string({
      description: 'The target with query values, and the token of Slack and Discord URLs, replaced by ***',
      resolve: (c) => redactTargetUrl(c.targetUrl, c.channelType),
    }),
    eventTypes: t.field({ type: [NotificationEventTypeEnum], resolve: (c) => c.eventTypes as NotificationEventType[] }),
    enabled: t.exposeBoolean('enabled'),
    maxAttempts: t.exposeInt('maxAttempts'),
    hasSecret: t.boolean({ description: 'Whether deliveries are signed', resolve: (c) => c.secret !== null }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

export const NotificationDeliveryRef = builder.prismaNode('NotificationDelivery', {
  description: 'One event on its way to one channel, with every attempt made so far',
  id: { field: 'id' },
  fields: (t) => ({
    config: t.relation('config'),
    eventId: t.exposeString('eventId'),
    eventType: t.field({ type: NotificationEventTypeEnum, resolve: (d) => d.eventType as NotificationEventType }),
    status: t.field({ type: NotificationDeliveryStatusEnum, resolve: (d) => d.status as never }),
    attemptCount: t.exposeInt('attemptCount'),
    maxAttempts: t.exposeInt('maxAttempts'),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the next attempt is due; null once delivered or dead',
      resolve: (d) => (d.status === 'pending' || d.status === 'failed' ? d.nextAttemptAt : null),
    }),
    lastAttemptAt: t.expose('lastAttemptAt', { type: 'DateTime', nullable: true }),
    responseCode: t.exposeInt('responseCode', { nullable: true }),
    lastError: t.exposeString('lastError', { nullable: true }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    payload: t.expose('payload', { type: 'JSON', description: 'The event as sent to generic webhooks' }),
    attempts: t.field({ type: [NotificationAttemptRef], resolve: (d) => d.attempts as unknown as AttemptRecord[] }),
  }),
});

const configList = defineList({
  name: 'NotificationConfig',
  filter: {
    channelType: anyOf(NotificationChannelTypeEnum),
    enabled: equals('Boolean'),
    name: textSearch(['name']),
    eventType: custom(
      (t) => t.field({ type: [NotificationEventTypeEnum], required: false, description: 'Channels subscribed to any of these event types' }),
      (value) => ({ eventTypes: { hasSome: value as string[] } }),
    ),
    createdFrom: atLeast('createdAt', 'DateTime', 'Inclusive'),
    createdTo: below('createdAt', 'DateTime', 'Exclusive'),
  },
  orderBy: { NAME: 'name', CHANNEL_TYPE: 'channelType', CREATED_AT: 'createdAt', UPDATED_AT: 'updatedAt' },
  defaultOrder: ['NAME', 'asc'],
  tieBreakers: ['id'],
});

const deliveryList = defineList({
  name: 'NotificationDelivery',
  filter: {
    status: anyOf(NotificationDeliveryStatusEnum, undefined, 'Deliveries in any of these states'),
    configId: idIs(NotificationConfigRef, 'configId'),
    configIdIn: idIn(NotificationConfigRef, 'configId'),
    eventType: anyOf(NotificationEventTypeEnum),
    eventId: uuidIs(undefined, 'The event delivered (its UUID)'),
    responseCode: anyOf('Int', 'responseCode', 'Deliveries whose last response had any of these HTTP status codes'),
    lastError: textSearch(['lastError']),
    minAttemptCount: atLeast('attemptCount', 'Int'),
    maxAttemptCount: atMost('attemptCount', 'Int'),
    createdAfter: atLeast('createdAt', 'DateTime', 'Inclusive'),
    createdBefore: below('createdAt', 'DateTime', 'Exclusive'),
    deliveredAfter: atLeast('deliveredAt', 'DateTime', 'Inclusive'),
    deliveredBefore: below('deliveredAt', 'DateTime', 'Exclusive'),
  },
  orderBy: {
    CREATED_AT: 'createdAt',
    STATUS: 'status',
    EVENT_TYPE: 'eventType',
    ATTEMPT_COUNT: 'attemptCount',
    LAST_ATTEMPT_AT: { column: 'lastAttemptAt', nulls: 'last' },
    DELIVERED_AT: { column: 'deliveredAt', nulls: 'last' },
  },
  defaultOrder: ['CREATED_AT', 'desc'],
  tieBreakers: ['seq', 'id'],
  groupBy: { STATUS: enumGroup('status'), EVENT_TYPE: enumGroup('eventType'), CONFIG: { column: 'configId', key: globalIdKey('NotificationConfig') } },
});

builder.queryFields((t) => ({
  notificationConfigs: t.prismaConnection({
    type: 'NotificationConfig',
    cursor: 'id',
    description: "The tenant's notification channels, by name unless ordered otherwise",
    authScopes: { permission: 'notifications:read' },
    args: { filter: t.arg({ type: configList.Filter, required: false }), orderBy: t.arg({ type: [configList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.notificationConfig.count({ where: configList.where({ tenantId: tenantOf(ctx) }, args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.notificationConfig.findMany(configList.page(query, { tenantId: tenantOf(ctx) }, args))),
  }),
  notificationConfig: t.prismaField({
    type: 'NotificationConfig',
    nullable: true,
    authScopes: { permission: 'notifications:read' },
    args: { id: t.arg.globalID({ required: true, for: NotificationConfigRef }) },
    resolve: (query, _root, args, ctx) => ctx.prisma.notificationConfig.findFirst({ ...query, where: { id: args.id.id, tenantId: tenantOf(ctx) } }),
  }),
  notificationDeliveries: t.prismaConnection({
    type: 'NotificationDelivery',
    cursor: 'id',
    description: "The tenant's webhook deliveries, newest first unless ordered otherwise",
    authScopes: { permission: 'notifications:read' },
    args: { filter: t.arg({ type: deliveryList.Filter, required: false }), orderBy: t.arg({ type: [deliveryList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.notificationDelivery.count({ where: deliveryList.where({ tenantId: tenantOf(ctx) }, args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.notificationDelivery.findMany(deliveryList.page(query, { tenantId: tenantOf(ctx) }, args))),
  }),
  notificationDelivery: t.prismaField({
    type: 'NotificationDelivery',
    nullable: true,
    authScopes: { permission: 'notifications:read' },
    args: { id: t.arg.globalID({ required: true, for: NotificationDeliveryRef }) },
    resolve: (query, _root, args, ctx) => ctx.prisma.notificationDelivery.findFirst({ ...query, where: { id: args.id.id, tenantId: tenantOf(ctx) } }),
  }),
}));

const CreateNotificationConfigInput = builder.inputType('CreateNotificationConfigInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    channelType: t.field({ type: NotificationChannelTypeEnum, required: true }),
    targetUrl: t.string({ required: true, description: 'http(s) URL; private and loopback addresses only where the operator allows them' }),
    secret: t.string({ required: false, description: 'Signs each delivery (HMAC-SHA256); required for WEBHOOK and EMAIL channels' }),
    eventTypes: t.field({ type: [NotificationEventTypeEnum], required: true }),
    enabled: t.boolean({ required: false }),
    maxAttempts: t.int({ required: false, description: 'Attempts before a delivery is dead (1-20, default 8)' }),
  }),
});

const UpdateNotificationConfigInput = builder.inputType('UpdateNotificationConfigInput', {
  description: 'Omitted fields stay as they are; a null secret removes it',
  fields: (t) => ({
    name: t.string({ required: false }),
    targetUrl: t.string({ required: false }),
    secret: t.string({ required: false }),
    eventTypes: t.field({ type: [NotificationEventTypeEnum], required: false }),
    enabled: t.boolean({ required: false }),
    maxAttempts: t.int({ required: false }),
  }),
});

/** GraphQL gives null for explicit nulls; only the secret gives null a meaning (remove it). */
const presentFields = (input: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(input).filter(([key, value]) => value !== undefined && (value !== null || key === 'secret')));

builder.mutationFields((t) => ({
  createNotificationConfig: t.field({
    type: NotificationConfigRef,
    description: 'Adds a notification channel',
    authScopes: { permission: 'notifications:write' },
    errors: mutationErrors('CreateNotificationConfig', 'notificationConfig', [ValidationError, ConflictError]),
    args: { input: t.arg({ type: CreateNotificationConfigInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.notificationConfigs.create(tenantOf(ctx), presentFields(args.input)),
  }),
  updateNotificationConfig: t.field({
    type: NotificationConfigRef,
    authScopes: { permission: 'notifications:write' },
    errors: mutationErrors('UpdateNotificationConfig', 'notificationConfig', [ValidationError, NotFoundError, ConflictError]),
    args: {
      id: t.arg.globalID({ required: true, for: NotificationConfigRef }),
      input: t.arg({ type: UpdateNotificationConfigInput, required: true }),
    },
    resolve: (_root, args, ctx) => ctx.services.notificationConfigs.update(tenantOf(ctx), args.id.id, presentFields(args.input)),
  }),
  deleteNotificationConfig: t.field({
    type: 'ID',
    description: 'Deletes a channel and its deliveries; returns its ID',
    authScopes: { permission: 'notifications:write' },
    errors: mutationErrors('DeleteNotificationConfig', 'deletedId', [NotFoundError]),
    args: { id: t.arg.globalID({ required: true, for: NotificationConfigRef }) },
    resolve: async (_root, args, ctx) => encodeGlobalID('NotificationConfig', await ctx.services.notificationConfigs.delete(tenantOf(ctx), args.id.id)),
  }),
  sendTestNotification: t.field({
    type: NotificationDeliveryRef,
    description: 'Queues a test event for one channel; watch its delivery to check the target and secret',
    authScopes: { permission: 'notifications:write' },
    errors: mutationErrors('SendTestNotification', 'delivery', [NotFoundError, ConflictError]),
    args: { configId: t.arg.globalID({ required: true, for: NotificationConfigRef }) },
    resolve: (_root, args, ctx) => ctx.services.notifications.sendTest(tenantOf(ctx), args.configId.id),
  }),
  retryNotificationDelivery: t.field({
    type: NotificationDeliveryRef,
    description: "Gives a dead delivery another round of attempts, due now",
    authScopes: { permission: 'notifications:write' },
    errors: mutationErrors('RetryNotificationDelivery', 'delivery', [NotFoundError, ConflictError]),
    args: { id: t.arg.globalID({ required: true, for: NotificationDeliveryRef }) },
    resolve: (_root, args, ctx) => ctx.services.notifications.retryDead(tenantOf(ctx), args.id.id),
  }),
}));

deliveryList.countsQuery('notificationDeliveryCounts', {
  description: "How many of the tenant's deliveries (matching the filter) share each value of a field",
  authScopes: { permission: 'notifications:read' },
  rows: (ctx) => [ctx.prisma.notificationDelivery, { tenantId: tenantOf(ctx) }],
});
