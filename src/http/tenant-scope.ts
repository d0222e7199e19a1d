import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';
import { runInTenant } from '../infra/tenant-scope.js';

/** Runs each operation inside its principal's tenant scope, which the tenant database client reads. */
export function useTenantScope(): Plugin<Context> {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const tenantId = (args.contextValue as Context).principal?.tenantId;
      if (tenantId) setExecuteFn((execArgs) => runInTenant(tenantId, () => executeFn(execArgs)));
    },
    onSubscribe({ args, subscribeFn, setSubscribeFn }) {
      const tenantId = (args.contextValue as Context).principal?.tenantId;
      if (tenantId) setSubscribeFn((subArgs) => runInTenant(tenantId, () => subscribeFn(subArgs)));
    },
  };
}
