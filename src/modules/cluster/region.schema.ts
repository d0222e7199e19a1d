import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { ConflictError, ForbiddenError, NotFoundError, ResourceInUseError, ValidationError } from '../shared/errors.js';
import { compact, enumValues } from '../shared/graphql.js';
import { anyOf, atLeast, below, defineList, equals, textSearch } from '../shared/list-query.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';
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

const regionList = defineList({
  name: 'Region',
  filter: {
    status: anyOf(RegionStatusEnum),
    provider: equals('String'),
    providerIn: anyOf('String', 'provider', 'Regions of any of these providers'),
    search: textSearch(['code', 'name', 'location'], 'Case-insensitive text contained in the code, name or location'),
    createdFrom: atLeast('createdAt', 'DateTime', 'Inclusive'),
    createdTo: below('createdAt', 'DateTime', 'Exclusive'),
  },
  orderBy: { CODE: 'code', NAME: 'name', PROVIDER: 'provider', STATUS: 'status', CREATED_AT: 'createdAt' },
  defaultOrder: ['CODE', 'asc'],
  tieBreakers: ['id'],
});

builder.queryFields((t) => ({
  regions: t.prismaConnection({
    type: 'Region',
    cursor: 'id',
    description: 'Regions, by code unless ordered otherwise',
    authScopes: { permission: 'cluster:read' },
    args: { filter: t.arg({ type: regionList.Filter, required: false }), orderBy: t.arg({ type: [regionList.Order], required: false }) },
    totalCount: (_root, args, ctx) => withGraphQLErrors(() => ctx.prisma.region.count({ where: regionList.where({}, args.filter) })),
    resolve: (query, _root, args, ctx) => withGraphQLErrors(() => ctx.prisma.region.findMany(regionList.page(query, {}, args))),
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
