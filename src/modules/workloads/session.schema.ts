import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf, type Context } from '../../context.js';
import { compact, enumValues } from '../shared/graphql.js';
import { ClusterNodeRef, ResourceTypeEnum } from '../cluster/node.schema.js';
import { anyOf, atLeast, atMost, below, defineList, enumGroup, globalIdKey, idIn, idIs, textSearch, uuidIn, uuidIs } from '../shared/list-query.js';
import { PLACEMENT_STRATEGIES } from '../cluster/placement.js';
import { can } from '../identity/principal.js';
import { SecretBox } from '../../infra/secret-box.js';
import {
  ForbiddenError,
  IllegalTransitionError,
  InsufficientCapacityError,
  NotFoundError,
  QuotaExceededError,
  ValidationError,
} from '../shared/errors.js';
import { inOneStatement } from '../shared/read-query.js';
import { firstPages, readPage } from '../shared/compiled-read.js';
import { FIRST_PAGES } from '../shared/first-pages-plugin.js';
import { sessionReads } from './session.reads.js';
import type { SchedulingNotes } from './scheduler.service.js';
import { RESTART_POLICIES, SESSION_STATUSES } from './session-states.js';
import type { SessionActor } from './session-access.js';
import { SESSION_TYPES } from './session.validation.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';

export const SessionStatusEnum = builder.enumType('SessionStatus', { values: enumValues(SESSION_STATUSES) });
export const SessionTypeEnum = builder.enumType('SessionType', { values: enumValues(SESSION_TYPES) });
const RestartPolicyEnum = builder.enumType('SessionRestartPolicy', {
  description: 'What a failure of its node does to a session: NEVER fails it with the node, RESCHEDULE puts it back to PENDING',
  values: enumValues(RESTART_POLICIES),
});
export const PlacementStrategyEnum = builder.enumType('PlacementStrategy', {
  description: 'BINPACK fills the fullest node that fits first; SPREAD puts work on the emptiest',
  values: enumValues(PLACEMENT_STRATEGIES),
});
const AllocationStatusEnum = builder.enumType('AllocationStatus', { values: enumValues(['active', 'released', 'failed'] as const) });

const SECRET_MASK = '********';

/** A session's variables as shown: values sealed at rest are never shown again. */
const maskSecrets = (variables: unknown): Record<string, unknown> =>
  Object.fromEntries(Object.entries(variables as Record<string, unknown>).map(([name, value]) => [name, typeof value === 'string' && SecretBox.isSealed(value) ? SECRET_MASK : value]));

export const actorOf = (ctx: Context): SessionActor => ({
  tenantId: tenantOf(ctx),
  userId: ctx.principal?.userId ?? null,
  canManage: can(ctx.principal, 'sessions:manage'),
});

export const SessionAllocationRef = builder.prismaObject('SessionAllocation', {
  description: 'Capacity of one resource a session holds (or held) on a node',
  select: { id: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    resourceType: t.field({ type: ResourceTypeEnum, select: { resourceType: true }, resolve: (row) => row.resourceType as never }),
    allocatedAmount: t.float({ select: { allocatedAmount: true }, resolve: (row) => row.allocatedAmount.toNumber() }),
    unit: t.exposeString('unit'),
    status: t.field({ type: AllocationStatusEnum, select: { status: true }, resolve: (row) => row.status as never }),
    allocationTime: t.expose('allocationTime', { type: 'DateTime' }),
    deallocationTime: t.expose('deallocationTime', { type: 'DateTime', nullable: true }),
    node: t.relation('node'),
  }),
});

type Rejection = SchedulingNotes['rejections'][number];
type Excluded = SchedulingNotes['excluded'][number];

const NodeRejectionRef = builder.objectRef<Rejection>('NodeRejection').implement({
  description: 'Why one node could not take a session',
  fields: (t) => ({
    nodeId: t.id({ description: 'The ClusterNode id', resolve: (row) => encodeGlobalID('ClusterNode', row.nodeId) }),
    hostname: t.exposeString('hostname'),
    reasons: t.exposeStringList('reasons'),
  }),
});

const ExcludedNodesRef = builder.objectRef<Excluded>('ExcludedNodes').implement({
  description: 'Nodes that take no new work at all, counted by reason',
  fields: (t) => ({ reason: t.exposeString('reason'), count: t.exposeInt('count') }),
});

const SchedulingNotesRef = builder.objectRef<SchedulingNotes>('SchedulingNotes').implement({
  description: "The scheduler's last attempt to place a pending session",
  fields: (t) => ({
    attemptedAt: t.field({ type: 'DateTime', resolve: (notes) => new Date(notes.attemptedAt) }),
    attempts: t.exposeInt('attempts'),
    strategy: t.field({ type: PlacementStrategyEnum, resolve: (notes) => notes.strategy as never }),
    rejections: t.field({ type: [NodeRejectionRef], resolve: (notes) => notes.rejections }),
    excluded: t.field({ type: [ExcludedNodesRef], resolve: (notes) => notes.excluded }),
  }),
});

