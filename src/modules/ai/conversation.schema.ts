import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { compact, enumValues } from '../shared/graphql.js';
import { ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import { CHAT_SESSION_STATUSES, MESSAGE_ROLES } from './conversation.validation.js';
import { ModelRef } from './model.schema.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';
import { anyOf, atLeast, below, custom, defineList, idIn, idIs, jsonContains, textSearch } from '../shared/list-query.js';
import { UserRef } from '../identity/identity-types.schema.js';

export const ChatSessionStatusEnum = builder.enumType('ChatSessionStatus', { values: enumValues(CHAT_SESSION_STATUSES) });
export const MessageRoleEnum = builder.enumType('MessageRole', { values: enumValues(MESSAGE_ROLES) });
export const TimeOrderEnum = builder.enumType('TimeOrder', {
  values: { OLDEST_FIRST: { value: 'asc' }, NEWEST_FIRST: { value: 'desc' } } as const,
});

export const ChatSessionRef = builder.prismaNode('ChatSession', {
  description: "A user's chat session; it holds conversations",
  id: { field: 'id' },
  fields: (t) => ({
    title: t.exposeString('title', { nullable: true }),
    status: t.field({ type: ChatSessionStatusEnum, resolve: (session) => session.status as never }),
    userId: t.field({
      type: 'ID',
      nullable: true,
      description: 'The user who opened it',
      resolve: (session) => (session.userId ? encodeGlobalID('User', session.userId) : null),
    }),
    metadata: t.expose('metadata', { type: 'JSON' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastActive: t.expose('lastActive', { type: 'DateTime' }),
    conversations: t.relatedConnection('conversations', {
      cursor: 'id',
      description: 'Most recently active first',
      query: () => ({ orderBy: [{ updatedAt: 'desc' }, { seq: 'desc' }, { id: 'desc' }] }),
    }),
  }),
});

export const ConversationRef = builder.prismaNode('Conversation', {
  id: { field: 'id' },
  fields: (t) => ({
    title: t.exposeString('title', { nullable: true }),
    summary: t.exposeString('summary', { nullable: true, description: 'A summary of the conversation so far, e.g. written by a model' }),
    metadata: t.expose('metadata', { type: 'JSON' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    chatSession: t.relation('chatSession'),
    messages: t.relatedConnection('messages', {
      cursor: 'id',
      args: { order: t.arg({ type: TimeOrderEnum, required: false, description: 'Defaults to OLDEST_FIRST' }) },
      query: (args) => {
        const direction = args.order ?? 'asc';
        return { orderBy: [{ createdAt: direction }, { seq: direction }, { id: direction }] };
      },
    }),
  }),
});

export const MessageRef = builder.prismaNode('Message', {
  id: { field: 'id' },
  fields: (t) => ({
    role: t.field({ type: MessageRoleEnum, resolve: (message) => message.role as never }),
    content: t.exposeString('content'),
    model: t.relation('model', { nullable: true, description: 'The catalog model that produced it' }),
    requestId: t.exposeString('requestId', { nullable: true, description: 'The LLM request that produced it' }),
    tokens: t.exposeInt('tokens', { nullable: true }),
    metadata: t.expose('metadata', { type: 'JSON' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    conversation: t.relation('conversation'),
  }),
});

const chatSessionList = defineList({
  name: 'ChatSession',
  filter: {
    status: custom(
      (t) => t.field({ type: ChatSessionStatusEnum, required: false }),
      (value) => ({ status: value }),
    ),
    statusIn: anyOf(ChatSessionStatusEnum, 'status'),
    userId: idIs(UserRef, 'userId', 'Chat sessions the user opened'),
    userIdIn: idIn(UserRef, 'userId'),
    title: textSearch(['title']),
    metadata: jsonContains('metadata'),
    createdAfter: atLeast('createdAt', 'DateTime', 'Inclusive'),
    createdBefore: below('createdAt', 'DateTime', 'Exclusive'),
    activeAfter: atLeast('lastActive', 'DateTime', 'Last active at or after this'),
    activeBefore: below('lastActive', 'DateTime', 'Last active before this'),
  },
  orderBy: { LAST_ACTIVE: 'lastActive', CREATED_AT: 'createdAt', STATUS: 'status', TITLE: { column: 'title', nulls: 'last' } },
  defaultOrder: ['LAST_ACTIVE', 'desc'],
  tieBreakers: ['seq', 'id'],
});

const CreateChatSessionInput = builder.inputType('CreateChatSessionInput', {
  fields: (t) => ({ title: t.string({ required: false }), metadata: t.field({ type: 'JSON', required: false }) }),
});

const CreateConversationInput = builder.inputType('CreateConversationInput', {
  fields: (t) => ({
    chatSessionId: t.globalID({ required: true, for: ChatSessionRef }),
    title: t.string({ required: false }),
    metadata: t.field({ type: 'JSON', required: false }),
  }),
});

const UpdateConversationInput = builder.inputType('UpdateConversationInput', {
  description: 'Only the fields given change; null clears the title or the summary',
  fields: (t) => ({
    title: t.string({ required: false }),
    summary: t.string({ required: false }),
    metadata: t.field({ type: 'JSON', required: false }),
  }),
});

const AddMessageInput = builder.inputType('AddMessageInput', {
  fields: (t) => ({
    conversationId: t.globalID({ required: true, for: ConversationRef }),
    role: t.field({ type: MessageRoleEnum, required: true }),
    content: t.string({ required: true }),
    modelId: t.globalID({ required: false, for: ModelRef, description: 'The catalog model that produced an assistant message' }),
    requestId: t.string({ required: false, description: 'The LLM request that produced it, to link its metrics' }),
    tokens: t.int({ required: false }),
    metadata: t.field({ type: 'JSON', required: false }),
  }),
});

builder.queryFields((t) => ({
  chatSessions: t.prismaConnection({
    type: 'ChatSession',
    cursor: 'id',
    description: "The tenant's chat sessions, most recently active first unless ordered otherwise",
    authScopes: { permission: 'chat:read' },
    args: { filter: t.arg({ type: chatSessionList.Filter, required: false }), orderBy: t.arg({ type: [chatSessionList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.chatSession.count({ where: chatSessionList.where({ tenantId: tenantOf(ctx) }, args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.chatSession.findMany(chatSessionList.page(query, { tenantId: tenantOf(ctx) }, args))),
  }),
  chatSession: t.prismaField({
    type: 'ChatSession',
    nullable: true,
    authScopes: { permission: 'chat:read' },
    args: { id: t.arg.globalID({ required: true, for: ChatSessionRef }) },
    resolve: (query, _root, args, ctx) => ctx.prisma.chatSession.findFirst({ ...query, where: { id: args.id.id, tenantId: tenantOf(ctx) } }),
  }),
  conversation: t.prismaField({
    type: 'Conversation',
    nullable: true,
    authScopes: { permission: 'chat:read' },
    args: { id: t.arg.globalID({ required: true, for: ConversationRef }) },
    resolve: (query, _root, args, ctx) => ctx.prisma.conversation.findFirst({ ...query, where: { id: args.id.id, tenantId: tenantOf(ctx) } }),
  }),
}));

builder.mutationFields((t) => ({
  createChatSession: t.field({
    type: ChatSessionRef,
    authScopes: { permission: 'chat:write' },
    errors: mutationErrors('CreateChatSession', 'chatSession', [ValidationError]),
    args: { input: t.arg({ type: CreateChatSessionInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.conversations.createChatSession(tenantOf(ctx), ctx.principal?.userId ?? null, compact(args.input)),
  }),
  closeChatSession: t.field({
    type: ChatSessionRef,
    authScopes: { permission: 'chat:write' },
    errors: mutationErrors('CloseChatSession', 'chatSession', [NotFoundError, ConflictError]),
    args: { id: t.arg.globalID({ required: true, for: ChatSessionRef }) },
    resolve: (_root, args, ctx) => ctx.services.conversations.closeChatSession(tenantOf(ctx), args.id.id),
  }),
  createConversation: t.field({
    type: ConversationRef,
    authScopes: { permission: 'chat:write' },
    errors: mutationErrors('CreateConversation', 'conversation', [ValidationError, NotFoundError, ConflictError]),
    args: { input: t.arg({ type: CreateConversationInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.conversations.createConversation(tenantOf(ctx), { ...compact(args.input), chatSessionId: args.input.chatSessionId.id }),
  }),
  updateConversation: t.field({
    type: ConversationRef,
    authScopes: { permission: 'chat:write' },
    errors: mutationErrors('UpdateConversation', 'conversation', [ValidationError, NotFoundError]),
    args: { id: t.arg.globalID({ required: true, for: ConversationRef }), input: t.arg({ type: UpdateConversationInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.conversations.updateConversation(tenantOf(ctx), args.id.id, args.input),
  }),
  addMessage: t.field({
    type: MessageRef,
    description: 'Appends a message to a conversation of an active chat session',
    authScopes: { permission: 'chat:write' },
    errors: mutationErrors('AddMessage', 'chatMessage', [ValidationError, NotFoundError, ConflictError]),
    args: { input: t.arg({ type: AddMessageInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.conversations.addMessage(tenantOf(ctx), {
        ...compact(args.input),
        conversationId: args.input.conversationId.id,
        modelId: args.input.modelId?.id,
      }),
  }),
}));
