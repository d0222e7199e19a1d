import { Prisma, type PrismaClient, type ToolOperation, type ToolSession } from '../../generated/prisma/client.js';
import { ConflictError, NotFoundError } from '../shared/errors.js';
import {
  parseRecordToolOperation,
  parseSavingsQuery,
  parseStartToolSession,
  type SavingsGrouping,
} from './tool.validation.js';

export interface ToolSavings {
  /** The tool name, operation mode or tool id of the group; null for the totals. */
  key: string | null;
  operations: number;
  tokensOriginal: number;
  tokensActual: number;
  tokensPrevented: number;
  /** tokensPrevented at the price, exact, e.g. "0.7425". */
  costSavedUsd: string;
}

export interface ToolSavingsReport {
  from: Date | null;
  to: Date | null;
  groupBy: SavingsGrouping;
  pricePerMillionTokens: string;
  totals: ToolSavings;
  groups: ToolSavings[];
}

const GROUP_COLUMN = { tool_name: 'toolName', operation_mode: 'operationMode', tool_id: 'toolId' } as const;
const TOKENS_PER_PRICE_UNIT = 1_000_000;

const costOf = (tokensPrevented: number, price: string): string => new Prisma.Decimal(tokensPrevented).mul(price).div(TOKENS_PER_PRICE_UNIT).toFixed();

/** OmniMemory tool analytics: sessions of a tool, their operations and the tokens they kept from the API. */
export class ToolAnalyticsService {
  constructor(
    private readonly prisma: PrismaClient,
    /** TOOL_TOKEN_PRICE_PER_MILLION: what a saved token is worth when a query names no price. */
    private readonly defaultPricePerMillion: string,
  ) {}

  async startToolSession(tenantId: string, rawInput: unknown): Promise<ToolSession> {
    const input = parseStartToolSession(rawInput);
    return this.prisma.toolSession.create({ data: { tenantId, toolId: input.toolId, toolVersion: input.toolVersion } });
  }

  /** Records an operation of an open session; tokens prevented are tokens original minus tokens actual. */
  async recordToolOperation(tenantId: string, rawInput: unknown): Promise<ToolOperation> {
    const input = parseRecordToolOperation(rawInput);
    const tokensPrevented = input.tokensOriginal - input.tokensActual;
    return this.prisma.$transaction(async (tx) => {
      const { count } = await tx.toolSession.updateMany({
        where: { id: input.sessionId, tenantId, endedAt: null },
        data: { lastActivity: new Date(), tokensSaved: { increment: tokensPrevented }, ...sessionCountersOf(input) },
      });
      const session = await tx.toolSession.findFirst({ where: { id: input.sessionId, tenantId }, select: { toolId: true } });
      if (!session) throw new NotFoundError('ToolSession', input.sessionId);
      if (count === 0) throw new ConflictError(`tool session ${input.sessionId} has ended`, 'sessionId');
      return tx.toolOperation.create({
        data: {
          tenantId,
          sessionId: input.sessionId,
          toolId: session.toolId,
          toolName: input.toolName,
          operationMode: input.operationMode,
          parameters: input.parameters as Prisma.InputJsonObject,
          filePath: input.filePath,
          tokensOriginal: input.tokensOriginal,
          tokensActual: input.tokensActual,
          tokensPrevented,
          responseTimeMs: input.responseTimeMs,
        },
      });
    });
  }

  async endToolSession(tenantId: string, id: string): Promise<ToolSession> {
    const { count } = await this.prisma.toolSession.updateMany({ where: { id, tenantId, endedAt: null }, data: { endedAt: new Date() } });
    const session = await this.prisma.toolSession.findFirst({ where: { id, tenantId } });
    if (!session) throw new NotFoundError('ToolSession', id);
    if (count === 0) throw new ConflictError(`tool session ${id} has already ended`, 'id');
    return session;
  }

  /** Tokens original, actual and prevented over [from, to), per group, and what the prevented tokens would have cost. */
  async toolSavings(tenantId: string, rawQuery: unknown): Promise<ToolSavingsReport> {
    const query = parseSavingsQuery(rawQuery);
    const price = query.pricePerMillionTokens ?? this.defaultPricePerMillion;
    const column = GROUP_COLUMN[query.groupBy];
    const rows = await this.prisma.toolOperation.groupBy({
      by: [column],
      where: {
        tenantId,
        ...(query.toolId !== undefined ? { toolId: query.toolId } : {}),
        ...(query.from || query.to ? { createdAt: { ...(query.from ? { gte: query.from } : {}), ...(query.to ? { lt: query.to } : {}) } } : {}),
      },
      _count: { _all: true },
      _sum: { tokensOriginal: true, tokensActual: true, tokensPrevented: true },
    });
    const groups: ToolSavings[] = rows.map((row) => {
      const tokensPrevented = row._sum.tokensPrevented ?? 0;
      return {
        key: row[column],
        operations: row._count._all,
        tokensOriginal: row._sum.tokensOriginal ?? 0,
        tokensActual: row._sum.tokensActual ?? 0,
        tokensPrevented,
        costSavedUsd: costOf(tokensPrevented, price),
      };
    });
    groups.sort((a, b) => (a.key! < b.key! ? -1 : a.key! > b.key! ? 1 : 0));
    const sum = (pick: (g: ToolSavings) => number) => groups.reduce((total, group) => total + pick(group), 0);
    const tokensPrevented = sum((g) => g.tokensPrevented);
    return {
      from: query.from ?? null,
      to: query.to ?? null,
      groupBy: query.groupBy,
      pricePerMillionTokens: price,
      groups,
      totals: {
        key: null,
        operations: sum((g) => g.operations),
        tokensOriginal: sum((g) => g.tokensOriginal),
        tokensActual: sum((g) => g.tokensActual),
        tokensPrevented,
        costSavedUsd: costOf(tokensPrevented, price),
      },
    };
  }
}

/** Modes that search by meaning, so the operation embedded its query. */
const EMBEDDING_MODES = ['semantic', 'tri_index'];

/**
 * What an operation adds to its session's counters: a compression when it asked to compress (seed 003's
 * `{compress: true}`) or is a compress call, an embedding when it is an embed call or a search by meaning,
 * a workflow when it is a workflow call.
 */
function sessionCountersOf(input: { toolName: string; operationMode: string; parameters: Record<string, unknown> }) {
  const increments: { totalCompressions?: { increment: number }; totalEmbeddings?: { increment: number }; totalWorkflows?: { increment: number } } = {};
  if (input.parameters.compress === true || input.toolName === 'compress') increments.totalCompressions = { increment: 1 };
  if (input.toolName === 'embed' || EMBEDDING_MODES.includes(input.operationMode)) increments.totalEmbeddings = { increment: 1 };
  if (input.toolName === 'workflow') increments.totalWorkflows = { increment: 1 };
  return increments;
}
