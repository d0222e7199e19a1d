import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { principalOf, tenantOf } from '../../context.js';
import { Topic, type NotificationDeliveryChangedEvent } from '../../infra/topics.js';
import { subscriptionErrors } from '../shared/graphql-errors.js';
import { NotificationConfigRef, NotificationDeliveryRef, NotificationDeliveryStatusEnum, NotificationEventTypeEnum } from './notification.schema.js';
import type { NotificationEventType } from './notification.validation.js';

const NotificationDeliveryChangeRef = builder.objectRef<NotificationDeliveryChangedEvent>('NotificationDeliveryChange').implement({
  description: 'The outcome of one attempt to send a delivery: DELIVERED, FAILED (due again at nextAttemptAt) or DEAD',
  fields: (t) => ({
    deliveryId: t.id({ description: 'The NotificationDelivery id', resolve: (event) => encodeGlobalID('NotificationDelivery', event.deliveryId) }),
    configId: t.id({ description: 'The NotificationConfig id (the channel)', resolve: (event) => encodeGlobalID('NotificationConfig', event.configId) }),
    eventId: t.exposeString('eventId'),
    eventType: t.field({ type: NotificationEventTypeEnum, resolve: (event) => event.eventType as NotificationEventType }),
    status: t.field({ type: NotificationDeliveryStatusEnum, resolve: (event) => event.status }),
    attempt: t.exposeInt('attempt', { description: 'The attempt that ended, counted from 1' }),
    responseCode: t.exposeInt('responseCode', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the next attempt is due; null once delivered or dead',
      resolve: (event) => (event.nextAttemptAt ? new Date(event.nextAttemptAt) : null),
    }),
    at: t.field({ type: 'DateTime', resolve: (event) => new Date(event.at) }),
    delivery: t.field({
      type: NotificationDeliveryRef,
      nullable: true,
      description: 'The delivery as it is now, with every attempt; null once its channel was deleted',
      resolve: (event, _args, ctx) => ctx.prisma.notificationDelivery.findFirst({ where: { id: event.deliveryId, tenantId: tenantOf(ctx) } }),
    }),
  }),
});

builder.subscriptionFields((t) => ({
  notificationDeliveryChanged: t.field({
    type: NotificationDeliveryChangeRef,
    description: "Each delivery attempt's outcome, for one channel or all the tenant's",
    authScopes: { permission: 'notifications:read' },
    args: { configId: t.arg.globalID({ required: false, for: NotificationConfigRef }) },
    subscribe: (_root, args, ctx) =>
      subscriptionErrors(async () => {
        const principal = principalOf(ctx);
        const configId = args.configId?.id ?? null;
        if (configId) await ctx.services.notificationConfigs.assertExists(principal.tenantId, configId);
        return ctx.services.realtime.feeds.ordered(principal, 'notifications:read', [Topic.NotificationDeliveryChanged], (event) =>
          !configId || event.configId === configId ? [event] : [],
        );
      }),
    resolve: (event) => event,
  }),
}));
