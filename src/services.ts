import type { PrismaClient } from './generated/prisma/client.js';
import type { Logger } from './infra/logger.js';
import type { PubSub } from './infra/pubsub.js';
import { NodeService } from './modules/cluster/node.service.js';
import { TenantService } from './modules/identity/tenant.service.js';

export interface Services {
  nodes: NodeService;
  tenants: TenantService;
}

export function createServices(prisma: PrismaClient, pubsub: PubSub, log: Logger): Services {
  return {
    nodes: new NodeService(prisma, pubsub, log),
    tenants: new TenantService(prisma),
  };
}
