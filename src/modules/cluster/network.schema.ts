import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import { compact, enumValues } from '../shared/graphql.js';
import { INTERFACE_STATUSES, INTERFACE_TYPES, NETWORK_TYPES } from './network.validation.js';
import { anyOf, atLeast, atMost, below, custom, defineList, idIn, idIs, MAX_FILTER_DEPTH, textSearch } from '../shared/list-query.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';
import type { ContainedAddress } from './network.service.js';

export const NetworkTypeEnum = builder.enumType('NetworkType', { values: enumValues(NETWORK_TYPES) });
export const InterfaceTypeEnum = builder.enumType('NetworkInterfaceType', { values: enumValues(INTERFACE_TYPES) });
export const InterfaceStatusEnum = builder.enumType('NetworkInterfaceStatus', { values: enumValues(INTERFACE_STATUSES) });

export const NetworkTopologyRef = builder.prismaNode('NetworkTopology', {
  description: 'A network segment nodes attach to: its type, subnet, VLAN and policies',
  id: { field: 'id' },
  fields: (t) => ({
    topologyName: t.exposeString('topologyName'),
    networkType: t.field({ type: NetworkTypeEnum, resolve: (row) => row.networkType as never }),
    subnet: t.string({
      description: 'CIDR notation, e.g. 10.0.0.0/24',
      resolve: (row, _args, ctx) => (row as { subnet?: string }).subnet ?? ctx.services.network.subnetOf(tenantOf(ctx), row.id),
    }),
    vlanId: t.exposeInt('vlanId', { nullable: true }),
    bandwidthMbps: t.exposeInt('bandwidthMbps'),
    latencyMs: t.float({ nullable: true, resolve: (row) => row.latencyMs?.toNumber() ?? null }),
    mtu: t.exposeInt('mtu'),
    qosPolicies: t.expose('qosPolicies', { type: 'JSON' }),
    securityPolicies: t.expose('securityPolicies', { type: 'JSON' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    interfaces: t.relation('interfaces', { query: { orderBy: [{ nodeId: 'asc' }, { interfaceName: 'asc' }] } }),
  }),
});

export const NetworkInterfaceRef = builder.prismaNode('NodeNetworkInterface', {
  name: 'NetworkInterface',
  description: "A node's network interface and the topology it is attached to",
  id: { field: 'id' },
  fields: (t) => ({
    interfaceName: t.exposeString('interfaceName'),
    macAddress: t.string({
      resolve: (row, _args, ctx) => (row as { macAddress?: string }).macAddress ?? ctx.services.network.macAddressOf(tenantOf(ctx), row.id),
    }),
    ipAddress: t.exposeString('ipAddress', { nullable: true }),
    interfaceType: t.field({ type: InterfaceTypeEnum, resolve: (row) => row.interfaceType as never }),
    speedMbps: t.exposeInt('speedMbps'),
    duplex: t.exposeString('duplex'),
    status: t.field({ type: InterfaceStatusEnum, resolve: (row) => row.status as never }),
    driver: t.exposeString('driver', { nullable: true }),
    firmwareVersion: t.exposeString('firmwareVersion', { nullable: true }),
    pciSlot: t.exposeString('pciSlot', { nullable: true }),
    numaNode: t.exposeInt('numaNode', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    node: t.relation('node'),
    topology: t.relation('topology', { nullable: true }),
  }),
});

export const NetworkInterfaceInput = builder.inputType('NetworkInterfaceInput', {
  fields: (t) => ({
    interfaceName: t.string({ required: true }),
    macAddress: t.string({ required: true }),
    ipAddress: t.string({ required: false }),
    interfaceType: t.field({ type: InterfaceTypeEnum, required: true }),
    speedMbps: t.int({ required: true }),
    duplex: t.string({ required: false, description: 'full (default) or half' }),
    status: t.field({ type: InterfaceStatusEnum, required: false }),
    driver: t.string({ required: false }),
    firmwareVersion: t.string({ required: false }),
    pciSlot: t.string({ required: false }),
    numaNode: t.int({ required: false }),
    topologyId: t.globalID({ required: false, for: NetworkTopologyRef }),
  }),
});

/** A NetworkInterfaceInput as the service reads it: raw ids, no nulls. */
export const networkInterfaceArgs = (input: typeof NetworkInterfaceInput.$inferInput) => ({
  ...compact(input),
  topologyId: input.topologyId?.id,
});

const topologyList = defineList({
  name: 'NetworkTopology',
  filter: {
    networkType: anyOf(NetworkTypeEnum),
    containsAddress: custom(
      (t) => t.string({ required: false, description: 'Topologies whose subnet contains this IP address' }),
      // The resolver has already turned the address into the topologies holding it (see resolveContainedAddresses).
      (value) => ({ id: { in: (value as ContainedAddress).topologyIds } }),
    ),
    topologyName: textSearch(['topologyName']),
    vlanId: anyOf('Int', 'vlanId', 'Topologies on any of these VLANs'),
    minBandwidthMbps: atLeast('bandwidthMbps', 'Int'),
    maxBandwidthMbps: atMost('bandwidthMbps', 'Int'),
    minMtu: atLeast('mtu', 'Int'),
    createdFrom: atLeast('createdAt', 'DateTime', 'Inclusive'),
    createdTo: below('createdAt', 'DateTime', 'Exclusive'),
  },
  orderBy: {
    TOPOLOGY_NAME: 'topologyName',
    NETWORK_TYPE: 'networkType',
    BANDWIDTH_MBPS: 'bandwidthMbps',
    VLAN_ID: { column: 'vlanId', nulls: 'last' },
    MTU: 'mtu',
    CREATED_AT: 'createdAt',
  },
  defaultOrder: ['TOPOLOGY_NAME', 'asc'],
  tieBreakers: ['id'],
});

const interfaceList = defineList({
  name: 'NetworkInterface',
  model: 'NodeNetworkInterface',
  filter: {
    nodeId: idIs('ClusterNode', 'nodeId', 'A ClusterNode id'),
    nodeIdIn: idIn('ClusterNode', 'nodeId', 'Any of these ClusterNode ids'),
    topologyId: idIs(NetworkTopologyRef, 'topologyId'),
    topologyIdIn: idIn(NetworkTopologyRef, 'topologyId'),
    interfaceType: anyOf(InterfaceTypeEnum),
    status: anyOf(InterfaceStatusEnum),
    interfaceName: textSearch(['interfaceName']),
    driver: anyOf('String', 'driver', 'Interfaces with any of these drivers'),
    minSpeedMbps: atLeast('speedMbps', 'Int'),
    maxSpeedMbps: atMost('speedMbps', 'Int'),
    attached: custom(
      (t) => t.boolean({ required: false, description: 'Interfaces attached to a topology (true) or detached ones (false)' }),
      (value) => ({ topologyId: value ? { not: null } : null }),
    ),
    createdFrom: atLeast('createdAt', 'DateTime', 'Inclusive'),
    createdTo: below('createdAt', 'DateTime', 'Exclusive'),
  },
  orderBy: { NODE: 'nodeId', INTERFACE_NAME: 'interfaceName', INTERFACE_TYPE: 'interfaceType', STATUS: 'status', SPEED_MBPS: 'speedMbps', CREATED_AT: 'createdAt' },
  defaultOrder: ['NODE', 'asc'],
  // A node's interfaces are unique by name: by node, then name, then id.
  tieBreakers: ['interfaceName', 'id'],
});

const topologyFields = (required: boolean) =>
  builder.inputType(required ? 'CreateNetworkTopologyInput' : 'UpdateNetworkTopologyInput', {
    fields: (t) => ({
      topologyName: t.string({ required }),
      networkType: t.field({ type: NetworkTypeEnum, required }),
      subnet: t.string({ required, description: 'CIDR notation; must not overlap another topology of the tenant' }),
      vlanId: t.int({ required: false }),
      bandwidthMbps: t.int({ required }),
      latencyMs: t.float({ required: false }),
      mtu: t.int({ required: false }),
      qosPolicies: t.field({ type: 'JSON', required: false }),
      securityPolicies: t.field({ type: 'JSON', required: false }),
    }),
  });

const CreateNetworkTopologyInput = topologyFields(true);
const UpdateNetworkTopologyInput = topologyFields(false);

builder.queryFields((t) => ({
  networkTopologies: t.prismaConnection({
    type: 'NetworkTopology',
    cursor: 'id',
    description: "The tenant's network topologies, by name unless ordered otherwise",
    authScopes: { permission: 'cluster:read' },
    args: { filter: t.arg({ type: topologyList.Filter, required: false }), orderBy: t.arg({ type: [topologyList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(async () => {
        const filter = await ctx.services.network.resolveContainedAddresses(tenantOf(ctx), args.filter, MAX_FILTER_DEPTH);
        return ctx.prisma.networkTopology.count({ where: topologyList.where({ tenantId: tenantOf(ctx) }, filter) });
      }),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(async () => {
        const tenantId = tenantOf(ctx);
        const filter = await ctx.services.network.resolveContainedAddresses(tenantId, args.filter, MAX_FILTER_DEPTH);
        const rows = await ctx.prisma.networkTopology.findMany(topologyList.page(query, { tenantId }, { ...args, filter }));
        return ctx.services.network.withSubnets(tenantId, rows);
      }),
  }),
  networkTopology: t.prismaField({
    type: 'NetworkTopology',
    nullable: true,
    authScopes: { permission: 'cluster:read' },
    args: { id: t.arg.globalID({ required: true, for: NetworkTopologyRef }) },
    resolve: async (query, _root, args, ctx) => {
      const row = await ctx.prisma.networkTopology.findFirst({ ...query, where: { id: args.id.id, tenantId: tenantOf(ctx) } });
      return row ? (await ctx.services.network.withSubnets(tenantOf(ctx), [row]))[0]! : null;
    },
  }),
  networkInterfaces: t.prismaConnection({
    type: 'NodeNetworkInterface',
    cursor: 'id',
    description: "The tenant's node network interfaces, by node then name unless ordered otherwise",
    authScopes: { permission: 'cluster:read' },
    args: { filter: t.arg({ type: interfaceList.Filter, required: false }), orderBy: t.arg({ type: [interfaceList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.nodeNetworkInterface.count({ where: interfaceList.where({ tenantId: tenantOf(ctx) }, args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(async () => {
        const tenantId = tenantOf(ctx);
        const rows = await ctx.prisma.nodeNetworkInterface.findMany(interfaceList.page(query, { tenantId }, args));
        return ctx.services.network.withMacAddresses(tenantId, rows);
      }),
  }),
}));

builder.mutationFields((t) => ({
  createNetworkTopology: t.field({
    type: NetworkTopologyRef,
    description: 'Creates a network topology; its subnet may not overlap another of the tenant',
    authScopes: { permission: 'cluster:write' },
    errors: mutationErrors('CreateNetworkTopology', 'topology', [ValidationError, ConflictError]),
    args: { input: t.arg({ type: CreateNetworkTopologyInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.network.createTopology(tenantOf(ctx), compact(args.input)),
  }),
  updateNetworkTopology: t.field({
    type: NetworkTopologyRef,
    authScopes: { permission: 'cluster:write' },
    errors: mutationErrors('UpdateNetworkTopology', 'topology', [ValidationError, NotFoundError, ConflictError]),
    args: {
      id: t.arg.globalID({ required: true, for: NetworkTopologyRef }),
      input: t.arg({ type: UpdateNetworkTopologyInput, required: true }),
    },
    resolve: (_root, args, ctx) => ctx.services.network.updateTopology(tenantOf(ctx), args.id.id, args.input),
  }),
  deleteNetworkTopology: t.field({
    type: 'ID',
    description: 'Deletes a topology; its interfaces stay, detached',
    authScopes: { permission: 'cluster:write' },
    errors: mutationErrors('DeleteNetworkTopology', 'deletedId', [NotFoundError]),
    args: { id: t.arg.globalID({ required: true, for: NetworkTopologyRef }) },
    resolve: async (_root, args, ctx) => {
      await ctx.services.network.deleteTopology(tenantOf(ctx), args.id.id);
      return encodeGlobalID('NetworkTopology', args.id.id);
    },
  }),
}));
