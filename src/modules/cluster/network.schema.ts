import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import { compact, enumValues } from '../shared/graphql.js';
import { INTERFACE_STATUSES, INTERFACE_TYPES, NETWORK_TYPES } from './network.validation.js';
import { mutationErrors } from '../shared/graphql-errors.js';

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

const NetworkTopologyFilter = builder.inputType('NetworkTopologyFilter', {
  fields: (t) => ({
    networkType: t.field({ type: [NetworkTypeEnum], required: false }),
    containsAddress: t.string({ required: false, description: 'Topologies whose subnet contains this IP address' }),
  }),
});

const NetworkInterfaceFilter = builder.inputType('NetworkInterfaceFilter', {
  fields: (t) => ({
    nodeId: t.globalID({ required: false, description: 'A ClusterNode id' }),
    topologyId: t.globalID({ required: false, for: NetworkTopologyRef }),
    interfaceType: t.field({ type: [InterfaceTypeEnum], required: false }),
    status: t.field({ type: [InterfaceStatusEnum], required: false }),
  }),
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

const NO_ROW = '00000000-0000-0000-0000-000000000000';

builder.queryFields((t) => ({
  networkTopologies: t.prismaConnection({
    type: 'NetworkTopology',
    cursor: 'id',
    description: "The tenant's network topologies, by name",
    authScopes: { permission: 'cluster:read' },
    args: { filter: t.arg({ type: NetworkTopologyFilter, required: false }) },
    totalCount: async (_root, args, ctx) =>
      ctx.prisma.networkTopology.count({ where: await ctx.services.network.topologyWhere(tenantOf(ctx), compact(args.filter ?? {})) }),
    resolve: async (query, _root, args, ctx) => {
      const tenantId = tenantOf(ctx);
      const where = await ctx.services.network.topologyWhere(tenantId, compact(args.filter ?? {}));
      const rows = await ctx.prisma.networkTopology.findMany({ ...query, where, orderBy: [{ topologyName: 'asc' }, { id: 'asc' }] });
      return ctx.services.network.withSubnets(tenantId, rows);
    },
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
    description: "The tenant's node network interfaces, by node then name",
    authScopes: { permission: 'cluster:read' },
    args: { filter: t.arg({ type: NetworkInterfaceFilter, required: false }) },
    resolve: async (query, _root, args, ctx) => {
      const tenantId = tenantOf(ctx);
      const filter = args.filter ?? {};
      // An id of another type matches nothing rather than failing the listing.
      const nodeId = filter.nodeId ? (filter.nodeId.typename === 'ClusterNode' ? filter.nodeId.id : NO_ROW) : undefined;
      const rows = await ctx.prisma.nodeNetworkInterface.findMany({
        ...query,
        where: ctx.services.network.interfaceWhere(tenantId, {
          nodeId,
          topologyId: filter.topologyId?.id,
          interfaceType: filter.interfaceType ?? undefined,
          status: filter.status ?? undefined,
        }),
        orderBy: [{ nodeId: 'asc' }, { interfaceName: 'asc' }, { id: 'asc' }],
      });
      return ctx.services.network.withMacAddresses(tenantId, rows);
    },
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
