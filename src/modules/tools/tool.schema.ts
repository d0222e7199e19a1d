import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { compact } from '../shared/graphql.js';
import { ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import type { ToolSavings, ToolSavingsReport } from './tool.service.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';
import { anyOf, atLeast, atMost, below, custom, defineList, equals, textSearch } from '../shared/list-query.js';

export const ToolSavingsGroupingEnum = builder.enumType('ToolSavingsGrouping', {
  values: {
    TOOL_NAME: { value: 'tool_name', description: 'The operation type, e.g. read or search' },
    OPERATION_MODE: { value: 'operation_mode', description: 'full, overview, symbol, semantic, tri_index, ...' },
    TOOL_ID: { value: 'tool_id', description: 'The tool, e.g. claude-code' },
  } as const,
});

export const ToolSessionRef = builder.prismaNode('ToolSession', {
  description: 'A session of a tool (e.g. a Claude Code session) whose operations OmniMemory optimised',
  id: { field: 'id' },
  fields: (t) => ({
    toolId: t.exposeString('toolId'),
    toolVersion: t.exposeString('toolVersion', { nullable: true }),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    endedAt: t.expose('endedAt', { type: 'DateTime', nullable: true }),
    lastActivity: t.expose('lastActivity', { type: 'DateTime' }),
    tokensSaved: t.float({ description: 'Tokens prevented by all its operations', resolve: (session) => Number(session.tokensSaved) }),
    totalCompressions: t.exposeInt('totalCompressions', { description: 'Operations that compressed what they returned (parameters.compress, or a compress call)' }),
    totalEmbeddings: t.exposeInt('totalEmbeddings', { description: 'Operations that embedded text: embed calls and semantic or tri_index searches' }),
    totalWorkflows: t.exposeInt('totalWorkflows', { description: 'Workflow calls' }),
    operations: t.relatedConnection('operations', { cursor: 'id', query: () => ({ orderBy: [{ createdAt: 'desc' }, { seq: 'desc' }] }) }),
  }),
});

export const ToolOperationRef = builder.prismaNode('ToolOperation', {
  description: 'One read or search of a tool session, with the tokens it would have sent and those it did',
  id: { field: 'id' },
  fields: (t) => ({
    toolId: t.exposeString('toolId'),
    toolName: t.exposeString('toolName'),
    operationMode: t.exposeString('operationMode'),
    parameters: t.expose('parameters', { type: 'JSON' }),
    filePath: t.exposeString('filePath', { nullable: true }),
    tokensOriginal: t.exposeInt('tokensOriginal'),
    tokensActual: t.exposeInt('tokensActual'),
    tokensPrevented: t.exposeInt('tokensPrevented'),
    responseTimeMs: t.exposeFloat('responseTimeMs', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    session: t.relation('session'),
  }),
});

const ToolSavingsRef = builder.objectRef<ToolSavings>('ToolSavings').implement({
  fields: (t) => ({
    key: t.exposeString('key', { nullable: true, description: 'The group; null for the totals' }),
    operations: t.exposeInt('operations'),
    tokensOriginal: t.exposeFloat('tokensOriginal'),
    tokensActual: t.exposeFloat('tokensActual'),
    tokensPrevented: t.exposeFloat('tokensPrevented'),
    costSavedUsd: t.exposeString('costSavedUsd', { description: 'What the prevented tokens would have cost, exact decimal USD' }),
  }),
});

const ToolSavingsReportRef = builder.objectRef<ToolSavingsReport>('ToolSavingsReport').implement({
  fields: (t) => ({
    from: t.expose('from', { type: 'DateTime', nullable: true }),
    to: t.expose('to', { type: 'DateTime', nullable: true }),
    groupBy: t.field({ type: ToolSavingsGroupingEnum, resolve: (report) => report.groupBy }),
    pricePerMillionTokens: t.exposeString('pricePerMillionTokens'),
    totals: t.field({ type: ToolSavingsRef, resolve: (report) => report.totals }),
    groups: t.field({ type: [ToolSavingsRef], resolve: (report) => report.groups }),
  }),
});

const toolSessionList = defineList({
  name: 'ToolSession',
  filter: {
    toolId: equals('String'),
    active: custom(
      (t) => t.boolean({ required: false, description: 'true: not ended; false: ended' }),
      (value) => ({ endedAt: value ? null : { not: null } }),
    ),
    toolIdIn: anyOf('String', 'toolId'),
    search: textSearch(['toolId', 'toolVersion'], 'Part of the tool id or version, any case'),
    startedAfter: atLeast('startedAt', 'DateTime', 'Inclusive'),
    startedBefore: below('startedAt', 'DateTime', 'Exclusive'),
    activeAfter: atLeast('lastActivity', 'DateTime', 'Last activity at or after this'),
    activeBefore: below('lastActivity', 'DateTime', 'Last activity before this'),
    minTokensSaved: atLeast('tokensSaved', 'Int'),
    maxTokensSaved: atMost('tokensSaved', 'Int'),
  },
  orderBy: {
    STARTED_AT: 'startedAt',
    LAST_ACTIVITY: 'lastActivity',
    TOKENS_SAVED: 'tokensSaved',
    TOOL_ID: 'toolId',
    TOTAL_COMPRESSIONS: 'totalCompressions',
    TOTAL_EMBEDDINGS: 'totalEmbeddings',
  },
  defaultOrder: ['STARTED_AT', 'desc'],
  tieBreakers: ['seq', 'id'],
});

const StartToolSessionInput = builder.inputType('StartToolSessionInput', {
  fields: (t) => ({ toolId: t.string({ required: true, description: 'e.g. claude-code' }), toolVersion: t.string({ required: false }) }),
});

const RecordToolOperationInput = builder.inputType('RecordToolOperationInput', {
  fields: (t) => ({
    sessionId: t.globalID({ required: true, for: ToolSessionRef }),
    toolName: t.string({ required: true, description: 'e.g. read or search' }),
    operationMode: t.string({ required: true, description: 'e.g. full, overview, symbol, semantic, tri_index' }),
    parameters: t.field({ type: 'JSON', required: false }),
    filePath: t.string({ required: false }),
    tokensOriginal: t.int({ required: true, description: 'Tokens the operation would have sent without optimisation' }),
    tokensActual: t.int({ required: true, description: 'Tokens it sent; the difference is recorded as prevented' }),
    responseTimeMs: t.float({ required: false }),
  }),
});

builder.queryFields((t) => ({
  toolSessions: t.prismaConnection({
    type: 'ToolSession',
    cursor: 'id',
    description: "The tenant's tool sessions, newest first unless ordered otherwise",
    authScopes: { permission: 'tools:read' },
    args: { filter: t.arg({ type: toolSessionList.Filter, required: false }), orderBy: t.arg({ type: [toolSessionList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.toolSession.count({ where: toolSessionList.where({ tenantId: tenantOf(ctx) }, args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.toolSession.findMany(toolSessionList.page(query, { tenantId: tenantOf(ctx) }, args))),
  }),
  toolSession: t.prismaField({
    type: 'ToolSession',
    nullable: true,
    authScopes: { permission: 'tools:read' },
    args: { id: t.arg.globalID({ required: true, for: ToolSessionRef }) },
    resolve: (query, _root, args, ctx) => ctx.prisma.toolSession.findFirst({ ...query, where: { id: args.id.id, tenantId: tenantOf(ctx) } }),
  }),
  toolSavings: t.field({
    type: ToolSavingsReportRef,
    description: 'Tokens original, actual and prevented over [from, to) per group, and the cost the prevented tokens saved',
    authScopes: { permission: 'tools:read' },
    args: {
      from: t.arg({ type: 'DateTime', required: false }),
      to: t.arg({ type: 'DateTime', required: false }),
      groupBy: t.arg({ type: ToolSavingsGroupingEnum, required: false, description: 'Defaults to TOOL_NAME' }),
      toolId: t.arg.string({ required: false }),
      pricePerMillionTokens: t.arg.string({ required: false, description: 'USD per million tokens; defaults to TOOL_TOKEN_PRICE_PER_MILLION (15)' }),
    },
    resolve: (_root, args, ctx) => withGraphQLErrors(() => ctx.services.toolAnalytics.toolSavings(tenantOf(ctx), compact(args))),
  }),
}));

builder.mutationFields((t) => ({
  startToolSession: t.field({
    type: ToolSessionRef,
    authScopes: { permission: 'tools:write' },
    errors: mutationErrors('StartToolSession', 'toolSession', [ValidationError]),
    args: { input: t.arg({ type: StartToolSessionInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.toolAnalytics.startToolSession(tenantOf(ctx), compact(args.input)),
  }),
  recordToolOperation: t.field({
    type: ToolOperationRef,
    authScopes: { permission: 'tools:write' },
    errors: mutationErrors('RecordToolOperation', 'operation', [ValidationError, NotFoundError, ConflictError]),
    args: { input: t.arg({ type: RecordToolOperationInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.toolAnalytics.recordToolOperation(tenantOf(ctx), { ...compact(args.input), sessionId: args.input.sessionId.id }),
  }),
  endToolSession: t.field({
    type: ToolSessionRef,
    authScopes: { permission: 'tools:write' },
    errors: mutationErrors('EndToolSession', 'toolSession', [NotFoundError, ConflictError]),
    args: { id: t.arg.globalID({ required: true, for: ToolSessionRef }) },
    resolve: (_root, args, ctx) => ctx.services.toolAnalytics.endToolSession(tenantOf(ctx), args.id.id),
  }),
}));
