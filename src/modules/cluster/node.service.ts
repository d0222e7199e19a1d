import type { Prisma, PrismaClient } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/logger.js';
import type { PubSub } from '../../infra/pubsub.js';
import { Topic } from '../../infra/topics.js';
import { NotFoundError, ResourceInUseError, ValidationError } from '../shared/errors.js';
import { loadPlaceableNodes } from './capacity.js';
import type { Transaction } from '../../infra/db.js';
import { EventPublisher, recordSystemEvent } from '../shared/domain-events.js';
import type { NetworkInterfaceInput } from './network.validation.js';
import { assertHostnameFree, inventoryColumns, resizeResources, retryOnceOnUniqueViolation } from './node-inventory.js';
import {
  parseCapacityRequest,
  parseRegisterNode,
  parseSettableNodeStatus,
  parseUpdateNode,
  type NodeResourceInput,
  type RegisterNodeInput,
} from './node.validation.js';
import { rankNodes } from './placement.js';
import type { ClusterSettings } from './settings.js';

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

/** Inserts interfaces through SQL: mac_address is macaddr, which Prisma cannot write. */
export async function insertNetworkInterfaces(tx: Transaction, tenantId: string, nodeId: string, interfaces: NetworkInterfaceInput[]): Promise<void> {
  const topologyIds = [...new Set(interfaces.flatMap((i) => (i.topologyId ? [i.topologyId] : [])))];
  if (topologyIds.length > 0) {
    // Foreign keys are checked as the owner, past row-level security: check the tenant here.
    const known = await tx.networkTopology.findMany({ where: { tenantId, id: { in: topologyIds } }, select: { id: true } });
    const knownIds = new Set(known.map((t) => t.id));
    const issues = interfaces.flatMap((i, index) =>
      i.topologyId && !knownIds.has(i.topologyId) ? [{ path: `interfaces.${index}.topologyId`, message: 'no such network topology' }] : [],
    );
    if (issues.length > 0) throw new ValidationError(issues);
  }
  for (const i of interfaces) {
    await tx.$executeRaw`
      INSERT INTO node_network_interfaces
        (tenant_id, node_id, topology_id, interface_name, mac_address, ip_address, interface_type, speed_mbps,
         duplex, status, driver, firmware_version, pci_slot, numa_node)
      VALUES (${tenantId}::uuid, ${nodeId}::uuid, ${i.topologyId ?? null}::uuid, ${i.interfaceName}, ${i.macAddress}::macaddr,
              ${i.ipAddress ?? null}::inet, ${i.interfaceType}, ${i.speedMbps}::int, ${i.duplex}, ${i.status}, ${i.driver ?? null},
              ${i.firmwareVersion ?? null}, ${i.pciSlot ?? null}, ${i.numaNode ?? null}::int)`;
  }
}

async function assertRegionExists(tx: Transaction, regionId: string | null | undefined): Promise<void> {
  if (!regionId) return;
  const region = await tx.region.findUnique({ where: { id: regionId }, select: { id: true } });
  if (!region) throw new ValidationError([{ path: 'regionId', message: 'no such region' }]);
}

export class NodeService {
  private readonly events: EventPublisher;

  constructor(
    private readonly prisma: PrismaClient,
    pubsub: PubSub,
    log: Logger,
    private readonly settings: ClusterSettings,
  ) {
    this.events = new EventPublisher(pubsub, log);
  }

  /**
   * Registers a node with its resources and interfaces in one transaction and announces it. A
   * machine that registers again (same machineId) gets its node back with the inventory refreshed.
   * `agentKeyId`, the API key registering, becomes the node's agent key (see bindAgentKey).
   */
  async registerNode(tenantId: string, rawInput: unknown, agentKeyId: string | null = null) {
    const input = parseRegisterNode(rawInput);
    const { node, created } = await retryOnceOnUniqueViolation(
      () =>
        this.prisma.$transaction(async (tx) => {
          await assertRegionExists(tx, input.regionId);
          const known = input.machineId ? await tx.node.findFirst({ where: { tenantId, machineId: input.machineId }, select: { id: true } }) : null;
          await assertHostnameFree(tx, tenantId, input.hostname, known?.id ?? null);
          if (known) {
            const node = await this.refreshInventory(tx, tenantId, known.id, input);
            return { node: (await this.bindAgentKey(tx, tenantId, node, agentKeyId)) ?? node, created: false };
          }
          return { node: await this.createNode(tx, tenantId, input, agentKeyId), created: true };
        }),
      input.hostname,
    );
    if (created) await this.events.publish(Topic.NodeRegistered, { tenantId, nodeId: node.id, hostname: node.hostname, at: new Date().toISOString() });
    return node;
  }

