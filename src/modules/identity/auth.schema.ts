import { GraphQLError } from 'graphql';
import { builder } from '../../builder.js';
import type { Context } from '../../context.js';
import { InvalidCredentialError, RateLimitedError, ValidationError } from '../shared/errors.js';
import { compact } from '../shared/graphql.js';
import { PERMISSIONS } from './permissions.js';
import type { TokenPair } from './sign-in-session.service.js';
import { RoleEnum, TenantRef, UserRef, ApiKeyRef } from './identity-types.schema.js';
import { mutationErrors, toGraphQLError } from '../shared/graphql-errors.js';

/** Every credential failure looks the same to the caller; only a correct password learns that TOTP is due. */
async function asCaller<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw error instanceof InvalidCredentialError || error instanceof RateLimitedError ? toGraphQLError(error) : error;
  }
}

const AuthPayload = builder.objectRef<TokenPair>('AuthPayload').implement({
  description: 'A short-lived access token (send as "Authorization: Bearer") and a single-use refresh token',
  fields: (t) => ({
    accessToken: t.exposeString('accessToken'),
    accessTokenExpiresAt: t.expose('accessTokenExpiresAt', { type: 'DateTime' }),
    refreshToken: t.exposeString('refreshToken'),
    refreshTokenExpiresAt: t.expose('refreshTokenExpiresAt', { type: 'DateTime' }),
  }),
});

const TotpEnrollment = builder.objectRef<{ secret: string; uri: string }>('TotpEnrollment').implement({
  description: 'Shown once: add it to an authenticator app, then confirm with a current code',
  fields: (t) => ({ secret: t.exposeString('secret'), uri: t.exposeString('uri', { description: 'otpauth:// URI for a QR code' }) }),
});

const PasswordResetTicket = builder.objectRef<{ token: string; expiresAt: Date }>('PasswordResetTicket').implement({
  description: 'A single-use reset token, shown once, for the administrator to hand to the user',
  fields: (t) => ({ token: t.exposeString('token'), expiresAt: t.expose('expiresAt', { type: 'DateTime' }) }),
});

const Viewer = builder.objectRef<Context['principal'] & object>('Viewer').implement({
  description: 'Who the caller is',
  fields: (t) => ({
    kind: t.string({ resolve: (principal) => (principal.kind === 'apiKey' ? 'API_KEY' : 'USER') }),
    role: t.field({ type: RoleEnum, resolve: (principal) => principal.role }),
    permissions: t.stringList({ resolve: (principal) => PERMISSIONS.filter((permission) => principal.permissions.has(permission)) }),
    tenant: t.prismaField({
      type: TenantRef,
      resolve: (query, principal, _args, ctx) => ctx.prisma.tenant.findUniqueOrThrow({ ...query, where: { id: principal.tenantId } }),
    }),
    user: t.prismaField({
      type: UserRef,
      nullable: true,
      resolve: (query, principal, _args, ctx) => (principal.userId ? ctx.prisma.user.findUnique({ ...query, where: { id: principal.userId } }) : null),
    }),
    apiKey: t.prismaField({
      type: ApiKeyRef,
      nullable: true,
      resolve: (query, principal, _args, ctx) => (principal.apiKeyId ? ctx.prisma.apiKey.findUnique({ ...query, where: { id: principal.apiKeyId } }) : null),
    }),
  }),
});

builder.queryFields((t) => ({
  me: t.field({
    type: Viewer,
    authScopes: { authenticated: true },
    resolve: (_root, _args, ctx) => ctx.principal!,
  }),
}));

const LoginInput = builder.inputType('LoginInput', {
  fields: (t) => ({
    login: t.string({ required: true, description: 'Email or username' }),
    password: t.string({ required: true }),
    totp: t.string({ required: false, description: 'The current 6-digit code when TOTP is enabled' }),
  }),
});

const ChangePasswordInput = builder.inputType('ChangePasswordInput', {
  fields: (t) => ({ currentPassword: t.string({ required: true }), newPassword: t.string({ required: true }) }),
});

const ResetPasswordInput = builder.inputType('ResetPasswordInput', {
  fields: (t) => ({ token: t.string({ required: true }), newPassword: t.string({ required: true }) }),
});


builder.mutationFields((t) => ({
  login: t.field({
    type: AuthPayload,
    description: 'Signs in with a password (and TOTP code when enabled); every failure is UNAUTHENTICATED',
    errors: mutationErrors('Login', 'tokens', [ValidationError]),
    args: { input: t.arg({ type: LoginInput, required: true }) },
    resolve: (_root, args, ctx) => asCaller(() => ctx.services.signInSessions.login(compact(args.input), ctx.client)),
  }),
  refreshToken: t.field({
    type: AuthPayload,
    description: 'Exchanges a refresh token for new tokens; a token works once, and reuse signs the whole chain out',
    args: { refreshToken: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => asCaller(() => ctx.services.signInSessions.refresh(args.refreshToken, ctx.client)),
  }),
  logout: t.boolean({
    description: "Ends the caller's sign-in (and the refresh token's, when given)",
    authScopes: { authenticated: true },
    args: { refreshToken: t.arg.string({ required: false }) },
    resolve: async (_root, args, ctx) => {
      await ctx.services.signInSessions.logout(ctx.principal!, args.refreshToken ?? undefined, ctx.client);
      return true;
    },
  }),
  changePassword: t.boolean({
    authScopes: { authenticated: true },
    errors: mutationErrors('ChangePassword', 'changed', [ValidationError]),
    args: { input: t.arg({ type: ChangePasswordInput, required: true }) },
    resolve: async (_root, args, ctx) => {
      if (!ctx.principal!.userId || ctx.principal!.kind !== 'user') throw new ValidationError([{ path: 'input', message: 'only a signed-in user has a password' }]);
      await ctx.services.signInSessions.changePassword(ctx.principal!, args.input, ctx.client);
      return true;
    },
  }),
  issuePasswordReset: t.field({
    type: PasswordResetTicket,
    nullable: true,
    description: 'For administrators: a one-time reset token for a user of the tenant (null when there is no such user)',
    authScopes: { permission: 'identity:write' },
    args: { userId: t.arg.globalID({ required: true, for: UserRef }) },
    resolve: (_root, args, ctx) => ctx.services.signInSessions.issuePasswordReset(ctx.principal!, args.userId.id, ctx.client),
  }),
  resetPassword: t.boolean({
    description: 'Sets a new password with a reset token; the token works once, and all sign-ins end',
    errors: mutationErrors('ResetPassword', 'reset', [ValidationError]),
    args: { input: t.arg({ type: ResetPasswordInput, required: true }) },
    resolve: async (_root, args, ctx) => {
      await asCaller(() => ctx.services.signInSessions.resetPassword(args.input, ctx.client));
      return true;
    },
  }),
  enrollTotp: t.field({
    type: TotpEnrollment,
    authScopes: { authenticated: true },
    resolve: (_root, _args, ctx) => {
      if (ctx.principal!.kind !== 'user') throw new GraphQLError('Only users enrol TOTP', { extensions: { code: 'FORBIDDEN' } });
      return ctx.services.signInSessions.enrollTotp(ctx.principal!);
    },
  }),
  confirmTotp: t.boolean({
    authScopes: { authenticated: true },
    errors: mutationErrors('ConfirmTotp', 'enabled', [ValidationError]),
    args: { code: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await ctx.services.signInSessions.confirmTotp(ctx.principal!, args.code, ctx.client);
      return true;
    },
  }),
}));
