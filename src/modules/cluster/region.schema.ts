import { builder } from '../../builder.js';
import { enumValues } from '../shared/graphql.js';

export const REGION_STATUSES = ['active', 'degraded', 'offline'] as const;

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