  private async createNode(tx: Transaction, tenantId: string, input: RegisterNodeInput, agentKeyId: string | null) {
    const resources = input.resources ?? resourcesFromTotals(input);
    const created = await tx.node.create({
      data: {
        tenantId,
        agentApiKeyId: agentKeyId,
        hostname: input.hostname,
        machineId: input.machineId,
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
        dockerVersion: input.dockerVersion,
        labels: input.labels as Prisma.InputJsonObject,
        annotations: input.annotations as Prisma.InputJsonObject,
        capabilities: input.capabilities as Prisma.InputJsonObject,
        regionId: input.regionId,
        provider: input.provider,
        instanceType: input.instanceType,
        spotInstance: input.spotInstance,
        pricePerHour: input.pricePerHour,
        // An agent that registers as active is alive now; otherwise the first heartbeat says so.
        lastHeartbeat: input.status === 'active' ? new Date() : null,
        resources: {
          create: resources.map((resource) => ({
            tenantId,
            resourceType: resource.resourceType,
            totalCapacity: resource.totalCapacity,
            reservationCapacity: resource.reservationCapacity,
            unit: resource.unit,
            constraints: resource.constraints as Prisma.InputJsonObject,
          })),
        },
      },
    });
    await insertNetworkInterfaces(tx, tenantId, created.id, input.interfaces);
    await recordSystemEvent(tx, {
      tenantId,
      eventType: 'node.registered',
      severity: 'info',
      sourceComponent: 'cluster',
      sourceNodeId: created.id,
      message: `node ${created.hostname} registered as ${created.status}`,
      details: { nodeId: created.id, hostname: created.hostname, status: created.status },
    });
    return created;
  }

  /**
   * A node keeps the agent key that registered it while that key is live; another key registering
   * the same machine takes the node over only once the bound key is revoked, expired or deleted (a
   * key rotation), so a second key of the tenant cannot claim a machine's secrets by re-registering it.
   */
  private async bindAgentKey(tx: Transaction, tenantId: string, node: { id: string; hostname: string; agentApiKeyId: string | null }, agentKeyId: string | null) {
    if (!agentKeyId || node.agentApiKeyId === agentKeyId) return null;
    if (node.agentApiKeyId) {
      const bound = await tx.apiKey.findFirst({ where: { id: node.agentApiKeyId }, select: { status: true, revokedAt: true, expiresAt: true } });
      const live = bound && bound.status === 'active' && !bound.revokedAt && (!bound.expiresAt || bound.expiresAt > new Date());
      if (live) return null;
    }
    const updated = await tx.node.update({ where: { id: node.id }, data: { agentApiKeyId: agentKeyId } });
    await recordSystemEvent(tx, {
      tenantId,
      eventType: 'node.agent_key_bound',
      severity: 'info',
      sourceComponent: 'cluster',
      sourceNodeId: node.id,
      message: `node ${node.hostname} now answers to another agent API key`,
      details: { nodeId: node.id, apiKeyId: agentKeyId, previousApiKeyId: node.agentApiKeyId },
    });
    return updated;
  }

  /** The machine's node, with what its agent now reports; reservations stay unless the agent lists them. */
  private async refreshInventory(tx: Transaction, tenantId: string, nodeId: string, input: RegisterNodeInput) {
    await tx.$queryRaw`SELECT 1 FROM nodes WHERE node_id = ${nodeId}::uuid AND tenant_id = ${tenantId}::uuid FOR UPDATE`;
    const node = await tx.node.update({ where: { id: nodeId }, data: inventoryColumns(input) });
    const resources = input.resources ?? resourcesFromTotals(input).map(({ resourceType, totalCapacity, unit }) => ({ resourceType, totalCapacity, unit }));
    await resizeResources(tx, tenantId, nodeId, resources);
    if (input.interfaces.length > 0) {
      await tx.nodeNetworkInterface.deleteMany({ where: { tenantId, nodeId } });
      await insertNetworkInterfaces(tx, tenantId, nodeId, input.interfaces);
    }
    return node;
  }

  /** Changes descriptive fields, resizes resources (never below what is allocated) and replaces interfaces. */
  async updateNode(tenantId: string, nodeId: string, rawInput: unknown) {
    const input = parseUpdateNode(rawInput);
    return this.prisma.$transaction(async (tx) => {
      const existing = await tx.node.findFirst({ where: { id: nodeId, tenantId }, select: { id: true } });
      if (!existing) throw new NotFoundError('Node', nodeId);
      await assertRegionExists(tx, input.regionId);
      if (input.hostname) await assertHostnameFree(tx, tenantId, input.hostname, nodeId);
      const { labels, annotations, capabilities, resources, interfaces, ...columns } = input;
      if (resources) await resizeResources(tx, tenantId, nodeId, resources);
      if (interfaces) {
        await tx.nodeNetworkInterface.deleteMany({ where: { tenantId, nodeId } });
        await insertNetworkInterfaces(tx, tenantId, nodeId, interfaces);
      }
      return tx.node.update({
        where: { id: nodeId },
        data: {
          ...columns,
          ...(labels ? { labels: labels as Prisma.InputJsonObject } : {}),
          ...(annotations ? { annotations: annotations as Prisma.InputJsonObject } : {}),
          ...(capabilities ? { capabilities: capabilities as Prisma.InputJsonObject } : {}),
        },
      });
    });
  }

