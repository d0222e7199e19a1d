import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { compact, enumValues } from '../shared/graphql.js';
import { ClusterNodeRef } from '../cluster/node.schema.js';
import { ConflictError, InsufficientCapacityError, NotFoundError, ValidationError } from '../shared/errors.js';
import { DEPLOYMENT_STATUSES, DEPLOYMENT_STRATEGIES, REPLICA_STATUSES } from './deployment.validation.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';
import { anyOf, atLeast, atMost, below, custom, defineList, globalIdKey, idIn, textSearch } from '../shared/list-query.js';
import { ModelRef } from '../ai/model.schema.js';

export const DeploymentStrategyEnum = builder.enumType('DeploymentStrategy', {
  description: 'SPREAD places replicas across regions; PACKED keeps them in one region',
  values: enumValues(DEPLOYMENT_STRATEGIES),
});
export const DeploymentStatusEnum = builder.enumType('DeploymentStatus', { values: enumValues(DEPLOYMENT_STATUSES) });
const ReplicaStatusEnum = builder.enumType('DeploymentReplicaStatus', { values: enumValues(REPLICA_STATUSES) });

builder.prismaObject('DeploymentNode', {
  name: 'DeploymentReplica',
  description: 'One replica of a deployment: one node, which is one cluster',
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.field({ type: ReplicaStatusEnum, resolve: (row) => row.status as never }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    node: t.relation('node'),
  }),
});

export const DeploymentRef = builder.prismaNode('Deployment', {
  description: 'A model served by replicas on GPU nodes, scaled between min and max replicas',
  id: { field: 'id' },
  fields: (t) => ({
    name: t.exposeString('name'),
    model: t.string({
      description: 'The catalog key of the served model (models.model_id)',
      select: { model: { select: { modelId: true } } },
      resolve: (deployment) => deployment.model.modelId,
    }),
    gpuType: t.exposeString('gpuType', { description: 'As requested: a GPU type or "auto"' }),
    resolvedGpuType: t.exposeString('resolvedGpuType', { nullable: true, description: 'The GPU type replicas run on' }),
    minReplicas: t.exposeInt('minReplicas'),
    maxReplicas: t.exposeInt('maxReplicas'),
    desiredReplicas: t.exposeInt('desiredReplicas'),
    currentReplicas: t.exposeInt('currentReplicas'),
    strategy: t.field({ type: DeploymentStrategyEnum, resolve: (d) => d.strategy as never }),
    regions: t.exposeStringList('regions'),
    status: t.field({ type: DeploymentStatusEnum, resolve: (d) => d.status as never }),
    autoscaling: t.expose('autoscaling', { type: 'JSON' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    replicas: t.relation('deploymentNodes', { query: { orderBy: [{ createdAt: 'asc' }, { seq: 'asc' }] } }),
  }),
});

builder.prismaObjectField(ClusterNodeRef, 'deployment', (t) => t.relation('deployment', { nullable: true, description: 'The deployment whose replica this node serves' }));

const deploymentList = defineList({
  name: 'Deployment',
  filter: {
    status: anyOf(DeploymentStatusEnum),
    model: custom(
      (t) => t.string({ required: false, description: 'A catalog model key' }),
      (value) => ({ model: { modelId: value } }),
    ),
    modelIn: custom(
      (t) => t.stringList({ required: false, description: 'Any of these catalog model keys' }),
      (value) => ({ model: { modelId: { in: value } } }),
    ),
    modelIdIn: idIn(ModelRef, 'modelId', 'Any of these catalog models, by Model ID (the keys deploymentCounts gives)'),
    name: textSearch(['name']),
    strategy: anyOf(DeploymentStrategyEnum),
    resolvedGpuType: anyOf('String', undefined, 'Deployments whose replicas run on any of these GPU types'),
    region: custom(
      (t) => t.string({ required: false, description: 'Deployments allowed to run in this region code' }),
      (value) => ({ regions: { has: value } }),
    ),
    minCurrentReplicas: atLeast('currentReplicas', 'Int'),
    maxCurrentReplicas: atMost('currentReplicas', 'Int'),
    createdAfter: atLeast('createdAt', 'DateTime', 'Inclusive'),
    createdBefore: below('createdAt', 'DateTime', 'Exclusive'),
  },
  orderBy: {
    CREATED_AT: 'createdAt',
    UPDATED_AT: 'updatedAt',
    NAME: 'name',
    STATUS: 'status',
    CURRENT_REPLICAS: 'currentReplicas',
    DESIRED_REPLICAS: 'desiredReplicas',
  },
  defaultOrder: ['CREATED_AT', 'desc'],
  tieBreakers: ['seq', 'id'],
  groupBy: { STATUS: 'status', MODEL: { column: 'modelId', key: globalIdKey('Model') } },
});

const CreateDeploymentInput = builder.inputType('CreateDeploymentInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'Lowercase letters, digits and hyphens; unique in the tenant' }),
    model: t.string({ required: true, description: 'A catalog model key (models.model_id)' }),
    gpuType: t.string({ required: false, description: 'A GPU type, or "auto" (default): the cheapest type whose per-GPU memory fits the model' }),
    minReplicas: t.int({ required: false }),
    maxReplicas: t.int({ required: false }),
    desiredReplicas: t.int({ required: false, description: 'minReplicas unless given' }),
    strategy: t.field({ type: DeploymentStrategyEnum, required: false }),
    regions: t.stringList({ required: false, description: 'Region codes replicas may run in; any when empty' }),
    environmentId: t.globalID({ required: false, description: 'An Environment id' }),
    autoscaling: t.field({ type: 'JSON', required: false }),
  }),
});

