import type { Prisma } from '../../generated/prisma/client.js';
import { isUniqueViolation } from '../shared/prisma-errors.js';
import { ConflictError, InsufficientCapacityError } from '../shared/errors.js';
import type { Transaction } from '../../infra/db.js';
import type { NodeResourceChange, RegisterNodeInput, ResourceType } from './node.validation.js';

const DEFAULT_UNITS: Record<ResourceType, string> = { cpu: 'cores', memory: 'GB', storage: 'GB', gpu: 'devices', network: 'Mbps' };

/** A hostname names one node per tenant: a second node may not take it. */
export async function assertHostnameFree(tx: Transaction, tenantId: string, hostname: string, nodeId: string | null): Promise<void> {
  const holder = await tx.node.findFirst({ where: { tenantId, hostname, ...(nodeId ? { id: { not: nodeId } } : {}) }, select: { id: true } });
  if (holder) throw new ConflictError(`hostname ${hostname} is already registered in this tenant`, 'hostname');
}

/**
 * Adds or resizes resources of a node, each in one statement: the row lock of the upsert and its
 * condition (allocated + reserved within the new total) serialise with the scheduler's conditional
 * allocation, so a resize never leaves a node over-committed. Omitted fields stay as they are.
 */
export async function resizeResources(tx: Transaction, tenantId: string, nodeId: string, changes: NodeResourceChange[]): Promise<void> {
  const refused: string[] = [];
  for (const change of changes) {
    const rows = await tx.$queryRaw<{ resource_type: string }[]>`
      INSERT INTO node_resources (tenant_id, node_id, resource_type, total_capacity, reservation_capacity, unit, constraints)
      VALUES (${tenantId}::uuid, ${nodeId}::uuid, ${change.resourceType}, ${change.totalCapacity}::numeric,
              ${change.reservationCapacity ?? 0}::numeric, ${change.unit ?? DEFAULT_UNITS[change.resourceType]},
              ${JSON.stringify(change.constraints ?? {})}::jsonb)
      ON CONFLICT (node_id, resource_type) DO UPDATE SET
        total_capacity = EXCLUDED.total_capacity,
        reservation_capacity = coalesce(${change.reservationCapacity ?? null}::numeric, node_resources.reservation_capacity),
        unit = coalesce(${change.unit ?? null}::varchar, node_resources.unit),
        constraints = coalesce(${change.constraints ? JSON.stringify(change.constraints) : null}::jsonb, node_resources.constraints),
        updated_at = now()
      WHERE node_resources.allocated_capacity
            + coalesce(${change.reservationCapacity ?? null}::numeric, node_resources.reservation_capacity) <= EXCLUDED.total_capacity
      RETURNING resource_type`;
    if (rows.length === 0) refused.push(change.resourceType);
  }
  if (refused.length === 0) return;
  const held = await tx.nodeResource.findMany({ where: { tenantId, nodeId, resourceType: { in: refused } }, orderBy: { resourceType: 'asc' } });
  throw new InsufficientCapacityError(
    'a capacity may not shrink below what sessions hold plus what is reserved',
    held.map((r) => `${r.resourceType}: ${r.allocatedCapacity.toString()} ${r.unit} allocated, ${r.reservationCapacity.toString()} reserved`),
  );
}

/**
 * What a re-registration refreshes: the machine's hardware and software as its agent sees them.
 * Labels, annotations, region, pricing and status are the operator's and stay.
 */
export function inventoryColumns(input: RegisterNodeInput): Prisma.NodeUpdateInput {
  return {
    hostname: input.hostname,
    ipAddress: input.ipAddress,
    nodeType: input.nodeType,
    totalCpuCores: input.totalCpuCores,
    totalMemoryGb: input.totalMemoryGb,
    totalStorageGb: input.totalStorageGb,
    gpuCount: input.gpuCount,
    gpuMemoryGb: input.gpuMemoryGb,
    gpuType: input.gpuType ?? null,
    networkBandwidthMbps: input.networkBandwidthMbps,
    architecture: input.architecture,
    osVersion: input.osVersion ?? null,
    kernelVersion: input.kernelVersion ?? null,
    dockerVersion: input.dockerVersion ?? null,
    capabilities: input.capabilities as Prisma.InputJsonObject,
  };
}

/** Runs a registration again once when a concurrent one of the same machine or hostname won the insert. */
export async function retryOnceOnUniqueViolation<T>(register: () => Promise<T>, hostname: string): Promise<T> {
  try {
    return await register();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
  }
  try {
    return await register();
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(`hostname ${hostname} is already registered in this tenant`, 'hostname');
    throw error;
  }
}
