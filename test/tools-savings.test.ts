import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import {
  EndToolSessionDocument,
  RecordToolOperationDocument,
  StartToolSessionDocument,
  ToolSavingsDocument,
  ToolSessionByIdDocument,
  ToolSessionsDocument,
  type RecordToolOperationInput,
} from './generated/graphql.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

/** Seed 003's example session: a full read, an overview read and a semantic search. */
const SEED_OPERATIONS = [
  { toolName: 'read', operationMode: 'full', filePath: '/path/to/small.py', tokensOriginal: 800, tokensActual: 800 },
  { toolName: 'read', operationMode: 'overview', filePath: '/path/to/file.py', tokensOriginal: 5000, tokensActual: 500, parameters: { compress: true } },
  { toolName: 'search', operationMode: 'semantic', tokensOriginal: 50000, tokensActual: 5000, parameters: { limit: 5 } },
];

describe.each(kinds)('tool analytics over HTTP on %s', (kind) => {
  let server: TestServer;
  let user: SignedInUser;

  const start = async (as: SignedInUser = user, toolId = 'claude-code') => {
    const result = await as.request(StartToolSessionDocument, { input: { toolId, toolVersion: '1.0.0' } });
    if (result.data?.startToolSession.__typename !== 'StartToolSessionSuccess') throw new Error(JSON.stringify(result));
    return result.data.startToolSession.toolSession;
  };
  const record = async (input: RecordToolOperationInput, as: SignedInUser = user) => (await as.request(RecordToolOperationDocument, { input })).data!.recordToolOperation;

  beforeAll(async () => {
    server = await startTestServer(kind);
    user = await server.signIn({ role: 'user' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("reproduces seed 003's example: 3 operations, 49,500 tokens prevented, $0.7425 saved at $15 per million", async () => {
    const session = await start();
    for (const operation of SEED_OPERATIONS) {
      const recorded = await record({ sessionId: session.id, ...operation });
      expect(recorded).toMatchObject({ __typename: 'RecordToolOperationSuccess', operation: { toolId: 'claude-code', tokensPrevented: operation.tokensOriginal - operation.tokensActual } });
    }
    const report = (await user.request(ToolSavingsDocument, {})).data!.toolSavings;
    expect(report.pricePerMillionTokens).toBe('15');
    expect(report.totals).toEqual({ key: null, operations: 3, tokensOriginal: 55800, tokensActual: 6300, tokensPrevented: 49500, costSavedUsd: '0.7425' });
    expect(report.groups).toEqual([
      { key: 'read', operations: 2, tokensOriginal: 5800, tokensActual: 1300, tokensPrevented: 4500, costSavedUsd: '0.0675' },
      { key: 'search', operations: 1, tokensOriginal: 50000, tokensActual: 5000, tokensPrevented: 45000, costSavedUsd: '0.675' },
    ]);

    const byMode = (await user.request(ToolSavingsDocument, { groupBy: 'OPERATION_MODE', pricePerMillionTokens: '3' })).data!.toolSavings;
    expect(byMode.groups.map((g) => [g.key, g.tokensPrevented, g.costSavedUsd])).toEqual([
      ['full', 0, '0'],
      ['overview', 4500, '0.0135'],
      ['semantic', 45000, '0.135'],
    ]);
    expect(byMode.totals.costSavedUsd).toBe('0.1485');

    const fetched = (await user.request(ToolSessionByIdDocument, { id: session.id })).data!.toolSession;
    expect(fetched?.tokensSaved).toBe(49500);
    expect(fetched?.operations.edges.map((e) => e.node.operationMode)).toEqual(['semantic', 'overview', 'full']);
  });

  it('filters savings by time and tool, and refuses malformed prices and ranges', async () => {
    const later = await start(user, 'cursor');
    await record({ sessionId: later.id, toolName: 'read', operationMode: 'symbol', tokensOriginal: 1000, tokensActual: 100 });
    const cursorOnly = (await user.request(ToolSavingsDocument, { toolId: 'cursor', groupBy: 'TOOL_ID' })).data!.toolSavings;
    expect(cursorOnly.groups).toEqual([{ key: 'cursor', operations: 1, tokensOriginal: 1000, tokensActual: 100, tokensPrevented: 900, costSavedUsd: '0.0135' }]);
    const future = (await user.request(ToolSavingsDocument, { from: new Date(Date.now() + 60_000).toISOString() })).data!.toolSavings;
    expect(future.totals).toMatchObject({ operations: 0, tokensPrevented: 0, costSavedUsd: '0' });
    const injected = (await user.request(ToolSavingsDocument, { toolId: "claude-code' OR '1'='1" })).data!.toolSavings;
    expect(injected.groups).toEqual([]);

    const badPrice = await user.request(ToolSavingsDocument, { pricePerMillionTokens: '15; DROP TABLE tool_operations' });
    expect(badPrice.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: 'pricePerMillionTokens' }] });
    const backwards = await user.request(ToolSavingsDocument, { from: new Date().toISOString(), to: new Date(Date.now() - 1000).toISOString() });
    expect(backwards.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: 'to' }] });
  });

  it('refuses operations that save negative tokens or belong to an ended session', async () => {
    const session = await start();
    const negative = await record({ sessionId: session.id, toolName: 'read', operationMode: 'full', tokensOriginal: 10, tokensActual: 20 });
    expect(negative).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'tokensActual' }] });
    const ended = await user.request(EndToolSessionDocument, { id: session.id });
    expect(ended.data?.endToolSession).toMatchObject({ __typename: 'EndToolSessionSuccess', toolSession: { endedAt: expect.any(String) } });
    expect((await user.request(EndToolSessionDocument, { id: session.id })).data?.endToolSession.__typename).toBe('ConflictError');
    const late = await record({ sessionId: session.id, toolName: 'read', operationMode: 'full', tokensOriginal: 10, tokensActual: 5 });
    expect(late.__typename).toBe('ConflictError');
    const endedSessions = (await user.request(ToolSessionsDocument, { first: 10, filter: { active: false } })).data!.toolSessions.edges;
    expect(endedSessions.map((e) => e.node.id)).toEqual([session.id]);
    expect((await user.request(ToolSessionsDocument, { first: 10, filter: { toolId: "cursor' OR '1'='1" } })).data!.toolSessions.edges).toEqual([]);
    expect((await user.request(ToolSessionsDocument, { first: 10, filter: { toolId: 'cursor' } })).data!.toolSessions.edges).toHaveLength(1);
  });

  it('keeps other tenants out of sessions, operations and savings', async () => {
    const session = await start();
    const stranger = await server.signIn({ role: 'user' });
    expect((await stranger.request(ToolSavingsDocument, {})).data!.toolSavings.totals).toMatchObject({ operations: 0, tokensPrevented: 0 });
    expect((await stranger.request(ToolSessionsDocument, { first: 10 })).data!.toolSessions.edges).toEqual([]);
    expect((await stranger.request(ToolSessionByIdDocument, { id: session.id })).data!.toolSession).toBeNull();
    expect((await record({ sessionId: session.id, toolName: 'read', operationMode: 'full', tokensOriginal: 1, tokensActual: 1 }, stranger)).__typename).toBe('NotFoundError');
    expect((await stranger.request(EndToolSessionDocument, { id: session.id })).data?.endToolSession.__typename).toBe('NotFoundError');
  });
});

describe('the price of a prevented token', () => {
  it('reads TOOL_TOKEN_PRICE_PER_MILLION, defaults to $15 and refuses anything but a decimal', () => {
    const price = (env: Record<string, string>) => loadConfig(env).tools.tokenPricePerMillion;
    expect(price({})).toBe('15');
    expect(price({ TOOL_TOKEN_PRICE_PER_MILLION: ' 2.5 ' })).toBe('2.5');
    expect(() => price({ TOOL_TOKEN_PRICE_PER_MILLION: '15 USD' })).toThrow(/^TOOL_TOKEN_PRICE_PER_MILLION /);
  });
});
