import { builder } from '../../builder.js';
import { principalOf, tenantOf } from '../../context.js';
import { Topic, type NodeRegistryEvent } from '../../infra/topics.js';
import { enumValues } from '../shared/graphql.js';
import { subscriptionErrors } from '../shared/graphql-errors.js';
import { ClusterNodeRef } from './node.schema.js';
import { nodeGlobalId } from './node.subscriptions.js';

const REGISTRY_CHANGES = ['registered', 'deregistered'] as const;

interface NodeRegistryChange extends NodeRegistryEvent {
  kind: (typeof REGISTRY_CHANGES)[number];
}

const NodeRegistryChangeKindEnum = builder.enumType('NodeRegistryChangeKind', { values: enumValues(REGISTRY_CHANGES) });

const NodeRegistryChangeRef = builder.objectRef<NodeRegistryChange>('NodeRegistryChange').implement({
  description: "A node joined the tenant's registry (its machine's first registration) or left it",
  fields: (t) => ({
    kind: t.field({ type: NodeRegistryChangeKindEnum, resolve: (change) => change.kind }),
    nodeId: t.id({ description: 'The ClusterNode id', resolve: (change) => nodeGlobalId(change.nodeId) }),
    hostname: t.exposeString('hostname'),
    at: t.field({ type: 'DateTime', resolve: (change) => new Date(change.at) }),
    node: t.field({
      type: ClusterNodeRef,
      nullable: true,
      description: 'The node as it is now; null once deregistered',
      resolve: (change, _args, ctx) => ctx.prisma.node.findFirst({ where: { id: change.nodeId, tenantId: tenantOf(ctx) } }),
    }),
  }),
});

builder.subscriptionFields((t) => ({
  nodeRegistryChanged: t.field({
    type: NodeRegistryChangeRef,
    description: "Nodes registered into and deregistered from the tenant's cluster",
    authScopes: { permission: 'cluster:read' },
    subscribe: (_root, _args, ctx) =>
      subscriptionErrors(() =>
        ctx.services.realtime.feeds.ordered(principalOf(ctx), 'cluster:read', [Topic.NodeRegistered, Topic.NodeDeregistered], (event, topic): NodeRegistryChange[] => [
          { ...event, kind: topic === Topic.NodeRegistered ? 'registered' : 'deregistered' },
        ]),
      ),
    resolve: (change) => change,
  }),
}));