export const SessionRef = builder.prismaNode('Session', {
  description: 'A compute session: what it asks for, where it runs, and where it is in its life',
  id: { field: 'id' },
  select: { id: true },
  fields: (t) => ({
    sessionName: t.exposeString('sessionName'),
    sessionType: t.field({ type: SessionTypeEnum, select: { sessionType: true }, resolve: (s) => s.sessionType as never }),
    status: t.field({ type: SessionStatusEnum, select: { status: true }, resolve: (s) => s.status as never }),
    userId: t.exposeString('userId', { description: 'The user the session runs for (users.user_id)' }),
    user: t.relation('user'),
    application: t.exposeString('application', { nullable: true }),
    containerImage: t.exposeString('containerImage', { nullable: true }),
    command: t.exposeStringList('command', { description: 'The program and its arguments the node agent runs, without a shell (empty: none given)' }),
    priority: t.exposeInt('priority'),
    maxRuntimeMinutes: t.exposeInt('maxRuntimeMinutes', { nullable: true }),
    restartPolicy: t.field({ type: RestartPolicyEnum, select: { restartPolicy: true }, resolve: (s) => s.restartPolicy as never }),
    cpuRequest: t.float({ select: { cpuRequest: true }, resolve: (s) => s.cpuRequest.toNumber() }),
    cpuLimit: t.float({ nullable: true, select: { cpuLimit: true }, resolve: (s) => s.cpuLimit?.toNumber() ?? null }),
    memoryRequestGb: t.float({ select: { memoryRequestGb: true }, resolve: (s) => s.memoryRequestGb.toNumber() }),
    memoryLimitGb: t.float({ nullable: true, select: { memoryLimitGb: true }, resolve: (s) => s.memoryLimitGb?.toNumber() ?? null }),
    gpuRequest: t.exposeInt('gpuRequest'),
    gpuType: t.exposeString('gpuType', { nullable: true }),
    storageRequestGb: t.float({ select: { storageRequestGb: true }, resolve: (s) => s.storageRequestGb.toNumber() }),
    networkPolicy: t.exposeString('networkPolicy'),
    environmentVariables: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Readable by its owner and by operators and admins (null for others); secret values show as ********',
      select: { environmentVariables: true, userId: true },
      resolve: (s, _args, ctx) => (ctx.principal?.userId === s.userId || can(ctx.principal, 'sessions:manage') ? maskSecrets(s.environmentVariables) : null),
    }),
    resourceConstraints: t.expose('resourceConstraints', { type: 'JSON' }),
    placementPreferences: t.expose('placementPreferences', { type: 'JSON' }),
    schedulingNotes: t.field({
      type: SchedulingNotesRef,
      nullable: true,
      description: 'Why a pending session has not been placed yet; null once it is',
      select: { schedulingNotes: true },
      resolve: (s) => (s.schedulingNotes as SchedulingNotes | null) ?? null,
    }),
    scheduledNode: t.relation('scheduledNode', { nullable: true }),
    startTime: t.expose('startTime', { type: 'DateTime', nullable: true }),
    endTime: t.expose('endTime', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    allocations: t.relation('allocations', { query: { orderBy: [{ allocationTime: 'asc' }, { resourceType: 'asc' }] } }),
    storageVolumes: t.relation('storageVolumes', { query: { where: { deletedAt: null }, orderBy: [{ createdAt: 'asc' }, { seq: 'asc' }] } }),
  }),
});

builder.prismaObjectField(ClusterNodeRef, 'sessions', (t) =>
  t.relatedConnection('scheduledSessions', {
    cursor: 'id',
    description: 'Sessions placed on this node, newest first',
    args: { status: t.arg({ type: [SessionStatusEnum], required: false }) },
    query: (args) => ({
      where: args.status?.length ? { status: { in: args.status } } : {},
      orderBy: [{ createdAt: 'desc' }, { seq: 'desc' }],
    }),
  }),
);

builder.prismaObjectField('StorageVolume', 'session', (t) => t.relation('session', { nullable: true }));

