import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../shared/errors.js';
import { compact } from '../shared/graphql.js';
import { ApiKeyRef, EnvironmentNameEnum, EnvironmentRef, LoginAttemptRef, RoleEnum, SecurityEventRef, TenantRef, TenantStatusEnum, UserRef, UserStatusEnum } from './identity-types.schema.js';
import { PERMISSIONS } from './permissions.js';
import { mutationErrors } from '../shared/graphql-errors.js';


const UserFilter = builder.inputType('UserFilter', {
  fields: (t) => ({ role: t.field({ type: [RoleEnum], required: false }), status: t.field({ type: [UserStatusEnum], required: false }) }),
});

const SecurityEventFilter = builder.inputType('SecurityEventFilter', {
  fields: (t) => ({
    eventType: t.stringList({ required: false }),
    userId: t.string({ required: false, description: 'The user UUID' }),
    from: t.field({ type: 'DateTime', required: false }),
    to: t.field({ type: 'DateTime', required: false }),
  }),
});

const LoginAttemptFilter = builder.inputType('LoginAttemptFilter', {
  fields: (t) => ({
    username: t.string({ required: false }),
    success: t.boolean({ required: false }),
    from: t.field({ type: 'DateTime', required: false }),
    to: t.field({ type: 'DateTime', required: false }),
  }),
});

const timeRange = (from?: Date | null, to?: Date | null) => (from || to ? { timestamp: { ...(from ? { gte: from } : {}), ...(to ? { lt: to } : {}) } } : {});

builder.queryFields((t) => ({
  tenant: t.prismaField({
    type: TenantRef,
    description: "The caller's tenant",
    authScopes: { authenticated: true },
    resolve: (query, _root, _args, ctx) => ctx.prisma.tenant.findUniqueOrThrow({ ...query, where: { id: tenantOf(ctx) } }),
  }),
  users: t.prismaConnection({
    type: UserRef,
    cursor: 'id',
    authScopes: { permission: 'identity:read' },
    args: { filter: t.arg({ type: UserFilter, required: false }) },
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.user.findMany({
        ...query,
        where: {
          tenantId: tenantOf(ctx),
          ...(args.filter?.role?.length ? { role: { in: args.filter.role } } : {}),
          ...(args.filter?.status?.length ? { status: { in: args.filter.status } } : {}),
        },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      }),
  }),
  apiKeys: t.prismaConnection({
    type: ApiKeyRef,
    cursor: 'id',
    description: "The tenant's API keys for administrators; the caller's own keys for everyone else",
    authScopes: { authenticated: true },
    resolve: (query, _root, _args, ctx) =>
      ctx.prisma.apiKey.findMany({
        ...query,
        where: { tenantId: tenantOf(ctx), ...(ctx.principal!.role === 'admin' ? {} : { createdById: ctx.principal!.userId ?? '' }) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      }),
  }),
  securityEvents: t.prismaConnection({
    type: SecurityEventRef,
    cursor: 'id',
    authScopes: { permission: 'security:read' },
    args: { filter: t.arg({ type: SecurityEventFilter, required: false }) },
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.securityEvent.findMany({
        ...query,
        where: {
          tenantId: tenantOf(ctx),
          ...(args.filter?.eventType?.length ? { eventType: { in: args.filter.eventType } } : {}),
          ...(args.filter?.userId ? { userId: args.filter.userId } : {}),
          ...timeRange(args.filter?.from, args.filter?.to),
        },
        orderBy: [{ timestamp: 'desc' }, { id: 'desc' }],
      }),
  }),
  loginAttempts: t.prismaConnection({
    type: LoginAttemptRef,
    cursor: 'id',
    authScopes: { permission: 'security:read' },
    args: { filter: t.arg({ type: LoginAttemptFilter, required: false }) },
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.loginAttempt.findMany({
        ...query,
        where: {
          tenantId: tenantOf(ctx),
          ...(args.filter?.username ? { username: args.filter.username } : {}),
          ...(typeof args.filter?.success === 'boolean' ? { success: args.filter.success } : {}),
          ...timeRange(args.filter?.from, args.filter?.to),
        },
        orderBy: [{ timestamp: 'desc' }, { id: 'desc' }],
      }),
  }),
}));

const CreateTenantAdminInput = builder.inputType('CreateTenantAdminInput', {
  fields: (t) => ({
    username: t.string({ required: true }),
    email: t.string({ required: true }),
    password: t.string({ required: true }),
    fullName: t.string({ required: false }),
  }),
});

const CreateTenantInput = builder.inputType('CreateTenantInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    slug: t.string({ required: true }),
    billingEmail: t.string({ required: false }),
    admin: t.field({ type: CreateTenantAdminInput, required: true }),
  }),
});

const UpdateTenantInput = builder.inputType('UpdateTenantInput', {
  fields: (t) => ({
    name: t.string({ required: false }),
    billingEmail: t.string({ required: false }),
    status: t.field({ type: TenantStatusEnum, required: false }),
  }),
});

const quotaFields = {
  quotaCpuHours: { required: false },
  quotaMemoryGbHours: { required: false },
  quotaStorageGb: { required: false },
} as const;

