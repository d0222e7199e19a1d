import { encodeGlobalID, resolveArrayConnection } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf, type Context } from '../../context.js';
import type { Node } from '../../generated/prisma/client.js';
import { ConflictError, InsufficientCapacityError, NotFoundError, ResourceInUseError, ValidationError } from '../shared/errors.js';
import { compact, enumValues } from '../shared/graphql.js';
import { inOneStatement } from '../shared/read-query.js';
import { above, anyOf, atLeast, below, defineList, enumGroup, globalIdKey, idIn, idIs, jsonContains, textSearch } from '../shared/list-query.js';
import { withGraphQLErrors } from '../shared/graphql-errors.js';
import { firstPages, readPage } from '../shared/compiled-read.js';
import { FIRST_PAGES } from '../shared/first-pages-plugin.js';
import { nodeReads } from './node.reads.js';
import { NetworkInterfaceInput, networkInterfaceArgs } from './network.schema.js';
import { NODE_STATUSES, NODE_TYPES, RESOURCE_TYPES } from './node.validation.js';
import { RegionRef } from './region.schema.js';
import { mutationErrors } from '../shared/graphql-errors.js';

export const NodeTypeEnum = builder.enumType('NodeType', { values: enumValues(NODE_TYPES) });
export const NodeStatusEnum = builder.enumType('NodeStatus', { values: enumValues(NODE_STATUSES) });
export const ResourceTypeEnum = builder.enumType('ResourceType', { values: enumValues(RESOURCE_TYPES) });

const decimal = (value: { toNumber(): number } | null) => (value === null ? null : value.toNumber());

// Select mode: a query loads only the columns its fields ask for.
export const NodeResourceRef = builder.prismaObject('NodeResource', {
  description: 'A schedulable capacity of a node: what it has, what is allocated, what is free',
  select: { id: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    resourceType: t.field({ type: ResourceTypeEnum, select: { resourceType: true }, resolve: (r) => r.resourceType as never }),
    totalCapacity: t.float({ select: { totalCapacity: true }, resolve: (r) => r.totalCapacity.toNumber() }),
    allocatedCapacity: t.float({ select: { allocatedCapacity: true }, resolve: (r) => r.allocatedCapacity.toNumber() }),
    availableCapacity: t.float({
      select: { availableCapacity: true, totalCapacity: true, allocatedCapacity: true },
      resolve: (r) => decimal(r.availableCapacity) ?? r.totalCapacity.minus(r.allocatedCapacity).toNumber(),
    }),
    reservationCapacity: t.float({ select: { reservationCapacity: true }, resolve: (r) => r.reservationCapacity.toNumber() }),
    unit: t.exposeString('unit'),
    constraints: t.expose('constraints', { type: 'JSON' }),
  }),
});

