import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../shared/errors.js';
import { compact } from '../shared/graphql.js';
import { anyOf, atLeast, below, custom, defineList, enumGroup, equals, escapeLike, idIn, idIs, jsonContains, textSearch, uuidIn, uuidIs } from '../shared/list-query.js';
import {
  ApiKeyRef,
  ApiKeyStatusEnum,
  EnvironmentNameEnum,
  EnvironmentRef,
  LoginAttemptRef,
  RoleEnum,
  SecurityEventRef,
  TenantRef,
  TenantStatusEnum,
  UserRef,
  UserStatusEnum,
} from './identity-types.schema.js';
import { filterIpAddress } from './identity.validation.js';
import { PERMISSIONS } from './permissions.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';

const userList = defineList({
  name: 'User',
  filter: {
    role: anyOf(RoleEnum, undefined, 'Users with any of these roles'),
    status: anyOf(UserStatusEnum, undefined, 'Users in any of these states'),
    idIn: idIn(UserRef, 'id', 'Any of these users'),
    search: custom(
      (t) => t.string({ required: false, description: 'Case-insensitive text contained in username, email or fullName' }),
      (value) => {
        const contains = { contains: escapeLike(value as string), mode: 'insensitive' };
        // A missing full name is a non-match rather than unknown, so `not` keeps users without one.
        return { OR: [{ username: contains }, { email: contains }, { fullName: { not: null, ...contains } }] };
      },
    ),
    createdAfter: atLeast('createdAt', 'DateTime', 'Inclusive'),
    createdBefore: below('createdAt', 'DateTime', 'Exclusive'),
    lastLoginAfter: atLeast('lastLogin', 'DateTime', 'Inclusive'),
    lastLoginBefore: below('lastLogin', 'DateTime', 'Exclusive'),
  },
  orderBy: {
    CREATED_AT: 'createdAt',
    USERNAME: 'username',
    EMAIL: 'email',
    ROLE: 'role',
    STATUS: 'status',
    LAST_LOGIN: { column: 'lastLogin', nulls: 'last' },
  },
  defaultOrder: ['CREATED_AT', 'asc'],
  tieBreakers: ['seq', 'id'],
  groupBy: { ROLE: enumGroup('role'), STATUS: enumGroup('status') },
});

const apiKeyList = defineList({
  name: 'ApiKey',
  filter: {
    status: anyOf(ApiKeyStatusEnum, undefined, 'Keys in any of these states'),
    environmentId: idIs(EnvironmentRef, 'environmentId'),
    environmentIdIn: idIn(EnvironmentRef, 'environmentId', 'Keys of any of these environments'),
    createdBy: idIs(UserRef, 'createdById', 'Keys this user created'),
    search: textSearch(['name', 'keyPrefix']),
    createdAfter: atLeast('createdAt', 'DateTime', 'Inclusive'),
    createdBefore: below('createdAt', 'DateTime', 'Exclusive'),
    expiresAfter: atLeast('expiresAt', 'DateTime', 'Inclusive; keys that never expire do not match'),
    expiresBefore: below('expiresAt', 'DateTime', 'Exclusive; keys that never expire do not match'),
    lastUsedAfter: atLeast('lastUsedAt', 'DateTime', 'Inclusive; keys never used do not match'),
    lastUsedBefore: below('lastUsedAt', 'DateTime', 'Exclusive; keys never used do not match'),
  },
  orderBy: {
    CREATED_AT: 'createdAt',
    NAME: 'name',
    STATUS: 'status',
    LAST_USED_AT: { column: 'lastUsedAt', nulls: 'last' },
    EXPIRES_AT: { column: 'expiresAt', nulls: 'last' },
  },
  defaultOrder: ['CREATED_AT', 'desc'],
  tieBreakers: ['seq', 'id'],
});

const ipAddress = (description: string) =>
  custom(
    (t) => t.string({ required: false, description }),
    (value, path) => ({ ipAddress: filterIpAddress(value, path) }),
  );

