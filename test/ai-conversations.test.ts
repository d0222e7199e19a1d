import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddMessageDocument,
  ChatSessionsDocument,
  CloseChatSessionDocument,
  ConversationMessagesDocument,
  CreateChatSessionDocument,
  CreateConversationDocument,
  CreateModelDocument,
  RecordLlmMetricsDocument,
  UpdateConversationDocument,
  type AddMessageInput,
} from './generated/graphql.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

describe.each(kinds)('chat sessions, conversations and messages over HTTP on %s', (kind) => {
  let server: TestServer;
  let user: SignedInUser;
  let modelId: string;

  const newSession = async (title: string, as: SignedInUser = user) => {
    const result = await as.request(CreateChatSessionDocument, { input: { title } });
    if (result.data?.createChatSession.__typename !== 'CreateChatSessionSuccess') throw new Error(JSON.stringify(result));
    return result.data.createChatSession.chatSession;
  };
  const newConversation = async (chatSessionId: string, title: string) => {
    const result = await user.request(CreateConversationDocument, { input: { chatSessionId, title } });
    if (result.data?.createConversation.__typename !== 'CreateConversationSuccess') throw new Error(JSON.stringify(result));
    return result.data.createConversation.conversation;
  };
  const add = async (input: AddMessageInput, as: SignedInUser = user) => (await as.request(AddMessageDocument, { input })).data!.addMessage;

  beforeAll(async () => {
    server = await startTestServer(kind);
    user = await server.signIn({ role: 'user' });
    const operator = await server.signIn({ role: 'operator' });
    const created = await operator.request(CreateModelDocument, { input: { modelId: 'llama3-8b', name: 'Llama 3 8B', contextLength: 8192 } });
    if (created.data?.createModel.__typename !== 'CreateModelSuccess') throw new Error(JSON.stringify(created));
    modelId = created.data.createModel.model.id;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('keeps messages in order, links the model and request that produced them, and pages', async () => {
    const session = await newSession('Support');
    expect(session).toMatchObject({ title: 'Support', status: 'ACTIVE', userId: expect.any(String) });
    const conversation = await newConversation(session.id, 'GPU quota');
    await add({ conversationId: conversation.id, role: 'SYSTEM', content: 'You are helpful.' });
    await add({ conversationId: conversation.id, role: 'USER', content: 'How many GPUs do I have?' });
    const answer = await add({ conversationId: conversation.id, role: 'ASSISTANT', content: 'Eight.', modelId, requestId: 'req-42', tokens: 3 });
    expect(answer).toMatchObject({ __typename: 'AddMessageSuccess', chatMessage: { role: 'ASSISTANT', model: { modelId: 'llama3-8b' }, requestId: 'req-42', tokens: 3 } });
    await user.request(RecordLlmMetricsDocument, { input: { modelId: 'llama3-8b', requestId: 'req-42', tokensGenerated: 3, generationTimeMs: 30 } });

    const all = await user.request(ConversationMessagesDocument, { id: conversation.id, first: 10 });
    expect(all.data?.conversation?.messages.edges.map((e) => [e.node.role, e.node.content])).toEqual([
      ['SYSTEM', 'You are helpful.'],
      ['USER', 'How many GPUs do I have?'],
      ['ASSISTANT', 'Eight.'],
    ]);
    expect(all.data?.conversation?.messages.edges[2]?.node).toMatchObject({
      model: { modelId: 'llama3-8b' },
      generation: { requestId: 'req-42', tokensGenerated: 3, generationTimeMs: 30 },
    });

    const newest = await user.request(ConversationMessagesDocument, { id: conversation.id, first: 2, order: 'NEWEST_FIRST' });
    const page = newest.data!.conversation!.messages;
    expect(page.edges.map((e) => e.node.content)).toEqual(['Eight.', 'How many GPUs do I have?']);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const rest = await user.request(ConversationMessagesDocument, { id: conversation.id, first: 2, after: page.pageInfo.endCursor, order: 'NEWEST_FIRST' });
    expect(rest.data!.conversation!.messages.edges.map((e) => e.node.content)).toEqual(['You are helpful.']);
  });

  it('keeps a summary on the conversation', async () => {
    const conversation = await newConversation((await newSession('Summaries')).id, 'Long chat');
    const updated = await user.request(UpdateConversationDocument, { id: conversation.id, input: { summary: 'The user asked about quotas.' } });
    expect(updated.data?.updateConversation).toMatchObject({ __typename: 'UpdateConversationSuccess', conversation: { title: 'Long chat', summary: 'The user asked about quotas.' } });
    const cleared = await user.request(UpdateConversationDocument, { id: conversation.id, input: { summary: null } });
    expect(cleared.data?.updateConversation).toMatchObject({ conversation: { summary: null, title: 'Long chat' } });
  });

  it('refuses invalid messages and messages to a closed chat session', async () => {
    const session = await newSession('Closing');
    const conversation = await newConversation(session.id, 'Soon closed');
    const modelOnUser = await add({ conversationId: conversation.id, role: 'USER', content: 'hi', modelId });
    expect(modelOnUser).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'modelId' }] });
    const empty = await add({ conversationId: conversation.id, role: 'USER', content: '' });
    expect(empty).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'content' }] });

    const closed = await user.request(CloseChatSessionDocument, { id: session.id });
    expect(closed.data?.closeChatSession).toMatchObject({ __typename: 'CloseChatSessionSuccess', chatSession: { status: 'CLOSED' } });
    expect((await add({ conversationId: conversation.id, role: 'USER', content: 'still there?' })).__typename).toBe('ConflictError');
    expect((await user.request(CreateConversationDocument, { input: { chatSessionId: session.id } })).data?.createConversation.__typename).toBe('ConflictError');
    expect((await user.request(CloseChatSessionDocument, { id: session.id })).data?.closeChatSession.__typename).toBe('ConflictError');
  });

  it('lists chat sessions most recently active first, filtered by status', async () => {
    const owner = await server.signIn({ role: 'user' });
    const first = await newSession('first', owner);
    const second = await newSession('second', owner);
    await owner.request(CreateConversationDocument, { input: { chatSessionId: first.id, title: 'revived' } });
    const listed = await owner.request(ChatSessionsDocument, { first: 10 });
    expect(listed.data?.chatSessions.edges.map((e) => [e.node.title, e.node.conversations.edges.map((c) => c.node.title)])).toEqual([
      ['first', ['revived']],
      ['second', []],
    ]);
    await owner.request(CloseChatSessionDocument, { id: second.id });
    const closed = await owner.request(ChatSessionsDocument, { first: 10, filter: { status: 'CLOSED' } });
    expect(closed.data?.chatSessions.edges.map((e) => e.node.title)).toEqual(['second']);
  });

  it('keeps other tenants out of chat sessions, conversations and messages', async () => {
    const session = await newSession('Private');
    const conversation = await newConversation(session.id, 'secret');
    await add({ conversationId: conversation.id, role: 'USER', content: 'my secret' });
    const stranger = await server.signIn({ role: 'user' });
    expect((await stranger.request(ChatSessionsDocument, { first: 10 })).data?.chatSessions.edges).toEqual([]);
    expect((await stranger.request(ConversationMessagesDocument, { id: conversation.id, first: 10 })).data?.conversation).toBeNull();
    expect((await add({ conversationId: conversation.id, role: 'USER', content: 'intrusion' }, stranger)).__typename).toBe('NotFoundError');
    expect((await stranger.request(UpdateConversationDocument, { id: conversation.id, input: { summary: 'x' } })).data?.updateConversation.__typename).toBe('NotFoundError');
    expect((await stranger.request(CreateConversationDocument, { input: { chatSessionId: session.id } })).data?.createConversation.__typename).toBe('NotFoundError');
    expect((await stranger.request(CloseChatSessionDocument, { id: session.id })).data?.closeChatSession.__typename).toBe('NotFoundError');
  });
});
