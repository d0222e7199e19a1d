import type { PrismaClient } from './generated/prisma/client.js';
import type { Logger } from './infra/logger.js';
import type { Services } from './services.js';

/** What every resolver receives: who is asking, within which tenant, and the services to ask. */
export interface Context {
  requestId: string;
  /** Until authentication is wired, every request acts within the configured default tenant. */
  tenantId: string;
  prisma: PrismaClient;
  services: Services;
  log: Logger;
}
