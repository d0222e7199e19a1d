import { ROLE_PERMISSIONS, type Permission, type Role } from './permissions.js';

/** Who is calling: a signed-in user or an API key, always within one tenant. */
export interface Principal {
  kind: 'user' | 'apiKey';
  tenantId: string;
  /** The user, or for an API key the user who created it. */
  userId: string | null;
  role: Role;
  apiKeyId: string | null;
  environmentId: string | null;
  /** What this principal may do: its role's permissions, narrowed to an API key's scopes. */
  permissions: ReadonlySet<Permission>;
  /** When the credential stops being valid (access token expiry); null for API keys. */
  expiresAt: Date | null;
  /** The refresh-token family of a user's sign-in, to close its sockets on logout. */
  sessionFamilyId: string | null;
  /** Requests per minute an API key allows; users get the configured limit. */
  apiKeyRateLimit: number | null;
}

export function userPrincipal(input: {
  tenantId: string;
  userId: string;
  role: Role;
  expiresAt: Date | null;
  sessionFamilyId?: string | null;
}): Principal {
  return {
    kind: 'user',
    tenantId: input.tenantId,
    userId: input.userId,
    role: input.role,
    apiKeyId: null,
    environmentId: null,
    permissions: ROLE_PERMISSIONS[input.role],
    expiresAt: input.expiresAt,
    sessionFamilyId: input.sessionFamilyId ?? null,
    apiKeyRateLimit: null,
  };
}

export function apiKeyPrincipal(input: {
  tenantId: string;
  apiKeyId: string;
  environmentId: string;
  creatorId: string | null;
  creatorRole: Role;
  scopes: readonly string[];
  rateLimitPerMinute: number;
}): Principal {
  const allowed = ROLE_PERMISSIONS[input.creatorRole];
  return {
    kind: 'apiKey',
    tenantId: input.tenantId,
    userId: input.creatorId,
    role: input.creatorRole,
    apiKeyId: input.apiKeyId,
    environmentId: input.environmentId,
    permissions: new Set([...allowed].filter((permission) => input.scopes.includes(permission))),
    expiresAt: null,
    sessionFamilyId: null,
    apiKeyRateLimit: input.rateLimitPerMinute,
  };
}

export const can = (principal: Principal | null, permission: Permission): boolean =>
  principal !== null && principal.permissions.has(permission);
