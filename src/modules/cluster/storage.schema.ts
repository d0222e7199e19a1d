import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { ConflictError, InsufficientCapacityError, NotFoundError, ResourceInUseError, ValidationError } from '../shared/errors.js';
import { compact, enumValues } from '../shared/graphql.js';
import { ACCESS_MODES, PERFORMANCE_TIERS, POOL_TYPES } from './storage.validation.js';
import { anyOf, atLeast, atMost, below, custom, defineList, equals, idIn, idIs, idOf as rowIdOf, textSearch } from '../shared/list-query.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';

export const PoolTypeEnum = builder.enumType('StoragePoolType', { values: enumValues(POOL_TYPES) });
export const PerformanceTierEnum = builder.enumType('StoragePerformanceTier', { values: enumValues(PERFORMANCE_TIERS) });
// Access modes keep Kubernetes' spelling in the database; GraphQL gets conventional enum names.
export const AccessModeEnum = builder.enumType('VolumeAccessMode', {
  values: { READ_WRITE_ONCE: { value: ACCESS_MODES[0] }, READ_ONLY_MANY: { value: ACCESS_MODES[1] }, READ_WRITE_MANY: { value: ACCESS_MODES[2] } },
});

export const StoragePoolRef = builder.prismaNode('StoragePool', {
  description: 'Storage capacity that volumes are carved from; used never exceeds total',
  id: { field: 'id' },
  fields: (t) => ({
    poolName: t.exposeString('poolName'),
    poolType: t.field({ type: PoolTypeEnum, resolve: (pool) => pool.poolType as never }),
    totalCapacityGb: t.float({ resolve: (pool) => pool.totalCapacityGb.toNumber() }),
    usedCapacityGb: t.float({ resolve: (pool) => pool.usedCapacityGb.toNumber() }),
    availableCapacityGb: t.float({ resolve: (pool) => pool.totalCapacityGb.minus(pool.usedCapacityGb).toNumber() }),
    replicationFactor: t.exposeInt('replicationFactor'),
    compressionEnabled: t.exposeBoolean('compressionEnabled'),
    encryptionEnabled: t.exposeBoolean('encryptionEnabled'),
    performanceTier: t.field({ type: PerformanceTierEnum, resolve: (pool) => pool.performanceTier as never }),
    nodeIds: t.idList({ description: 'ClusterNode ids of the nodes serving the pool', resolve: (pool) => pool.nodeIds.map((id) => encodeGlobalID('ClusterNode', id)) }),
    policies: t.expose('policies', { type: 'JSON' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    volumes: t.relatedConnection('volumes', {
      cursor: 'id',
      description: 'Live volumes of the pool',
      query: { where: { deletedAt: null }, orderBy: [{ createdAt: 'asc' }, { seq: 'asc' }] },
    }),
  }),
});

export const StorageVolumeRef = builder.prismaNode('StorageVolume', {
  description: 'A volume in a storage pool, optionally mounted by a session',
  id: { field: 'id' },
  fields: (t) => ({
    volumeName: t.exposeString('volumeName'),
    sizeGb: t.float({ resolve: (volume) => volume.sizeGb.toNumber() }),
    mountPath: t.exposeString('mountPath', { nullable: true }),
    accessMode: t.field({ type: AccessModeEnum, resolve: (volume) => volume.accessMode as never }),
    storageClass: t.exposeString('storageClass', { nullable: true }),
    snapshotPolicy: t.exposeString('snapshotPolicy', { nullable: true }),
    backupEnabled: t.exposeBoolean('backupEnabled'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    deletedAt: t.expose('deletedAt', { type: 'DateTime', nullable: true }),
    pool: t.relation('pool'),
  }),
});

const poolList = defineList({
  name: 'StoragePool',
  filter: {
    poolType: anyOf(PoolTypeEnum),
    performanceTier: anyOf(PerformanceTierEnum),
    minAvailableGb: atLeast('availableCapacityGb', 'Float'),
    maxAvailableGb: atMost('availableCapacityGb', 'Float'),
    minTotalCapacityGb: atLeast('totalCapacityGb', 'Float'),
    maxTotalCapacityGb: atMost('totalCapacityGb', 'Float'),
    poolName: textSearch(['poolName']),
    nodeId: custom(
      (t) => t.globalID({ required: false, description: 'Pools served by this ClusterNode' }),
      (value, path) => ({ nodeIds: { has: rowIdOf(value, 'ClusterNode', path) } }),
    ),
    encryptionEnabled: equals('Boolean'),
    compressionEnabled: equals('Boolean'),
    createdFrom: atLeast('createdAt', 'DateTime', 'Inclusive'),
    createdTo: below('createdAt', 'DateTime', 'Exclusive'),
  },
  orderBy: {
    POOL_NAME: 'poolName',
    POOL_TYPE: 'poolType',
    PERFORMANCE_TIER: 'performanceTier',
    TOTAL_CAPACITY_GB: 'totalCapacityGb',
    USED_CAPACITY_GB: 'usedCapacityGb',
    AVAILABLE_CAPACITY_GB: { column: 'availableCapacityGb', nulls: 'last' },
    CREATED_AT: 'createdAt',
  },
  defaultOrder: ['POOL_NAME', 'asc'],
  tieBreakers: ['id'],
});

const volumeList = defineList({
  name: 'StorageVolume',
  filter: {
    poolId: idIs(StoragePoolRef, 'poolId'),
    poolIdIn: idIn(StoragePoolRef, 'poolId'),
    sessionId: idIs('Session', 'sessionId', 'A Session id'),
    sessionIdIn: idIn('Session', 'sessionId', 'Any of these Session ids'),
    includeDeleted: custom(
      (t) => t.boolean({ required: false, description: 'Also list deleted volumes (default false); only at the top level of the filter' }),
      (_value, path) => {
        // It widens the list's scope, which the resolver reads; inside and / or / not it would mean nothing.
        if (path !== 'filter.includeDeleted') throw new ValidationError([{ path, message: 'is only allowed at the top level of the filter' }]);
        return {};
      },
    ),
    volumeName: textSearch(['volumeName']),
    accessMode: anyOf(AccessModeEnum),
    storageClass: anyOf('String', 'storageClass', 'Volumes of any of these storage classes'),
    backupEnabled: equals('Boolean'),
    mounted: custom(
      (t) => t.boolean({ required: false, description: 'Volumes a session mounts (true) or free ones (false)' }),
      (value) => ({ sessionId: value ? { not: null } : null }),
    ),
    minSizeGb: atLeast('sizeGb', 'Float'),
    maxSizeGb: atMost('sizeGb', 'Float'),
    createdFrom: atLeast('createdAt', 'DateTime', 'Inclusive'),
    createdTo: below('createdAt', 'DateTime', 'Exclusive'),
  },
  orderBy: { CREATED_AT: 'createdAt', VOLUME_NAME: 'volumeName', SIZE_GB: 'sizeGb', ACCESS_MODE: 'accessMode', DELETED_AT: { column: 'deletedAt', nulls: 'last' } },
  defaultOrder: ['CREATED_AT', 'desc'],
  tieBreakers: ['seq', 'id'],
});

/** The volumes a list may show: the tenant's live ones, and deleted ones when the filter asks for them. */
const volumeScope = (tenantId: string, filter: Record<string, unknown> | null | undefined) => ({
  tenantId,
  ...(filter?.includeDeleted === true ? {} : { deletedAt: null }),
});

const CreateStoragePoolInput = builder.inputType('CreateStoragePoolInput', {
  fields: (t) => ({
    poolName: t.string({ required: true }),
    poolType: t.field({ type: PoolTypeEnum, required: true }),
    totalCapacityGb: t.float({ required: true }),
    replicationFactor: t.int({ required: false }),
    compressionEnabled: t.boolean({ required: false }),
    encryptionEnabled: t.boolean({ required: false }),
    performanceTier: t.field({ type: PerformanceTierEnum, required: false }),
    nodeIds: t.globalIDList({ required: false, description: 'ClusterNode ids' }),
    policies: t.field({ type: 'JSON', required: false }),
  }),
});

const UpdateStoragePoolInput = builder.inputType('UpdateStoragePoolInput', {
  fields: (t) => ({
    poolName: t.string({ required: false }),
    totalCapacityGb: t.float({ required: false, description: 'May not go below the capacity its volumes use' }),
    compressionEnabled: t.boolean({ required: false }),
    encryptionEnabled: t.boolean({ required: false }),
    performanceTier: t.field({ type: PerformanceTierEnum, required: false }),
    nodeIds: t.globalIDList({ required: false }),
    policies: t.field({ type: 'JSON', required: false }),
  }),
});

const CreateStorageVolumeInput = builder.inputType('CreateStorageVolumeInput', {
  fields: (t) => ({
    poolId: t.globalID({ required: true, for: StoragePoolRef }),
    volumeName: t.string({ required: true }),
    sizeGb: t.float({ required: true, description: "At most the pool's available capacity" }),
    sessionId: t.globalID({ required: false, description: 'A Session id' }),
    mountPath: t.string({ required: false }),
    accessMode: t.field({ type: AccessModeEnum, required: false }),
    storageClass: t.string({ required: false }),
    snapshotPolicy: t.string({ required: false }),
    backupEnabled: t.boolean({ required: false }),
  }),
});

/** Ids of another type than expected are passed on as invalid, so validation names the field. */
const idOf = (value: { typename: string; id: string } | null | undefined, typename: string) =>
  value ? (value.typename === typename ? value.id : `not-a-${typename}-id`) : undefined;

builder.queryFields((t) => ({
  storagePools: t.prismaConnection({
    type: 'StoragePool',
    cursor: 'id',
    description: "The tenant's storage pools, by name unless ordered otherwise",
    authScopes: { permission: 'cluster:read' },
    args: { filter: t.arg({ type: poolList.Filter, required: false }), orderBy: t.arg({ type: [poolList.Order], required: false }) },
    totalCount: (_root, args, ctx) => withGraphQLErrors(() => ctx.prisma.storagePool.count({ where: poolList.where({ tenantId: tenantOf(ctx) }, args.filter) })),
    resolve: (query, _root, args, ctx) => withGraphQLErrors(() => ctx.prisma.storagePool.findMany(poolList.page(query, { tenantId: tenantOf(ctx) }, args))),
  }),
  storagePool: t.prismaField({
    type: 'StoragePool',
    nullable: true,
    authScopes: { permission: 'cluster:read' },
    args: { id: t.arg.globalID({ required: true, for: StoragePoolRef }) },
    resolve: (query, _root, args, ctx) => ctx.prisma.storagePool.findFirst({ ...query, where: { id: args.id.id, tenantId: tenantOf(ctx) } }),
  }),
  storageVolumes: t.prismaConnection({
    type: 'StorageVolume',
    cursor: 'id',
    description: "The tenant's storage volumes, newest first unless ordered otherwise",
    authScopes: { permission: 'cluster:read' },
    args: { filter: t.arg({ type: volumeList.Filter, required: false }), orderBy: t.arg({ type: [volumeList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.storageVolume.count({ where: volumeList.where(volumeScope(tenantOf(ctx), args.filter), args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.storageVolume.findMany(volumeList.page(query, volumeScope(tenantOf(ctx), args.filter), args))),
  }),
}));

builder.mutationFields((t) => ({
  createStoragePool: t.field({
    type: StoragePoolRef,
    authScopes: { permission: 'cluster:write' },
    errors: mutationErrors('CreateStoragePool', 'pool', [ValidationError, ConflictError]),
    args: { input: t.arg({ type: CreateStoragePoolInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.storage.createPool(tenantOf(ctx), {
        ...compact(args.input),
        nodeIds: args.input.nodeIds?.map((id) => idOf(id, 'ClusterNode')),
      }),
  }),
  updateStoragePool: t.field({
    type: StoragePoolRef,
    authScopes: { permission: 'cluster:write' },
    errors: mutationErrors('UpdateStoragePool', 'pool', [ValidationError, NotFoundError, ConflictError]),
    args: { id: t.arg.globalID({ required: true, for: StoragePoolRef }), input: t.arg({ type: UpdateStoragePoolInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.storage.updatePool(tenantOf(ctx), args.id.id, {
        ...compact(args.input),
        nodeIds: args.input.nodeIds?.map((id) => idOf(id, 'ClusterNode')),
      }),
  }),
  deleteStoragePool: t.field({
    type: 'ID',
    description: 'Deletes a pool with no live volumes',
    authScopes: { permission: 'cluster:write' },
    errors: mutationErrors('DeleteStoragePool', 'deletedId', [NotFoundError, ResourceInUseError]),
    args: { id: t.arg.globalID({ required: true, for: StoragePoolRef }) },
    resolve: async (_root, args, ctx) => encodeGlobalID('StoragePool', await ctx.services.storage.deletePool(tenantOf(ctx), args.id.id)),
  }),
  createStorageVolume: t.field({
    type: StorageVolumeRef,
    description: "Creates a volume; refused when it exceeds its pool's available capacity",
    authScopes: { permission: 'cluster:write' },
    errors: mutationErrors('CreateStorageVolume', 'volume', [ValidationError, NotFoundError, ConflictError, InsufficientCapacityError]),
    args: { input: t.arg({ type: CreateStorageVolumeInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.storage.createVolume(tenantOf(ctx), {
        ...compact(args.input),
        poolId: args.input.poolId.id,
        sessionId: idOf(args.input.sessionId, 'Session'),
      }),
  }),
  deleteStorageVolume: t.field({
    type: StorageVolumeRef,
    description: 'Marks a volume deleted and returns its size to the pool',
    authScopes: { permission: 'cluster:write' },
    errors: mutationErrors('DeleteStorageVolume', 'volume', [NotFoundError]),
    args: { id: t.arg.globalID({ required: true, for: StorageVolumeRef }) },
    resolve: (_root, args, ctx) => ctx.services.storage.deleteVolume(tenantOf(ctx), args.id.id),
  }),
}));
