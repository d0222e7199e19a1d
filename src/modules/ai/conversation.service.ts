import type { ChatSession, Conversation, Message, Prisma, PrismaClient } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/logger.js';
import type { PubSub } from '../../infra/pubsub.js';
import { Topic } from '../../infra/topics.js';
import { EventPublisher } from '../shared/domain-events.js';
import { ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import { parseAddMessage, parseCreateChatSession, parseCreateConversation, parseUpdateConversation } from './conversation.validation.js';

const json = (value: Record<string, unknown>) => value as Prisma.InputJsonObject;

/** Chat sessions hold conversations, conversations hold messages; all of one tenant. */
export class ConversationService {
  private readonly events: EventPublisher;

  constructor(
    private readonly prisma: PrismaClient,
    pubsub: PubSub,
    log: Logger,
  ) {
    this.events = new EventPublisher(pubsub, log);
  }

  async createChatSession(tenantId: string, userId: string | null, rawInput: unknown): Promise<ChatSession> {
    const input = parseCreateChatSession(rawInput);
    return this.prisma.chatSession.create({ data: { tenantId, userId, title: input.title, metadata: json(input.metadata) } });
  }

  /** Closes a chat session; its conversations stay readable but take no new messages. */
  async closeChatSession(tenantId: string, id: string): Promise<ChatSession> {
    const { count } = await this.prisma.chatSession.updateMany({ where: { id, tenantId, status: 'active' }, data: { status: 'closed' } });
    const session = await this.prisma.chatSession.findFirst({ where: { id, tenantId } });
    if (!session) throw new NotFoundError('ChatSession', id);
    if (count === 0) throw new ConflictError(`chat session ${id} is already closed`, 'id');
    return session;
  }

  async createConversation(tenantId: string, rawInput: unknown): Promise<Conversation> {
    const input = parseCreateConversation(rawInput);
    return this.prisma.$transaction(async (tx) => {
      const session = await tx.chatSession.findFirst({ where: { id: input.chatSessionId, tenantId }, select: { status: true } });
      if (!session) throw new NotFoundError('ChatSession', input.chatSessionId);
      if (session.status !== 'active') throw new ConflictError(`chat session ${input.chatSessionId} is closed`, 'chatSessionId');
      await tx.chatSession.update({ where: { id: input.chatSessionId }, data: { lastActive: new Date() } });
      return tx.conversation.create({
        data: { tenantId, chatSessionId: input.chatSessionId, title: input.title, metadata: json(input.metadata) },
      });
    });
  }

  /** Sets the title, the summary (e.g. one a model wrote) or the metadata of a conversation. */
  async updateConversation(tenantId: string, id: string, rawInput: unknown): Promise<Conversation> {
    const input = parseUpdateConversation(rawInput);
    const { count } = await this.prisma.conversation.updateMany({
      where: { id, tenantId },
      data: { title: input.title, summary: input.summary, metadata: input.metadata ? json(input.metadata) : undefined },
    });
    if (count === 0) throw new NotFoundError('Conversation', id);
    return this.prisma.conversation.findUniqueOrThrow({ where: { id } });
  }

  /** Appends a message, marks its conversation and chat session active now, and announces it. */
  async addMessage(tenantId: string, rawInput: unknown): Promise<Message> {
    const input = parseAddMessage(rawInput);
    const added = await this.prisma.$transaction(async (tx) => {
      const conversation = await tx.conversation.findFirst({
        where: { id: input.conversationId, tenantId },
        select: { chatSessionId: true, chatSession: { select: { status: true } } },
      });
      if (!conversation) throw new NotFoundError('Conversation', input.conversationId);
      if (conversation.chatSession.status !== 'active') {
        throw new ConflictError(`the chat session of conversation ${input.conversationId} is closed`, 'conversationId');
      }
      if (input.modelId !== undefined && (await tx.model.count({ where: { id: input.modelId } })) === 0) {
        throw new ValidationError([{ path: 'modelId', message: 'no such model in the catalog' }]);
      }
      const message = await tx.message.create({
        data: {
          tenantId,
          conversationId: input.conversationId,
          role: input.role,
          content: input.content,
          modelId: input.modelId,
          requestId: input.requestId,
          tokens: input.tokens,
          metadata: json(input.metadata),
        },
      });
      await tx.conversation.update({ where: { id: input.conversationId }, data: { updatedAt: message.createdAt } });
      await tx.chatSession.update({ where: { id: conversation.chatSessionId }, data: { lastActive: message.createdAt } });
      return message;
    });
    await this.events.publish(Topic.ConversationMessageAdded, {
      tenantId,
      conversationId: added.conversationId,
      messageId: added.id,
      role: added.role,
      at: added.createdAt.toISOString(),
    });
    return added;
  }

  /** Refuses, as not found, a conversation the tenant does not have. */
  async assertConversation(tenantId: string, id: string): Promise<void> {
    if (!(await this.prisma.conversation.findFirst({ where: { id, tenantId }, select: { id: true } }))) throw new NotFoundError('Conversation', id);
  }
}