builder.queryFields((t) => ({
  deployments: t.prismaConnection({
    type: 'Deployment',
    cursor: 'id',
    description: "The tenant's deployments, newest first unless ordered otherwise",
    authScopes: { permission: 'deployments:read' },
    args: { filter: t.arg({ type: deploymentList.Filter, required: false }), orderBy: t.arg({ type: [deploymentList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.deployment.count({ where: deploymentList.where({ tenantId: tenantOf(ctx) }, args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.deployment.findMany(deploymentList.page(query, { tenantId: tenantOf(ctx) }, args))),
  }),
  deployment: t.prismaField({
    type: 'Deployment',
    nullable: true,
    authScopes: { permission: 'deployments:read' },
    args: { id: t.arg.globalID({ required: true, for: DeploymentRef }) },
    resolve: (query, _root, args, ctx) => ctx.prisma.deployment.findFirst({ ...query, where: { id: args.id.id, tenantId: tenantOf(ctx) } }),
  }),
}));

builder.mutationFields((t) => ({
  createDeployment: t.field({
    type: DeploymentRef,
    description: 'Creates a deployment and claims its first replicas at once',
    authScopes: { permission: 'deployments:write' },
    errors: mutationErrors('CreateDeployment', 'deployment', [ValidationError, NotFoundError, ConflictError, InsufficientCapacityError]),
    args: { input: t.arg({ type: CreateDeploymentInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.deployments.createDeployment(tenantOf(ctx), {
        ...compact(args.input),
        // An id of another type is passed on as invalid, so validation names the field.
        environmentId: args.input.environmentId ? (args.input.environmentId.typename === 'Environment' ? args.input.environmentId.id : 'not-an-environment-id') : undefined,
      }),
  }),
  scaleDeployment: t.field({
    type: DeploymentRef,
    description: 'Sets the desired replica count (within min and max) and reconciles towards it',
    authScopes: { permission: 'deployments:write' },
    errors: mutationErrors('ScaleDeployment', 'deployment', [ValidationError, NotFoundError]),
    args: { id: t.arg.globalID({ required: true, for: DeploymentRef }), desiredReplicas: t.arg.int({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.deployments.scaleDeployment(tenantOf(ctx), args.id.id, args.desiredReplicas),
  }),
  deleteDeployment: t.field({
    type: 'ID',
    description: 'Deletes a deployment and frees its nodes',
    authScopes: { permission: 'deployments:write' },
    errors: mutationErrors('DeleteDeployment', 'deletedId', [NotFoundError]),
    args: { id: t.arg.globalID({ required: true, for: DeploymentRef }) },
    resolve: async (_root, args, ctx) => encodeGlobalID('Deployment', await ctx.services.deployments.deleteDeployment(tenantOf(ctx), args.id.id)),
  }),
  reconcileDeployments: t.field({
    type: 'Int',
    description: "Runs the reconciler over the tenant's deployments now (it also runs on a schedule); returns how many it visited",
    authScopes: { permission: 'deployments:write' },
    resolve: async (_root, _args, ctx) => (await ctx.services.deployments.runReconciler(tenantOf(ctx))).deployments,
  }),
}));

deploymentList.countsQuery('deploymentCounts', {
  description: "How many of the tenant's deployments (matching the filter) share each value of a field; MODEL keys are Model IDs",
  authScopes: { permission: 'deployments:read' },
  rows: (ctx) => [ctx.prisma.deployment, { tenantId: tenantOf(ctx) }],
});
