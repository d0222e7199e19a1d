import type { Config } from './config.js';
import type { Database } from './infra/db.js';
import type { BackgroundJob } from './infra/jobs.js';
import type { Logger } from './infra/logger.js';
import type { PubSub } from './infra/pubsub.js';
import { NodeService } from './modules/cluster/node.service.js';
import { Authenticator } from './modules/identity/authentication.js';
import { TenantService } from './modules/identity/tenant.service.js';
import type { TokenService } from './modules/identity/tokens.js';

/** What services are built from. `db.prisma` is tenant-scoped; `db.system` is for cross-tenant work. */
export interface ServiceDeps {
  config: Config;
  db: Database;
  pubsub: PubSub;
  log: Logger;
  tokens: TokenService;
}

export interface Services {
  authenticator: Authenticator;
  nodes: NodeService;
  tenants: TenantService;
}

export function createServices(deps: ServiceDeps): Services {
  return {
    authenticator: new Authenticator(deps.db.system, deps.tokens),
    nodes: new NodeService(deps.db.prisma, deps.pubsub, deps.log),
    tenants: new TenantService(deps.db.system),
  };
}

/** The background jobs each API instance runs; each guards its own single-instance needs. */
export function createJobs(_deps: ServiceDeps, _services: Services): BackgroundJob[] {
  return [];
}
