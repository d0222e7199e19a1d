/** Who may do what: roles grant permissions; API keys carry a subset of their creator's. */

export const ROLES = ['admin', 'operator', 'user', 'readonly'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  'cluster:read',
  'cluster:write',
  'sessions:read',
  'sessions:write',
  'sessions:manage',
  'deployments:read',
  'deployments:write',
  'metrics:read',
  'metrics:write',
  'events:read',
  'events:write',
  'models:read',
  'models:write',
  'chat:read',
  'chat:write',
  'documents:read',
  'documents:write',
  'cache:read',
  'cache:write',
  'tools:read',
  'tools:write',
  'usage:read',
  'usage:write',
  'billing:read',
  'billing:write',
  'notifications:read',
  'notifications:write',
  'identity:read',
  'identity:write',
  'apikeys:write',
  'security:read',
  'archives:read',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const ADMIN_ONLY_READS: readonly Permission[] = ['security:read', 'archives:read'];
const reads = PERMISSIONS.filter((permission) => permission.endsWith(':read') && !ADMIN_ONLY_READS.includes(permission));

export const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = {
  admin: new Set(PERMISSIONS),
  operator: new Set(PERMISSIONS.filter((p) => !['identity:write', 'billing:write', ...ADMIN_ONLY_READS].includes(p))),
  user: new Set<Permission>([
    ...reads,
    'sessions:write',
    'metrics:write',
    'chat:write',
    'documents:write',
    'cache:write',
    'tools:write',
    'usage:write',
    'apikeys:write',
  ]),
  readonly: new Set(reads),
};

export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}
