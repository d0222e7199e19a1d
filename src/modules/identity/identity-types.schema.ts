import { builder } from '../../builder.js';
import { enumValues } from '../shared/graphql.js';
import { ROLES } from './permissions.js';


export const RoleEnum = builder.enumType('Role', { values: enumValues(ROLES) });
export const UserStatusEnum = builder.enumType('UserStatus', { values: enumValues(['active', 'inactive', 'suspended'] as const) });
export const TenantStatusEnum = builder.enumType('TenantStatus', { values: enumValues(['active', 'suspended', 'deleted'] as const) });
export const EnvironmentNameEnum = builder.enumType('EnvironmentName', { values: enumValues(['dev', 'staging', 'prod'] as const) });
export const ApiKeyStatusEnum = builder.enumType('ApiKeyStatus', { values: enumValues(['active', 'revoked'] as const) });

export const TenantRef = builder.prismaNode('Tenant', {
  id: { field: 'id' },
  fields: (t) => ({
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    status: t.field({ type: TenantStatusEnum, resolve: (tenant) => tenant.status as never }),
    billingEmail: t.exposeString('billingEmail', { nullable: true }),
    billingPlan: t.exposeString('billingPlan'),
    isPlatform: t.exposeBoolean('isPlatform'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    environments: t.relation('environments', { query: { orderBy: { name: 'asc' } } }),
  }),
});

export const EnvironmentRef = builder.prismaNode('Environment', {
  id: { field: 'id' },
  fields: (t) => ({
    name: t.field({ type: EnvironmentNameEnum, resolve: (environment) => environment.name as never }),
    quotas: t.expose('quotas', { type: 'JSON' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const UserRef = builder.prismaNode('User', {
  id: { field: 'id' },
  fields: (t) => ({
    username: t.exposeString('username'),
    email: t.exposeString('email'),
    fullName: t.exposeString('fullName', { nullable: true }),
    role: t.field({ type: RoleEnum, resolve: (user) => user.role as never }),
    status: t.field({ type: UserStatusEnum, resolve: (user) => user.status as never }),
    lastLogin: t.expose('lastLogin', { type: 'DateTime', nullable: true }),
    preferences: t.expose('preferences', { type: 'JSON' }),
    quotaCpuHours: t.float({ resolve: (user) => user.quotaCpuHours.toNumber() }),
    quotaMemoryGbHours: t.float({ resolve: (user) => user.quotaMemoryGbHours.toNumber() }),
    quotaStorageGb: t.float({ resolve: (user) => user.quotaStorageGb.toNumber() }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const ApiKeyRef = builder.prismaNode('ApiKey', {
  id: { field: 'id' },
  fields: (t) => ({
    name: t.exposeString('name'),
    prefix: t.exposeString('keyPrefix', { description: 'The public start of the key, to recognise it; the secret is never shown again' }),
    scopes: t.exposeStringList('scopes'),
    rateLimitPerMinute: t.exposeInt('rateLimitPerMinute'),
    status: t.field({ type: ApiKeyStatusEnum, resolve: (key) => key.status as never }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    environment: t.relation('environment'),
  }),
});

export const SecurityEventRef = builder.prismaNode('SecurityEvent', {
  id: { field: 'id' },
  fields: (t) => ({
    eventType: t.exposeString('eventType'),
    userId: t.exposeString('userId', { nullable: true }),
    username: t.exposeString('username', { nullable: true }),
    ipAddress: t.exposeString('ipAddress', { nullable: true }),
    userAgent: t.exposeString('userAgent', { nullable: true }),
    details: t.expose('details', { type: 'JSON' }),
    timestamp: t.expose('timestamp', { type: 'DateTime' }),
  }),
});

export const LoginAttemptRef = builder.prismaNode('LoginAttempt', {
  id: { field: 'id' },
  fields: (t) => ({
    username: t.exposeString('username'),
    userId: t.exposeString('userId', { nullable: true }),
    ipAddress: t.exposeString('ipAddress'),
    userAgent: t.exposeString('userAgent', { nullable: true }),
    success: t.exposeBoolean('success'),
    failureReason: t.exposeString('failureReason', { nullable: true }),
    timestamp: t.expose('timestamp', { type: 'DateTime' }),
  }),
});