const securityEventList = defineList({
  name: 'SecurityEvent',
  filter: {
    eventType: anyOf('String', undefined, 'Events of any of these types'),
    userId: uuidIs(undefined, 'The user UUID'),
    userIdIn: uuidIn('userId', 'Events of any of these users (UUIDs)'),
    username: equals('String', undefined, 'Events naming exactly this username'),
    usernameContains: textSearch(['username']),
    ipAddress: ipAddress('Events from this IP address'),
    details: jsonContains('details'),
    from: atLeast('timestamp', 'DateTime', 'Inclusive'),
    to: below('timestamp', 'DateTime', 'Exclusive'),
  },
  orderBy: { TIMESTAMP: 'timestamp', EVENT_TYPE: 'eventType', USERNAME: { column: 'username', nulls: 'last' } },
  defaultOrder: ['TIMESTAMP', 'desc'],
  tieBreakers: ['seq', 'id'],
});

const loginAttemptList = defineList({
  name: 'LoginAttempt',
  filter: {
    username: equals('String', undefined, 'Attempts with exactly this login name'),
    usernameContains: textSearch(['username']),
    success: equals('Boolean'),
    userId: uuidIs(undefined, 'The user UUID'),
    ipAddress: ipAddress('Attempts from this IP address'),
    failureReason: anyOf('String', undefined, 'Failed attempts with any of these reasons'),
    from: atLeast('timestamp', 'DateTime', 'Inclusive'),
    to: below('timestamp', 'DateTime', 'Exclusive'),
  },
  orderBy: { TIMESTAMP: 'timestamp', USERNAME: 'username', SUCCESS: 'success' },
  defaultOrder: ['TIMESTAMP', 'desc'],
  tieBreakers: ['seq', 'id'],
});

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
    description: "The tenant's users, oldest first unless ordered otherwise",
    authScopes: { permission: 'identity:read' },
    args: { filter: t.arg({ type: userList.Filter, required: false }), orderBy: t.arg({ type: [userList.Order], required: false }) },
    totalCount: (_root, args, ctx) => withGraphQLErrors(() => ctx.prisma.user.count({ where: userList.where({ tenantId: tenantOf(ctx) }, args.filter) })),
    resolve: (query, _root, args, ctx) => withGraphQLErrors(() => ctx.prisma.user.findMany(userList.page(query, { tenantId: tenantOf(ctx) }, args))),
  }),
  apiKeys: t.prismaConnection({
    type: ApiKeyRef,
    cursor: 'id',
    description: "The tenant's API keys for administrators; the caller's own keys for everyone else",
    authScopes: { authenticated: true },
    args: { filter: t.arg({ type: apiKeyList.Filter, required: false }), orderBy: t.arg({ type: [apiKeyList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.apiKey.count({ where: apiKeyList.where(ctx.services.apiKeys.visibleTo(ctx.principal!), args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.apiKey.findMany(apiKeyList.page(query, ctx.services.apiKeys.visibleTo(ctx.principal!), args))),
  }),
  securityEvents: t.prismaConnection({
    type: SecurityEventRef,
    cursor: 'id',
    description: "The tenant's security events, newest first unless ordered otherwise",
    authScopes: { permission: 'security:read' },
    args: { filter: t.arg({ type: securityEventList.Filter, required: false }), orderBy: t.arg({ type: [securityEventList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.securityEvent.count({ where: securityEventList.where({ tenantId: tenantOf(ctx) }, args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.securityEvent.findMany(securityEventList.page(query, { tenantId: tenantOf(ctx) }, args))),
  }),
  loginAttempts: t.prismaConnection({
    type: LoginAttemptRef,
    cursor: 'id',
    description: "The tenant's sign-in attempts, newest first unless ordered otherwise",
    authScopes: { permission: 'security:read' },
    args: { filter: t.arg({ type: loginAttemptList.Filter, required: false }), orderBy: t.arg({ type: [loginAttemptList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.loginAttempt.count({ where: loginAttemptList.where({ tenantId: tenantOf(ctx) }, args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.loginAttempt.findMany(loginAttemptList.page(query, { tenantId: tenantOf(ctx) }, args))),
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

userList.countsQuery('userCounts', {
  description: "How many of the tenant's users (matching the filter) share each role or status",
  authScopes: { permission: 'identity:read' },
  rows: (ctx) => [ctx.prisma.user, { tenantId: tenantOf(ctx) }],
});
