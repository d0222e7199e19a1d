import { runInTenant } from '../../infra/tenant-scope.js';

/**
 * Runs tenant-client work inside the tenant's scope. Prisma queries are lazy (they run when
 * awaited), so the await must happen inside the scope, not after runInTenant returns.
 */
export function inTenant<T>(tenantId: string, work: () => PromiseLike<T>): Promise<T> {
  return runInTenant(tenantId, async () => await work());
}
