import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The tenant whose rows the current async work may touch. Database access through the tenant
 * client reads it for every transaction; outside any scope that client sees no tenant's rows.
 */
const scope = new AsyncLocalStorage<{ tenantId: string }>();

export function runInTenant<T>(tenantId: string, work: () => T): T {
  return scope.run({ tenantId }, work);
}

export function currentTenantId(): string | undefined {
  return scope.getStore()?.tenantId;
}