const CreateUserInput = builder.inputType('CreateUserInput', {
  fields: (t) => ({
    username: t.string({ required: true }),
    email: t.string({ required: true }),
    fullName: t.string({ required: false }),
    role: t.field({ type: RoleEnum, required: true }),
    password: t.string({ required: false, description: 'Omit to let the user set one through a reset token' }),
    preferences: t.field({ type: 'JSON', required: false }),
    quotaCpuHours: t.float(quotaFields.quotaCpuHours),
    quotaMemoryGbHours: t.float(quotaFields.quotaMemoryGbHours),
    quotaStorageGb: t.float(quotaFields.quotaStorageGb),
  }),
});

const UpdateUserInput = builder.inputType('UpdateUserInput', {
  fields: (t) => ({
    fullName: t.string({ required: false }),
    role: t.field({ type: RoleEnum, required: false }),
    status: t.field({ type: UserStatusEnum, required: false }),
    preferences: t.field({ type: 'JSON', required: false }),
    quotaCpuHours: t.float(quotaFields.quotaCpuHours),
    quotaMemoryGbHours: t.float(quotaFields.quotaMemoryGbHours),
    quotaStorageGb: t.float(quotaFields.quotaStorageGb),
  }),
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    environmentId: t.globalID({ required: true, for: EnvironmentRef }),
    scopes: t.stringList({ required: true, description: `Permissions the key carries, within your own: ${PERMISSIONS.join(', ')}` }),
    rateLimitPerMinute: t.int({ required: false }),
    expiresAt: t.field({ type: 'DateTime', required: false }),
  }),
});

const CreatedApiKey = builder.objectRef<{ apiKey: { id: string }; secret: string }>('CreatedApiKey').implement({
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, resolve: (created) => created.apiKey as never }),
    secret: t.exposeString('secret', { description: 'The whole key; shown this once and never again' }),
  }),
});

interface ProvisionedTenantShape {
  id: string;
  name: string;
  slug: string;
  environments: { id: string; name: string }[];
  admin: { id: string; username: string; email: string };
}

/** Another tenant, as its creator sees it once: row-level security keeps its rows out of the creator's reach. */
const ProvisionedTenant = builder.objectRef<ProvisionedTenantShape>('ProvisionedTenant').implement({
  fields: (t) => ({
    id: t.id({ resolve: (tenant) => encodeGlobalID('Tenant', tenant.id) }),
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    environments: t.field({ type: [EnvironmentNameEnum], resolve: (tenant) => tenant.environments.map((environment) => environment.name as never) }),
    adminUsername: t.string({ resolve: (tenant) => tenant.admin.username }),
    adminEmail: t.string({ resolve: (tenant) => tenant.admin.email }),
  }),
});

builder.mutationFields((t) => ({
  createTenant: t.field({
    type: ProvisionedTenant,
    description: 'For administrators of the platform tenant: a new tenant with dev, staging and prod environments and its first admin',
    authScopes: { permission: 'identity:write' },
    errors: mutationErrors('CreateTenant', 'tenant', [ValidationError, ConflictError, ForbiddenError]),
    args: { input: t.arg({ type: CreateTenantInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.identityAdmin.createTenant(ctx.principal!, { ...compact(args.input), admin: compact(args.input.admin) }, ctx.client),
  }),
  updateTenant: t.field({
    type: TenantRef,
    authScopes: { permission: 'identity:write' },
    errors: mutationErrors('UpdateTenant', 'tenant', [ValidationError, NotFoundError, ForbiddenError]),
    args: { id: t.arg.globalID({ required: true, for: TenantRef }), input: t.arg({ type: UpdateTenantInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.identityAdmin.updateTenant(ctx.principal!, args.id.id, compact(args.input)),
  }),
  createEnvironment: t.field({
    type: EnvironmentRef,
    authScopes: { permission: 'identity:write' },
    errors: mutationErrors('CreateEnvironment', 'environment', [ValidationError, ConflictError]),
    args: { name: t.arg({ type: EnvironmentNameEnum, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.identityAdmin.createEnvironment(ctx.principal!, args.name),
  }),
  createUser: t.field({
    type: UserRef,
    authScopes: { permission: 'identity:write' },
    errors: mutationErrors('CreateUser', 'user', [ValidationError, ConflictError]),
    args: { input: t.arg({ type: CreateUserInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.identityAdmin.createUser(ctx.principal!, compact(args.input), ctx.client),
  }),
  updateUser: t.field({
    type: UserRef,
    authScopes: { permission: 'identity:write' },
    errors: mutationErrors('UpdateUser', 'user', [ValidationError, NotFoundError, ForbiddenError]),
    args: { id: t.arg.globalID({ required: true, for: UserRef }), input: t.arg({ type: UpdateUserInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.identityAdmin.updateUser(ctx.principal!, args.id.id, compact(args.input), ctx.client),
  }),
  createApiKey: t.field({
    type: CreatedApiKey,
    authScopes: { permission: 'apikeys:write' },
    errors: mutationErrors('CreateApiKey', 'created', [ValidationError, NotFoundError]),
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.apiKeys.create(ctx.principal!, { ...compact(args.input), environmentId: args.input.environmentId.id }, ctx.client),
  }),
  revokeApiKey: t.field({
    type: ApiKeyRef,
    authScopes: { permission: 'apikeys:write' },
    errors: mutationErrors('RevokeApiKey', 'apiKey', [NotFoundError]),
    args: { id: t.arg.globalID({ required: true, for: ApiKeyRef }) },
    resolve: (_root, args, ctx) => ctx.services.apiKeys.revoke(ctx.principal!, args.id.id, ctx.client),
  }),
}));