const sessionList = defineList({
  name: 'Session',
  filter: {
    status: anyOf(SessionStatusEnum),
    sessionType: anyOf(SessionTypeEnum),
    userId: uuidIs(undefined, 'users.user_id'),
    userIdIn: uuidIn('userId'),
    nodeId: idIs(ClusterNodeRef, 'scheduledNodeId', 'Sessions placed on this node'),
    nodeIdIn: idIn(ClusterNodeRef, 'scheduledNodeId'),
    sessionName: textSearch(['sessionName']),
    gpuType: anyOf('String'),
    minPriority: atLeast('priority', 'Int'),
    maxPriority: atMost('priority', 'Int'),
    createdAfter: atLeast('createdAt', 'DateTime', 'Inclusive'),
    createdBefore: below('createdAt', 'DateTime', 'Exclusive'),
  },
  orderBy: { CREATED_AT: 'createdAt', PRIORITY: 'priority', STATUS: 'status', SESSION_NAME: 'sessionName', STARTED_AT: { column: 'startTime', nulls: 'last' } },
  defaultOrder: ['CREATED_AT', 'desc'],
  tieBreakers: ['seq', 'id'],
  groupBy: { STATUS: enumGroup('status'), SESSION_TYPE: enumGroup('sessionType'), USER: 'userId', NODE: { column: 'scheduledNodeId', key: globalIdKey('ClusterNode') } },
});

const PlacementPreferencesInput = builder.inputType('PlacementPreferencesInput', {
  fields: (t) => ({
    strategy: t.field({ type: PlacementStrategyEnum, required: false, description: 'BINPACK unless given' }),
    nodeSelector: t.field({ type: 'JSON', required: false, description: 'Labels the node must contain' }),
    preferredLabels: t.field({ type: 'JSON', required: false, description: 'Labels that rank a node higher, one point per key' }),
    regions: t.stringList({ required: false, description: 'Region codes the node must be in' }),
    excludeNodeIds: t.globalIDList({ required: false, for: ClusterNodeRef }),
  }),
});

const CreateSessionInput = builder.inputType('CreateSessionInput', {
  fields: (t) => ({
    sessionName: t.string({ required: true }),
    sessionType: t.field({ type: SessionTypeEnum, required: true }),
    application: t.string({ required: false }),
    containerImage: t.string({ required: false }),
    command: t.stringList({
      required: false,
      description: 'The program and its arguments (argv) the node agent runs, without a shell: at most 256 words of at most 4,096 characters, 32,768 in all, no NUL; the first names the program',
    }),
    priority: t.int({ required: false, description: '1 (default) to 10; higher is scheduled first' }),
    maxRuntimeMinutes: t.int({ required: false, description: 'Also what quotas charge; a default applies when omitted' }),
    restartPolicy: t.field({ type: RestartPolicyEnum, required: false, description: 'NEVER unless given' }),
    cpuRequest: t.float({ required: true }),
    cpuLimit: t.float({ required: false }),
    memoryRequestGb: t.float({ required: true }),
    memoryLimitGb: t.float({ required: false }),
    gpuRequest: t.int({ required: false }),
    gpuType: t.string({ required: false, description: 'Only nodes with this GPU type; needs gpuRequest' }),
    storageRequestGb: t.float({ required: false }),
    networkPolicy: t.string({ required: false }),
    environmentVariables: t.field({ type: 'JSON', required: false }),
    secretEnvironmentVariables: t.field({ type: 'JSON', required: false, description: 'Variables whose values are stored encrypted and never shown again' }),
    resourceConstraints: t.field({ type: 'JSON', required: false }),
    placementPreferences: t.field({ type: PlacementPreferencesInput, required: false }),
    userId: t.string({ required: false, description: 'Run it for another user of the tenant (needs sessions:manage)' }),
  }),
});

const SessionEnvironmentRef = builder.objectRef<{ sessionId: string; variables: Record<string, string> }>('SessionEnvironment').implement({
  description: "A session's environment variables with its secret values opened, for the agent that runs it",
  fields: (t) => ({
    sessionId: t.field({ type: 'ID', resolve: (env) => encodeGlobalID('Session', env.sessionId) }),
    variables: t.field({ type: 'JSON', resolve: (env) => env.variables }),
  }),
});

const SchedulingPassRef = builder.objectRef<{ considered: number; scheduled: number }>('SchedulingPass').implement({
  description: 'What one scheduling pass over pending sessions did',
  fields: (t) => ({ considered: t.exposeInt('considered'), scheduled: t.exposeInt('scheduled') }),
});

const sessionListTotalCount = (_root: unknown, args: { filter?: typeof sessionList.Filter.$inferInput | null }, ctx: Context) => withGraphQLErrors(() => ctx.prisma.session.count({ where: sessionList.where({ tenantId: tenantOf(ctx) }, args.filter) }));