export const ClusterNodeRef = builder.prismaNode('Node', {
  name: 'ClusterNode',
  description: 'A machine of the cluster that runs compute sessions and model replicas',
  id: { field: 'id' },
  select: { id: true },
  fields: (t) => ({
    hostname: t.exposeString('hostname'),
    machineId: t.exposeString('machineId', { nullable: true, description: "The machine's identity its agent registered with" }),
    ipAddress: t.exposeString('ipAddress'),
    nodeType: t.field({ type: NodeTypeEnum, select: { nodeType: true }, resolve: (n) => n.nodeType as never }),
    status: t.field({ type: NodeStatusEnum, select: { status: true }, resolve: (n) => n.status as never }),
    totalCpuCores: t.exposeInt('totalCpuCores'),
    totalMemoryGb: t.float({ select: { totalMemoryGb: true }, resolve: (n) => n.totalMemoryGb.toNumber() }),
    totalStorageGb: t.float({ select: { totalStorageGb: true }, resolve: (n) => n.totalStorageGb.toNumber() }),
    gpuCount: t.exposeInt('gpuCount'),
    gpuMemoryGb: t.float({ description: 'Total over all GPUs', select: { gpuMemoryGb: true }, resolve: (n) => n.gpuMemoryGb.toNumber() }),
    gpuType: t.exposeString('gpuType', { nullable: true }),
    networkBandwidthMbps: t.exposeInt('networkBandwidthMbps'),
    architecture: t.exposeString('architecture'),
    osVersion: t.exposeString('osVersion', { nullable: true }),
    kernelVersion: t.exposeString('kernelVersion', { nullable: true }),
    dockerVersion: t.exposeString('dockerVersion', { nullable: true }),
    labels: t.expose('labels', { type: 'JSON' }),
    annotations: t.expose('annotations', { type: 'JSON' }),
    capabilities: t.expose('capabilities', { type: 'JSON' }),
    region: t.relation('region', { nullable: true }),
    provider: t.exposeString('provider', { nullable: true }),
    instanceType: t.exposeString('instanceType', { nullable: true }),
    spotInstance: t.exposeBoolean('spotInstance'),
    pricePerHour: t.float({ nullable: true, description: 'USD per hour for the whole node', select: { pricePerHour: true }, resolve: (n) => decimal(n.pricePerHour) }),
    clusterName: t.exposeString('clusterName', { nullable: true, description: 'Set while the node serves a deployment replica' }),
    modelName: t.exposeString('modelName', { nullable: true }),
    lastHeartbeat: t.expose('lastHeartbeat', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    resources: t.relation('resources', { query: { orderBy: { resourceType: 'asc' } } }),
    networkInterfaces: t.relation('networkInterfaces', { query: { orderBy: { interfaceName: 'asc' } } }),
  }),
});

const nodeList = defineList({
  name: 'Node',
  filter: {
    status: anyOf(NodeStatusEnum, undefined, 'Nodes in any of these states'),
    nodeType: anyOf(NodeTypeEnum),
    regionId: idIs(RegionRef, 'regionId'),
    regionIdIn: idIn(RegionRef, 'regionId', 'Nodes in any of these regions'),
    gpuType: anyOf('String', undefined, 'Nodes with any of these GPU types'),
    hostname: textSearch(['hostname']),
    provider: anyOf('String'),
    labels: jsonContains('labels', 'Nodes whose labels contain this JSON object (@>)'),
    minGpuCount: atLeast('gpuCount', 'Int'),
    heartbeatAfter: above('lastHeartbeat', 'DateTime', 'Nodes whose last heartbeat is newer than this'),
    heartbeatBefore: below('lastHeartbeat'),
    createdFrom: atLeast('createdAt'),
    createdTo: below('createdAt'),
  },
  orderBy: {
    CREATED_AT: 'createdAt',
    HOSTNAME: 'hostname',
    LAST_HEARTBEAT: { column: 'lastHeartbeat', nulls: 'last' },
    STATUS: 'status',
    GPU_COUNT: 'gpuCount',
    TOTAL_CPU_CORES: 'totalCpuCores',
  },
  defaultOrder: ['CREATED_AT', 'desc'],
  tieBreakers: ['seq', 'id'],
  groupBy: { STATUS: enumGroup('status'), NODE_TYPE: enumGroup('nodeType'), REGION: { column: 'regionId', key: globalIdKey('Region') }, GPU_TYPE: 'gpuType' },
});

export interface AvailableNode {
  node: Node;
  freeCpu: number;
  freeMemoryGb: number;
  freeGpus: number;
  freeStorageGb: number;
}

const AvailableNodeRef = builder.objectRef<AvailableNode>('AvailableNode').implement({
  description: 'A node that can take the requested work now, with its free capacity',
  fields: (t) => ({
    node: t.field({ type: ClusterNodeRef, resolve: (entry) => entry.node }),
    freeCpu: t.exposeFloat('freeCpu'),
    freeMemoryGb: t.exposeFloat('freeMemoryGb'),
    freeGpus: t.exposeFloat('freeGpus'),
    freeStorageGb: t.exposeFloat('freeStorageGb'),
  }),
});

const nodeListTotalCount = (_root: unknown, args: { filter?: typeof nodeList.Filter.$inferInput | null }, ctx: Context) => withGraphQLErrors(() => ctx.prisma.node.count({ where: nodeList.where({ tenantId: tenantOf(ctx) }, args.filter) }));

builder.queryFields((t) => ({
  nodes: t.prismaConnection({
    type: 'Node',
    cursor: 'id',
    description: "The tenant's nodes, newest first unless ordered otherwise",
    authScopes: { permission: 'cluster:read' },
    args: { filter: t.arg({ type: nodeList.Filter, required: false }), orderBy: t.arg({ type: [nodeList.Order], required: false }) },
    totalCount: nodeListTotalCount,
    extensions: { [FIRST_PAGES]: firstPages(nodeReads, (args: { filter?: typeof nodeList.Filter.$inferInput | null; orderBy?: typeof nodeList.Order.$inferInput[] | null }, ctx: Context) => nodeList.page({}, { tenantId: tenantOf(ctx) }, args), nodeListTotalCount) },
    resolve: (query, _root, args, ctx, info) =>
      withGraphQLErrors(() => readPage(nodeReads, ctx.tenantRows, info, ctx.prisma.node, nodeList.page(query, { tenantId: tenantOf(ctx) }, args))),
  }),
  node: t.prismaField({
    type: 'Node',
    nullable: true,
    description: 'One node by its ID, or null when the tenant has no such node',
    authScopes: { permission: 'cluster:read' },
    args: { id: t.arg.globalID({ required: true, for: ClusterNodeRef }) },
    resolve: (query, _root, args, ctx) => ctx.prisma.node.findFirst({ ...inOneStatement(query), where: { id: args.id.id, tenantId: tenantOf(ctx) } }),
  }),
  availableNodes: t.connection({
    type: AvailableNodeRef,
    description: 'Active nodes with a recent heartbeat and enough free capacity for the request, best fit first',
    authScopes: { permission: 'cluster:read' },
    args: {
      cpu: t.arg.float({ required: false, description: 'Cores (default 0)' }),
      memoryGb: t.arg.float({ required: false }),
      gpuCount: t.arg.int({ required: false }),
      gpuType: t.arg.string({ required: false }),
      storageGb: t.arg.float({ required: false }),
      labels: t.arg({ type: 'JSON', required: false, description: 'Labels the node must contain' }),
    },
    resolve: (_root, args, ctx) =>
      withGraphQLErrors(async () => {
        const { first, last, before, after, ...request } = args;
        const nodes = await ctx.services.nodes.availableNodes(tenantOf(ctx), compact(request));
        return resolveArrayConnection({ args: { first, last, before, after }, defaultSize: 20, maxSize: 100 }, nodes);
      }),
  }),
}));

const NodeResourceInput = builder.inputType('NodeResourceInput', {
  fields: (t) => ({
    resourceType: t.field({ type: ResourceTypeEnum, required: true }),
    totalCapacity: t.float({ required: true }),
    reservationCapacity: t.float({ required: false, description: 'Held back from scheduling' }),
    unit: t.string({ required: true }),
    constraints: t.field({ type: 'JSON', required: false }),
  }),
});

const NodeResourceChangeInput = builder.inputType('NodeResourceChangeInput', {
  description: 'A resource to add or resize; omitted fields stay as they are',
  fields: (t) => ({
    resourceType: t.field({ type: ResourceTypeEnum, required: true }),
    totalCapacity: t.float({ required: true, description: 'Refused below what sessions hold plus the reservation' }),
    reservationCapacity: t.float({ required: false, description: 'Held back from scheduling' }),
    unit: t.string({ required: false }),
    constraints: t.field({ type: 'JSON', required: false }),
  }),
});

const RegisterNodeInput = builder.inputType('RegisterNodeInput', {
  fields: (t) => ({
    hostname: t.string({ required: true, description: 'Unique within the tenant' }),
    machineId: t.string({
      required: false,
      description: "The machine's stable identity (e.g. /etc/machine-id): registering it again returns its node with the inventory refreshed",
    }),
    ipAddress: t.string({ required: true }),
    nodeType: t.field({ type: NodeTypeEnum, required: true }),
    status: t.field({ type: NodeStatusEnum, required: false, description: 'Defaults to INACTIVE until the first heartbeat' }),
    totalCpuCores: t.int({ required: true }),
    totalMemoryGb: t.float({ required: true }),
    totalStorageGb: t.float({ required: true }),
    gpuCount: t.int({ required: false }),
    gpuMemoryGb: t.float({ required: false, description: 'Total over all GPUs' }),
    gpuType: t.string({ required: false }),
    networkBandwidthMbps: t.int({ required: false }),
    architecture: t.string({ required: false }),
    osVersion: t.string({ required: false }),
    kernelVersion: t.string({ required: false }),
    dockerVersion: t.string({ required: false }),
    labels: t.field({ type: 'JSON', required: false }),
    annotations: t.field({ type: 'JSON', required: false }),
    capabilities: t.field({ type: 'JSON', required: false }),
    regionId: t.globalID({ required: false, for: RegionRef }),
    provider: t.string({ required: false }),
    instanceType: t.string({ required: false }),
    spotInstance: t.boolean({ required: false }),
    pricePerHour: t.float({ required: false, description: 'USD per hour for the whole node' }),
    resources: t.field({
      type: [NodeResourceInput],
      required: false,
      description: 'Schedulable resources; derived from the totals when omitted',
    }),
    interfaces: t.field({ type: [NetworkInterfaceInput], required: false }),
  }),
});

const UpdateNodeInput = builder.inputType('UpdateNodeInput', {
  description: 'Fields to change; a field given as null is cleared where it may be',
  fields: (t) => ({
    hostname: t.string({ required: false }),
    ipAddress: t.string({ required: false }),
    osVersion: t.string({ required: false }),
    kernelVersion: t.string({ required: false }),
    dockerVersion: t.string({ required: false }),
    gpuType: t.string({ required: false }),
    labels: t.field({ type: 'JSON', required: false, description: 'Replaces all labels' }),
    annotations: t.field({ type: 'JSON', required: false }),
    capabilities: t.field({ type: 'JSON', required: false }),
    regionId: t.globalID({ required: false, for: RegionRef }),
    provider: t.string({ required: false }),
    instanceType: t.string({ required: false }),
    pricePerHour: t.float({ required: false }),
    resources: t.field({ type: [NodeResourceChangeInput], required: false, description: 'Resources to add or resize' }),
    interfaces: t.field({ type: [NetworkInterfaceInput], required: false, description: 'Replaces all network interfaces' }),
  }),
});

builder.mutationFields((t) => ({
  registerNode: t.field({
    type: ClusterNodeRef,
    description:
      "Registers a node with its resources and network interfaces; idempotent per machineId. An API key registering becomes the node's agent key (the one that opens its sessions' secrets) unless another live key already is",
    authScopes: { permission: 'cluster:write' },
    errors: mutationErrors('RegisterNode', 'node', [ValidationError, ConflictError]),
    args: { input: t.arg({ type: RegisterNodeInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.nodes.registerNode(
        tenantOf(ctx),
        {
          ...compact(args.input),
          regionId: args.input.regionId?.id,
          resources: args.input.resources?.map(compact),
          interfaces: args.input.interfaces?.map(networkInterfaceArgs),
        },
        ctx.principal?.kind === 'apiKey' ? ctx.principal.apiKeyId : null,
      ),
  }),
  updateNode: t.field({
    type: ClusterNodeRef,
    description: "Changes a node's descriptive fields, resources and interfaces; status has its own mutation",
    authScopes: { permission: 'cluster:write' },
    errors: mutationErrors('UpdateNode', 'node', [ValidationError, NotFoundError, ConflictError, InsufficientCapacityError]),
    args: { id: t.arg.globalID({ required: true, for: ClusterNodeRef }), input: t.arg({ type: UpdateNodeInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.nodes.updateNode(tenantOf(ctx), args.id.id, {
        ...args.input,
        regionId: args.input.regionId === undefined ? undefined : (args.input.regionId?.id ?? null),
        resources: args.input.resources?.map((resource) => compact(resource)) ?? undefined,
        interfaces: args.input.interfaces?.map(networkInterfaceArgs) ?? undefined,
      }),
  }),
  setNodeStatus: t.field({
    type: ClusterNodeRef,
    description: 'Sets a node ACTIVE, INACTIVE, DRAINING (no new sessions; running ones stay) or MAINTENANCE',
    authScopes: { permission: 'cluster:write' },
    errors: mutationErrors('SetNodeStatus', 'node', [ValidationError, NotFoundError]),
    args: { id: t.arg.globalID({ required: true, for: ClusterNodeRef }), status: t.arg({ type: NodeStatusEnum, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.nodes.setNodeStatus(tenantOf(ctx), args.id.id, args.status),
  }),
  deregisterNode: t.field({
    type: 'ID',
    description: 'Removes a node; refused while sessions run on it or it serves a deployment',
    authScopes: { permission: 'cluster:write' },
    errors: mutationErrors('DeregisterNode', 'deregisteredId', [NotFoundError, ResourceInUseError]),
    args: { id: t.arg.globalID({ required: true, for: ClusterNodeRef }) },
    resolve: async (_root, args, ctx) => encodeGlobalID('ClusterNode', await ctx.services.nodes.deregisterNode(tenantOf(ctx), args.id.id)),
  }),
}));

nodeList.countsQuery('nodeCounts', {
  description: "How many of the tenant's nodes (matching the filter) share each value of a field",
  authScopes: { permission: 'cluster:read' },
  rows: (ctx) => [ctx.prisma.node, { tenantId: tenantOf(ctx) }],
});
