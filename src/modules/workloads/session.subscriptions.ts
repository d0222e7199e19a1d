import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { principalOf } from '../../context.js';
import type { SessionStateChangedEvent } from '../../infra/topics.js';
import { ResourceTypeEnum } from '../cluster/node.schema.js';
import { nodeGlobalId } from '../cluster/node.subscriptions.js';
import { subscriptionErrors } from '../shared/graphql-errors.js';
import { SessionRef, SessionStatusEnum } from './session.schema.js';

export const sessionGlobalId = (sessionId: string) => encodeGlobalID('Session', sessionId);

type Allocation = SessionStateChangedEvent['allocations'][number];

export const AllocatedAmountRef = builder.objectRef<Allocation>('AllocatedAmount').implement({
  description: 'An amount of one resource a session holds (or just released)',
  fields: (t) => ({
    resourceType: t.field({ type: ResourceTypeEnum, resolve: (a) => a.resourceType as never }),
    amount: t.exposeFloat('amount'),
    unit: t.exposeString('unit'),
  }),
});

const SessionStateChangeRef = builder.objectRef<SessionStateChangedEvent>('SessionStateChange').implement({
  description: 'A compute session changed state; allocations are what it holds on the node, or released when it ended',
  fields: (t) => ({
    sessionId: t.id({ description: 'The Session id', resolve: (event) => sessionGlobalId(event.sessionId) }),
    userId: t.exposeString('userId', { description: 'The user the session runs for (users.user_id)' }),
    previousStatus: t.field({ type: SessionStatusEnum, nullable: true, description: 'null when the session was just created', resolve: (event) => event.previousStatus as never }),
    status: t.field({ type: SessionStatusEnum, resolve: (event) => event.status as never }),
    nodeId: t.id({ nullable: true, description: 'The ClusterNode id', resolve: (event) => (event.nodeId ? nodeGlobalId(event.nodeId) : null) }),
    allocations: t.field({ type: [AllocatedAmountRef], resolve: (event) => event.allocations }),
    reason: t.exposeString('reason', { nullable: true }),
    at: t.field({ type: 'DateTime', resolve: (event) => new Date(event.at) }),
  }),
});

builder.subscriptionFields((t) => ({
  sessionStateChanged: t.field({
    type: SessionStateChangeRef,
    description: "Every transition of one session, or of all the tenant's sessions, with its allocation",
    authScopes: { permission: 'sessions:read' },
    args: { sessionId: t.arg.globalID({ required: false, for: SessionRef }) },
    subscribe: (_root, args, ctx) => subscriptionErrors(() => ctx.services.realtime.feeds.sessionStateChanges(principalOf(ctx), args.sessionId?.id ?? null)),
    resolve: (event) => event,
  }),
}));
