import { builder } from '../../builder.js';
import { principalOf, tenantOf } from '../../context.js';
import { Topic } from '../../infra/topics.js';
import { NotFoundError } from '../shared/errors.js';
import { subscriptionErrors, withGraphQLErrors } from '../shared/graphql-errors.js';
import { ConversationRef, MessageRef } from './conversation.schema.js';

builder.subscriptionFields((t) => ({
  conversationMessageAdded: t.field({
    type: MessageRef,
    description: 'Each message appended to the conversation, in order',
    authScopes: { permission: 'chat:read' },
    args: { conversationId: t.arg.globalID({ required: true, for: ConversationRef }) },
    subscribe: (_root, args, ctx) =>
      subscriptionErrors(async () => {
        const principal = principalOf(ctx);
        const conversationId = args.conversationId.id;
        await ctx.services.conversations.assertConversation(principal.tenantId, conversationId);
        return ctx.services.realtime.feeds.ordered(principal, 'chat:read', [Topic.ConversationMessageAdded], (event) =>
          event.conversationId === conversationId ? [event.messageId] : [],
        );
      }),
    resolve: (messageId, _args, ctx) =>
      withGraphQLErrors(async () => {
        const message = await ctx.prisma.message.findFirst({ where: { id: messageId, tenantId: tenantOf(ctx) } });
        if (!message) throw new NotFoundError('Message', messageId);
        return message;
      }),
  }),
}));
