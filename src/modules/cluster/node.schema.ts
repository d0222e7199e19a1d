import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { ConflictError, ValidationError } from '../shared/errors.js';
import { NODE_STATUSES, NODE_TYPES, RESOURCE_TYPES } from './node.validation.js';

const enumValues = <T extends string>(values: readonly T[]) =>
  Object.fromEntries(values.map((value) => [value.toUpperCase(), { value }])) as Record<Uppercase<T>, { value: T }>;

export const NodeTypeEnum = builder.enumType('NodeType', { values: enumValues(NODE_TYPES) });
export const NodeStatusEnum = builder.enumType('NodeStatus', { values: enumValues(NODE_STATUSES) });
export const ResourceTypeEnum = builder.enumType('ResourceType', { values: enumValues(RESOURCE_TYPES) });

const decimal = (value: { toNumber(): number } | null) => (value === null ? null : value.toNumber());

export const NodeResourceRef = builder.prismaObject('NodeResource', {
  description: 'A schedulable capacity of a node: what it has, what is allocated, what is free',
  fields: (t) => ({
    id: t.exposeID('id'),
    resourceType: t.field({ type: ResourceTypeEnum, resolve: (r) => r.resourceType as never }),
    totalCapacity: t.float({ resolve: (r) => r.totalCapacity.toNumber() }),
    allocatedCapacity: t.float({ resolve: (r) => r.allocatedCapacity.toNumber() }),
    availableCapacity: t.float({ resolve: (r) => decimal(r.availableCapacity) ?? r.totalCapacity.minus(r.allocatedCapacity).toNumber() }),
    reservationCapacity: t.float({ resolve: (r) => r.reservationCapacity.toNumber() }),
    unit: t.exposeString('unit'),
    constraints: t.expose('constraints', { type: 'JSON' }),
  }),
});

export const ClusterNodeRef = builder.prismaNode('Node', {
  name: 'ClusterNode',
  description: 'A machine of the cluster that runs compute sessions and model replicas',
  id: { field: 'id' },
  fields: (t) => ({
    hostname: t.exposeString('hostname'),
    ipAddress: t.exposeString('ipAddress'),
    nodeType: t.field({ type: NodeTypeEnum, resolve: (n) => n.nodeType as never }),
    status: t.field({ type: NodeStatusEnum, resolve: (n) => n.status as never }),
    totalCpuCores: t.exposeInt('totalCpuCores'),
    totalMemoryGb: t.float({ resolve: (n) => n.totalMemoryGb.toNumber() }),
    totalStorageGb: t.float({ resolve: (n) => n.totalStorageGb.toNumber() }),
    gpuCount: t.exposeInt('gpuCount'),
    gpuMemoryGb: t.float({ resolve: (n) => n.gpuMemoryGb.toNumber() }),
    gpuType: t.exposeString('gpuType', { nullable: true }),
    networkBandwidthMbps: t.exposeInt('networkBandwidthMbps'),
    architecture: t.exposeString('architecture'),
    osVersion: t.exposeString('osVersion', { nullable: true }),
    kernelVersion: t.exposeString('kernelVersion', { nullable: true }),
    labels: t.expose('labels', { type: 'JSON' }),
    capabilities: t.expose('capabilities', { type: 'JSON' }),
    lastHeartbeat: t.expose('lastHeartbeat', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    resources: t.relation('resources', { query: { orderBy: { resourceType: 'asc' } } }),
  }),
});

const NodeFilter = builder.inputType('NodeFilter', {
  fields: (t) => ({
    status: t.field({ type: [NodeStatusEnum], required: false, description: 'Nodes in any of these states' }),
  }),
});

builder.queryFields((t) => ({
  nodes: t.prismaConnection({
    type: 'Node',
    cursor: 'id',
    description: "The tenant's nodes, newest first",
    authScopes: { permission: 'cluster:read' },
    args: { filter: t.arg({ type: NodeFilter, required: false }) },
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.node.findMany({
        ...query,
        where: { tenantId: tenantOf(ctx), ...(args.filter?.status?.length ? { status: { in: args.filter.status } } : {}) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      }),
  }),
  node: t.prismaField({
    type: 'Node',
    nullable: true,
    description: 'One node by its ID, or null when the tenant has no such node',
    authScopes: { permission: 'cluster:read' },
    args: { id: t.arg.globalID({ required: true, for: ClusterNodeRef }) },
    resolve: (query, _root, args, ctx) => ctx.prisma.node.findFirst({ ...query, where: { id: args.id.id, tenantId: tenantOf(ctx) } }),
  }),
}));

const NodeResourceInput = builder.inputType('NodeResourceInput', {
  fields: (t) => ({
    resourceType: t.field({ type: ResourceTypeEnum, required: true }),
    totalCapacity: t.float({ required: true }),
    reservationCapacity: t.float({ required: false }),
    unit: t.string({ required: true }),
    constraints: t.field({ type: 'JSON', required: false }),
  }),
});

const RegisterNodeInput = builder.inputType('RegisterNodeInput', {
  fields: (t) => ({
    hostname: t.string({ required: true }),
    ipAddress: t.string({ required: true }),
    nodeType: t.field({ type: NodeTypeEnum, required: true }),
    status: t.field({ type: NodeStatusEnum, required: false, description: 'Defaults to INACTIVE until the first heartbeat' }),
    totalCpuCores: t.int({ required: true }),
    totalMemoryGb: t.float({ required: true }),
    totalStorageGb: t.float({ required: true }),
    gpuCount: t.int({ required: false }),
    gpuMemoryGb: t.float({ required: false }),
    gpuType: t.string({ required: false }),
    networkBandwidthMbps: t.int({ required: false }),
    architecture: t.string({ required: false }),
    osVersion: t.string({ required: false }),
    kernelVersion: t.string({ required: false }),
    labels: t.field({ type: 'JSON', required: false }),
    capabilities: t.field({ type: 'JSON', required: false }),
    resources: t.field({
      type: [NodeResourceInput],
      required: false,
      description: 'Schedulable resources; derived from the totals when omitted',
    }),
  }),
});

const withoutNulls = <T extends object>(input: T) =>
  Object.fromEntries(Object.entries(input).filter(([, value]) => value !== null && value !== undefined));

builder.mutationFields((t) => ({
  registerNode: t.field({
    type: ClusterNodeRef,
    description: 'Registers a node and its resources',
    authScopes: { permission: 'cluster:write' },
    errors: {
      types: [ValidationError, ConflictError],
      union: { name: 'RegisterNodeResult' },
      result: { name: 'RegisterNodeSuccess' },
      dataField: { name: 'node' },
    },
    args: { input: t.arg({ type: RegisterNodeInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.nodes.registerNode(tenantOf(ctx), {
        ...withoutNulls(args.input),
        resources: args.input.resources?.map(withoutNulls),
      }),
  }),
}));
