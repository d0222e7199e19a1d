import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { ConflictError, ForbiddenError, NotFoundError, ResourceInUseError, ValidationError } from '../shared/errors.js';
import { compact, enumValues } from '../shared/graphql.js';
import { mutationErrors } from '../shared/graphql-errors.js';
import { REGION_STATUSES } from './region.validation.js';

export { REGION_STATUSES };

export const RegionStatusEnum = builder.enumType('RegionStatus', { values: enumValues(REGION_STATUSES) });

export const RegionRef = builder.prismaNode('Region', {
  description: 'A cloud or data-centre region nodes run in; shared by every tenant',
  id: { field: 'id' },
  fields: (t) => ({
    code: t.exposeString('code'),
    name: t.exposeString('name'),
    provider: t.exposeString('provider'),
    location: t.exposeString('location', { nullable: true }),
    status: t.field({ type: RegionStatusEnum, resolve: (region) => region.status as never }),
    metadata: t.expose('metadata', { type: 'JSON' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const RegionFilter = builder.inputType('RegionFilter', {
  fields: (t) => ({
    status: t.field({ type: [RegionStatusEnum], required: false }),
    provider: t.string({ required: false }),
  }),
});

builder.queryFields((t) => ({
  regions: t.prismaConnection({
    type: 'Region',
    cursor: 'id',
    description: 'Regions, by code',
    authScopes: { permission: 'cluster:read' },
    args: { filter: t.arg({ type: RegionFilter, required: false }) },
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.region.findMany({
        ...query,
        where: {
          ...(args.filter?.status?.length ? { status: { in: args.filter.status } } : {}),
          ...(args.filter?.provider ? { provider: args.filter.provider } : {}),
        },
        orderBy: [{ code: 'asc' }, { id: 'asc' }],
      }),
  }),
}));

const CreateRegionInput = builder.inputType('CreateRegionInput', {
  fields: (t) => ({
    code: t.string({ required: true, description: 'Unique, e.g. us-east-1' }),
    name: t.string({ required: true }),
    provider: t.string({ required: true }),
    location: t.string({ required: false }),
    status: t.field({ type: RegionStatusEnum, required: false, description: 'ACTIVE unless given' }),
    metadata: t.field({ type: 'JSON', required: false }),
  }),
});

const UpdateRegionInput = builder.inputType('UpdateRegionInput', {
  description: 'Fields to change; location given as null is cleared',
  fields: (t) => ({
    name: t.string({ required: false }),
    provider: t.string({ required: false }),
    location: t.string({ required: false }),
    status: t.field({ type: RegionStatusEnum, required: false }),
    metadata: t.field({ type: 'JSON', required: false }),
  }),
});

builder.mutationFields((t) => ({
  createRegion: t.field({
    type: RegionRef,
    description: 'For administrators of the platform tenant: a region every tenant can place nodes in',
    authScopes: { permission: 'cluster:write' },
    errors: mutationErrors('CreateRegion', 'region', [ValidationError, ConflictError, ForbiddenError]),
    args: { input: t.arg({ type: CreateRegionInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.regions.createRegion(ctx.principal!, compact(args.input)),
  }),
  updateRegion: t.field({
    type: RegionRef,
    description: 'For administrators of the platform tenant',
    authScopes: { permission: 'cluster:write' },
    errors: mutationErrors('UpdateRegion', 'region', [ValidationError, NotFoundError, ForbiddenError]),
    args: { id: t.arg.globalID({ required: true, for: RegionRef }), input: t.arg({ type: UpdateRegionInput, required: true }) },
    resolve: (_root, args, ctx) => {
      const { location, ...rest } = args.input;
      return ctx.services.regions.updateRegion(ctx.principal!, args.id.id, { ...compact(rest), ...(location !== undefined ? { location } : {}) });
    },
  }),
  deleteRegion: t.field({
    type: 'ID',
    description: 'For administrators of the platform tenant: removes a region no node or environment is in',
    authScopes: { permission: 'cluster:write' },
    errors: mutationErrors('DeleteRegion', 'deletedId', [NotFoundError, ResourceInUseError, ForbiddenError]),
    args: { id: t.arg.globalID({ required: true, for: RegionRef }) },
    resolve: async (_root, args, ctx) => encodeGlobalID('Region', await ctx.services.regions.deleteRegion(ctx.principal!, args.id.id)),
  }),
}));
