import type { PrismaClient } from './generated/prisma/client.js';
import type { TenantRows } from './infra/db.js';
import type { Logger } from './infra/logger.js';
import type { Principal } from './modules/identity/principal.js';
import type { Services } from './services.js';

/** What every resolver receives: who is asking, within which tenant, and the services to ask. */
export interface Context {
  requestId: string;
  /** null for an anonymous caller; fields that need one say so with authScopes. */
  principal: Principal | null;
  /** The tenant client; within a request it sees only the principal's tenant. */
  prisma: PrismaClient;
  /** Raw rows through the same tenant scope as `prisma`, for compiled reads. */
  tenantRows: TenantRows;
  services: Services;
  log: Logger;
  /** Where the request came from, for security records. */
  client: { ip: string; userAgent: string | null };
}

/** The caller's tenant; fields that reach it are guarded by authScopes, so a principal is present. */
export function tenantOf(ctx: Context): string {
  if (!ctx.principal) throw new Error('tenantOf called without a principal: the field lacks authScopes');
  return ctx.principal.tenantId;
}

/** The caller of a subscription; its fields are guarded by authScopes, so a principal is present. */
export function principalOf(ctx: Context): Principal {
  if (!ctx.principal) throw new Error('subscription without a principal: the field lacks authScopes');
  return ctx.principal;
}
