import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { principalOf, tenantOf } from '../../context.js';
import { DEPLOYMENT_CHANGES, Topic, type DeploymentChangedEvent } from '../../infra/topics.js';
import { nodeGlobalId } from '../cluster/node.subscriptions.js';
import { enumValues } from '../shared/graphql.js';
import { subscriptionErrors } from '../shared/graphql-errors.js';
import { DeploymentRef, DeploymentStatusEnum } from './deployment.schema.js';

const DeploymentChangeKindEnum = builder.enumType('DeploymentChangeKind', {
  description: 'A replace is REPLICA_FAILED followed by REPLICA_ADDED on another node',
  values: enumValues(DEPLOYMENT_CHANGES),
});

const DeploymentChangeRef = builder.objectRef<DeploymentChangedEvent>('DeploymentChange').implement({
  description: 'A deployment was created, scaled, gained, lost or replaced a replica, changed status, or was deleted',
  fields: (t) => ({
    deploymentId: t.id({ description: 'The Deployment id', resolve: (event) => encodeGlobalID('Deployment', event.deploymentId) }),
    change: t.field({ type: DeploymentChangeKindEnum, resolve: (event) => event.change }),
    status: t.field({ type: DeploymentStatusEnum, description: 'The status after the change', resolve: (event) => event.status as never }),
    desiredReplicas: t.exposeInt('desiredReplicas'),
    currentReplicas: t.exposeInt('currentReplicas'),
    nodeId: t.id({
      nullable: true,
      description: 'The ClusterNode of the replica that was added, removed or lost',
      resolve: (event) => (event.nodeId ? nodeGlobalId(event.nodeId) : null),
    }),
    at: t.field({ type: 'DateTime', resolve: (event) => new Date(event.at) }),
    deployment: t.field({
      type: DeploymentRef,
      nullable: true,
      description: 'The deployment as it is now; null once deleted',
      resolve: (event, _args, ctx) => ctx.prisma.deployment.findFirst({ where: { id: event.deploymentId, tenantId: tenantOf(ctx) } }),
    }),
  }),
});

builder.subscriptionFields((t) => ({
  deploymentChanged: t.field({
    type: DeploymentChangeRef,
    description: "Every change of one deployment, or of all the tenant's deployments: scaled, replicas placed, lost and replaced, status",
    authScopes: { permission: 'deployments:read' },
    args: { deploymentId: t.arg.globalID({ required: false, for: DeploymentRef }) },
    subscribe: (_root, args, ctx) =>
      subscriptionErrors(async () => {
        const principal = principalOf(ctx);
        const deploymentId = args.deploymentId?.id ?? null;
        if (deploymentId) await ctx.services.deployments.assertDeployment(principal.tenantId, deploymentId);
        return ctx.services.realtime.feeds.ordered(principal, 'deployments:read', [Topic.DeploymentChanged], (event) =>
          !deploymentId || event.deploymentId === deploymentId ? [event] : [],
        );
      }),
    resolve: (event) => event,
  }),
}));
