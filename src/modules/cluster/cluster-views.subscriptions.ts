import { builder } from '../../builder.js';
import { principalOf } from '../../context.js';
import type { ClusterStateChangedEvent } from '../../infra/topics.js';
import { subscriptionErrors } from '../shared/graphql-errors.js';

export const ClusterStateRef = builder.objectRef<ClusterStateChangedEvent>('ClusterState').implement({
  description: "The tenant's cluster:state summary",
  fields: (t) => ({
    totalNodes: t.exposeInt('totalNodes'),
    activeNodes: t.exposeInt('activeNodes'),
    totalSessions: t.exposeInt('totalSessions', { description: 'Sessions scheduled, running or paused' }),
    clusterLoad: t.exposeFloat('clusterLoad', { nullable: true, description: 'Mean load of the nodes heard from lately; null when none was' }),
    updatedAt: t.field({ type: 'DateTime', resolve: (state) => new Date(state.at) }),
  }),
});

builder.subscriptionFields((t) => ({
  clusterState: t.field({
    type: ClusterStateRef,
    description: "The tenant's cluster:state now, then whenever it changes, at most once a second",
    authScopes: { permission: 'cluster:read' },
    subscribe: (_root, _args, ctx) => subscriptionErrors(() => ctx.services.realtime.feeds.clusterStates(principalOf(ctx))),
    resolve: (state) => state,
  }),
}));
