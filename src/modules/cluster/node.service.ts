import type { PrismaClient } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/logger.js';
import type { PubSub } from '../../infra/pubsub.js';
import { Topic } from '../../infra/topics.js';
import { parseRegisterNode, type NodeResourceInput, type RegisterNodeInput } from './node.validation.js';

/** When an agent lists no resources, its totals become the node's schedulable resources. */
function resourcesFromTotals(input: RegisterNodeInput): NodeResourceInput[] {
  const resources: NodeResourceInput[] = [
    { resourceType: 'cpu', totalCapacity: input.totalCpuCores, reservationCapacity: 0, unit: 'cores', constraints: {} },
    { resourceType: 'memory', totalCapacity: input.totalMemoryGb, reservationCapacity: 0, unit: 'GB', constraints: {} },
    { resourceType: 'storage', totalCapacity: input.totalStorageGb, reservationCapacity: 0, unit: 'GB', constraints: {} },
  ];
  if (input.gpuCount > 0) {
    resources.push({ resourceType: 'gpu', totalCapacity: input.gpuCount, reservationCapacity: 0, unit: 'devices', constraints: {} });
  }
  return resources;
}

export class NodeService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly pubsub: PubSub,
    private readonly log: Logger,
  ) {}

  /** Registers a node with its resources in one transaction and announces it. */
  async registerNode(tenantId: string, rawInput: unknown) {
    const input = parseRegisterNode(rawInput);
    const resources = input.resources ?? resourcesFromTotals(input);
    const node = await this.prisma.node.create({
      data: {
        tenantId,
        hostname: input.hostname,
        ipAddress: input.ipAddress,
        nodeType: input.nodeType,
        status: input.status,
        totalCpuCores: input.totalCpuCores,
        totalMemoryGb: input.totalMemoryGb,
        totalStorageGb: input.totalStorageGb,
        gpuCount: input.gpuCount,
        gpuMemoryGb: input.gpuMemoryGb,
        gpuType: input.gpuType,
        networkBandwidthMbps: input.networkBandwidthMbps,
        architecture: input.architecture,
        osVersion: input.osVersion,
        kernelVersion: input.kernelVersion,
        labels: input.labels as object,
        capabilities: input.capabilities as object,
        resources: {
          create: resources.map((resource) => ({
            tenantId,
            resourceType: resource.resourceType,
            totalCapacity: resource.totalCapacity,
            reservationCapacity: resource.reservationCapacity,
            unit: resource.unit,
            constraints: resource.constraints as object,
          })),
        },
      },
    });
    // The node is committed; a pub/sub outage must not turn its registration into an error.
    await this.pubsub
      .publish(Topic.NodeRegistered, { tenantId, nodeId: node.id })
      .catch((error: unknown) => this.log.warn('node.registered not published', { nodeId: node.id, reason: String(error) }));
    return node;
  }
}
