import { z } from 'zod';
import { parseInput } from '../shared/validation.js';

export const CHAT_SESSION_STATUSES = ['active', 'closed'] as const;
export const MESSAGE_ROLES = ['user', 'assistant', 'system'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

const uuid = z.guid('must be a UUID');
const metadata = z.record(z.string(), z.unknown());
const title = z.string().trim().min(1).max(255);

const createChatSession = z.object({ title: title.optional(), metadata: metadata.default({}) });
export const parseCreateChatSession = (input: unknown): z.output<typeof createChatSession> => parseInput(createChatSession, input);

const createConversation = z.object({ chatSessionId: uuid, title: title.optional(), metadata: metadata.default({}) });
export const parseCreateConversation = (input: unknown): z.output<typeof createConversation> => parseInput(createConversation, input);

const updateConversation = z
  .object({
    title: title.nullish(),
    summary: z.string().trim().max(20_000).nullish(),
    metadata: metadata.optional(),
  })
  .refine((input) => Object.values(input).some((value) => value !== undefined), { path: ['input'], message: 'names nothing to change' });
export const parseUpdateConversation = (input: unknown): z.output<typeof updateConversation> => parseInput(updateConversation, input);

const addMessage = z
  .object({
    conversationId: uuid,
    role: z.enum(MESSAGE_ROLES),
    content: z.string().min(1).max(1_000_000),
    modelId: uuid.optional(),
    requestId: z.string().trim().min(1).max(255).optional(),
    tokens: z.number().int().min(0).max(10_000_000).optional(),
    metadata: metadata.default({}),
  })
  .refine((input) => input.role === 'assistant' || input.modelId === undefined, {
    path: ['modelId'],
    message: 'only an assistant message is produced by a model',
  });
export type AddMessageInput = z.output<typeof addMessage>;
export const parseAddMessage = (input: unknown): AddMessageInput => parseInput(addMessage, input);