  /**
   * Moves a node to active, inactive, draining or maintenance. Sessions already on a draining node
   * keep running; the scheduler's row lock on the node makes the change and a placement serialise.
   */
  async setNodeStatus(tenantId: string, nodeId: string, rawStatus: unknown) {
    const status = parseSettableNodeStatus(rawStatus);
    const { node, previousStatus } = await this.prisma.$transaction(async (tx) => {
      const [locked] = await tx.$queryRaw<{ status: string }[]>`
        SELECT status FROM nodes WHERE node_id = ${nodeId}::uuid AND tenant_id = ${tenantId}::uuid FOR UPDATE`;
      if (!locked) throw new NotFoundError('Node', nodeId);
      if (locked.status === status) return { node: await tx.node.findUniqueOrThrow({ where: { id: nodeId } }), previousStatus: status };
      const updated = await tx.node.update({ where: { id: nodeId }, data: { status } });
      await recordSystemEvent(tx, {
        tenantId,
        eventType: 'node.status_changed',
        severity: status === 'active' ? 'info' : 'warning',
        sourceComponent: 'cluster',
        sourceNodeId: nodeId,
        message: `node ${updated.hostname} is ${status} (was ${locked.status})`,
        details: { nodeId, previousStatus: locked.status, status },
      });
      return { node: updated, previousStatus: locked.status };
    });
    if (previousStatus !== status) {
      await this.events.publish(Topic.NodeStatusChanged, { tenantId, nodeId, previousStatus, status, at: node.updatedAt.toISOString() });
    }
    return node;
  }

  /** Removes a node, refused while sessions hold resources on it or it serves a deployment. */
  async deregisterNode(tenantId: string, nodeId: string): Promise<string> {
    const hostname = await this.prisma.$transaction(async (tx) => {
      const [node] = await tx.$queryRaw<{ hostname: string; deployment_id: string | null }[]>`
        SELECT hostname, deployment_id::text FROM nodes WHERE node_id = ${nodeId}::uuid AND tenant_id = ${tenantId}::uuid FOR UPDATE`;
      if (!node) throw new NotFoundError('Node', nodeId);
      const sessions = await tx.session.count({
        where: {
          tenantId,
          OR: [{ scheduledNodeId: nodeId }, { allocations: { some: { nodeId, status: 'active' } } }],
          status: { in: ['scheduled', 'running', 'paused'] },
        },
      });
      if (sessions > 0) throw new ResourceInUseError('Node', nodeId, 'sessions', sessions);
      if (node.deployment_id) throw new ResourceInUseError('Node', nodeId, 'deployment replicas', 1);
      await recordSystemEvent(tx, {
        tenantId,
        eventType: 'node.deregistered',
        severity: 'info',
        sourceComponent: 'cluster',
        message: `node ${node.hostname} deregistered`,
        details: { nodeId, hostname: node.hostname },
      });
      // Released allocations only record history; they would otherwise pin the node (ON DELETE RESTRICT).
      await tx.sessionAllocation.deleteMany({ where: { tenantId, nodeId, status: { not: 'active' } } });
      await tx.node.delete({ where: { id: nodeId } });
      return node.hostname;
    });
    await this.events.publish(Topic.NodeDeregistered, { tenantId, nodeId, hostname, at: new Date().toISOString() });
    return nodeId;
  }

  /**
   * The seed's get_available_nodes: active nodes with a heartbeat within the timeout and enough
   * free capacity, best fit first (the binpack order the scheduler uses).
   */
  async availableNodes(tenantId: string, rawRequest: unknown) {
    const request = parseCapacityRequest(rawRequest);
    const nodes = await loadPlaceableNodes(this.prisma, tenantId, this.settings.heartbeatTimeoutSeconds);
    const { candidates } = rankNodes(nodes, {
      cpu: request.cpu,
      memoryGb: request.memoryGb,
      gpuCount: request.gpuCount,
      gpuType: request.gpuType ?? null,
      storageGb: request.storageGb,
      nodeSelector: request.labels,
      preferredLabels: {},
      regions: [],
      excludeNodeIds: [],
      strategy: 'binpack',
    });
    const rows = await this.prisma.node.findMany({ where: { tenantId, id: { in: candidates.map((c) => c.node.nodeId) } } });
    const byId = new Map(rows.map((row) => [row.id, row]));
    return candidates.flatMap((candidate) => {
      const node = byId.get(candidate.node.nodeId);
      if (!node) return [];
      const free = (type: 'cpu' | 'memory' | 'gpu' | 'storage') => candidate.node.resources[type]?.free ?? 0;
      return [{ node, freeCpu: free('cpu'), freeMemoryGb: free('memory'), freeGpus: free('gpu'), freeStorageGb: free('storage') }];
    });
  }
}