builder.queryFields((t) => ({
  sessions: t.prismaConnection({
    type: 'Session',
    cursor: 'id',
    description: "The tenant's sessions, newest first unless ordered otherwise",
    authScopes: { permission: 'sessions:read' },
    args: { filter: t.arg({ type: sessionList.Filter, required: false }), orderBy: t.arg({ type: [sessionList.Order], required: false }) },
    totalCount: sessionListTotalCount,
    extensions: { [FIRST_PAGES]: firstPages(sessionReads, (args: { filter?: typeof sessionList.Filter.$inferInput | null; orderBy?: typeof sessionList.Order.$inferInput[] | null }, ctx: Context) => sessionList.page({}, { tenantId: tenantOf(ctx) }, args), sessionListTotalCount) },
    resolve: (query, _root, args, ctx, info) =>
      withGraphQLErrors(() => readPage(sessionReads, ctx.tenantRows, info, ctx.prisma.session, sessionList.page(query, { tenantId: tenantOf(ctx) }, args))),
  }),
  session: t.prismaField({
    type: 'Session',
    nullable: true,
    description: 'One session by its ID, or null when the tenant has no such session',
    authScopes: { permission: 'sessions:read' },
    args: { id: t.arg.globalID({ required: true, for: SessionRef }) },
    resolve: (query, _root, args, ctx) => ctx.prisma.session.findFirst({ ...inOneStatement(query), where: { id: args.id.id, tenantId: tenantOf(ctx) } }),
  }),
}));

builder.mutationFields((t) => ({
  createSession: t.field({
    type: SessionRef,
    description: "Creates a pending session within the user's quotas",
    authScopes: { permission: 'sessions:write' },
    errors: mutationErrors('CreateSession', 'session', [ValidationError, QuotaExceededError, ForbiddenError, NotFoundError]),
    args: { input: t.arg({ type: CreateSessionInput, required: true }) },
    resolve: (_root, args, ctx) => {
      const { placementPreferences, ...input } = args.input;
      return ctx.services.computeSessions.createSession(actorOf(ctx), {
        ...compact(input),
        ...(placementPreferences
          ? {
              placementPreferences: {
                ...compact(placementPreferences),
                excludeNodeIds: placementPreferences.excludeNodeIds?.map((id) => id.id),
              },
            }
          : {}),
      });
    },
  }),
  scheduleSession: t.field({
    type: SessionRef,
    description: 'Places a pending session on a node now; when nothing fits it stays pending, with the reasons recorded',
    authScopes: { permission: 'sessions:write' },
    errors: mutationErrors('ScheduleSession', 'session', [NotFoundError, IllegalTransitionError, InsufficientCapacityError, ForbiddenError]),
    args: { id: t.arg.globalID({ required: true, for: SessionRef }) },
    resolve: (_root, args, ctx) => ctx.services.scheduler.scheduleSession(actorOf(ctx), args.id.id),
  }),
  transitionSession: t.field({
    type: SessionRef,
    description: 'Moves a session to another state; SCHEDULED places it as scheduleSession does. Terminal states release its resources.',
    authScopes: { permission: 'sessions:write' },
    errors: mutationErrors('TransitionSession', 'session', [ValidationError, NotFoundError, IllegalTransitionError, InsufficientCapacityError, ForbiddenError]),
    args: {
      id: t.arg.globalID({ required: true, for: SessionRef }),
      status: t.arg({ type: SessionStatusEnum, required: true }),
      reason: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.computeSessions.transition(actorOf(ctx), args.id.id, { status: args.status, ...(args.reason ? { reason: args.reason } : {}) }),
  }),
  openSessionEnvironment: t.field({
    type: SessionEnvironmentRef,
    description:
      "A scheduled or running session's environment variables, secret values opened: only for the API key that registered the session's node (its agent). Nothing else, not even an admin, reads secret values",
    authScopes: { permission: 'sessions:write' },
    errors: mutationErrors('OpenSessionEnvironment', 'environment', [NotFoundError, ForbiddenError]),
    args: { id: t.arg.globalID({ required: true, for: SessionRef }) },
    resolve: (_root, args, ctx) =>
      ctx.services.computeSessions.openEnvironmentForAgent({ tenantId: tenantOf(ctx), apiKeyId: ctx.principal?.kind === 'apiKey' ? ctx.principal.apiKeyId : null }, args.id.id),
  }),
  schedulePendingSessions: t.field({
    type: SchedulingPassRef,
    description: "Runs a scheduling pass over the tenant's pending sessions now (it also runs on a schedule)",
    authScopes: { permission: 'sessions:manage' },
    resolve: (_root, _args, ctx) => ctx.services.scheduler.runPass(tenantOf(ctx)),
  }),
}));

sessionList.countsQuery('sessionCounts', {
  description: "How many of the tenant's sessions (matching the filter) share each value of a field",
  authScopes: { permission: 'sessions:read' },
  rows: (ctx) => [ctx.prisma.session, { tenantId: tenantOf(ctx) }],
});
