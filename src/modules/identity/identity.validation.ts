import { isIP } from 'node:net';
import { z } from 'zod';
import { ValidationError } from '../shared/errors.js';
import { parseInput } from '../shared/validation.js';
import { PERMISSIONS, ROLES } from './permissions.js';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './password.js';

const password = z
  .string()
  .min(PASSWORD_MIN_LENGTH, `must be at least ${PASSWORD_MIN_LENGTH} characters`)
  .max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`);
const username = z.string().trim().min(3).max(100).regex(/^[A-Za-z0-9._-]+$/, 'may contain letters, digits, dot, dash and underscore');
const email = z.string().trim().toLowerCase().max(255).email();
const slug = z.string().trim().min(2).max(100).regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'must be lowercase words joined by dashes');
const quotas = {
  quotaCpuHours: z.number().finite().min(0).max(1e9).optional(),
  quotaMemoryGbHours: z.number().finite().min(0).max(1e10).optional(),
  quotaStorageGb: z.number().finite().min(0).max(1e10).optional(),
};

const loginInput = z.object({
  login: z.string().trim().min(1).max(255),
  // Any length is accepted at login, so a policy change never locks out an existing password.
  password: z.string().min(1).max(PASSWORD_MAX_LENGTH),
  totp: z.string().regex(/^\d{6}$/, 'must be 6 digits').optional(),
});

const changePasswordInput = z.object({ currentPassword: z.string().min(1).max(PASSWORD_MAX_LENGTH), newPassword: password });
const resetPasswordInput = z.object({ token: z.string().min(20).max(200), newPassword: password });

const createUserInput = z.object({
  username,
  email,
  fullName: z.string().trim().min(1).max(255).optional(),
  role: z.enum(ROLES),
  password: password.optional(),
  preferences: z.record(z.string(), z.unknown()).optional(),
  ...quotas,
});

const updateUserInput = z.object({
  fullName: z.string().trim().min(1).max(255).optional(),
  role: z.enum(ROLES).optional(),
  status: z.enum(['active', 'inactive', 'suspended']).optional(),
  preferences: z.record(z.string(), z.unknown()).optional(),
  ...quotas,
});

const createTenantInput = z.object({
  name: z.string().trim().min(1).max(255),
  slug,
  billingEmail: email.optional(),
  admin: z.object({ username, email, password, fullName: z.string().trim().min(1).max(255).optional() }),
});

const operatorTenantInput = z.object({ name: z.string().trim().min(1).max(255), slug });

const updateTenantInput = z.object({
  name: z.string().trim().min(1).max(255).optional(),
  billingEmail: email.optional(),
  status: z.enum(['active', 'suspended']).optional(),
});

const createApiKeyInput = z.object({
  name: z.string().trim().min(1).max(255),
  environmentId: z.string().uuid(),
  scopes: z.array(z.enum(PERMISSIONS)).min(1).max(PERMISSIONS.length),
  rateLimitPerMinute: z.number().int().min(1).max(1_000_000).default(60),
  expiresAt: z.date().refine((date) => date.getTime() > Date.now(), 'must be in the future').optional(),
});

export type LoginInput = z.output<typeof loginInput>;
export type CreateUserInput = z.output<typeof createUserInput>;
export type UpdateUserInput = z.output<typeof updateUserInput>;
export type CreateTenantInput = z.output<typeof createTenantInput>;
export type UpdateTenantInput = z.output<typeof updateTenantInput>;
export type CreateApiKeyInput = z.output<typeof createApiKeyInput>;

export const parseLogin = (input: unknown) => parseInput(loginInput, input);
export const parseChangePassword = (input: unknown) => parseInput(changePasswordInput, input);
export const parseResetPassword = (input: unknown) => parseInput(resetPasswordInput, input);
export const parseCreateUser = (input: unknown) => parseInput(createUserInput, input);
export const parseUpdateUser = (input: unknown) => parseInput(updateUserInput, input);
export const parseCreateTenant = (input: unknown) => parseInput(createTenantInput, input);
export const parseOperatorTenant = (input: unknown) => parseInput(operatorTenantInput, input);
export const parseUpdateTenant = (input: unknown) => parseInput(updateTenantInput, input);
export const parseCreateApiKey = (input: unknown) => parseInput(createApiKeyInput, input);
export const parseEnvironmentName = (input: unknown) => parseInput(z.enum(['dev', 'staging', 'prod']), input);

/** An IP address a security list is narrowed to; anything else is refused before it reaches the inet column. */
export function filterIpAddress(value: unknown, path: string): string {
  const address = typeof value === 'string' ? value.trim() : '';
  if (isIP(address) === 0) throw new ValidationError([{ path, message: 'must be an IPv4 or IPv6 address' }]);
  return address;
}
