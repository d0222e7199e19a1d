import { Prisma } from '../../generated/prisma/client.js';
import type { Transaction } from '../../infra/db.js';
import type { ResourceType } from './node.validation.js';

/**
 * The one rule for a node (aliased `n`) taking new work: active, serving no deployment, heard from
 * within the heartbeat timeout. Written for NOT as well: a node never heard from is not placeable.
 */
export const placeableNode = (heartbeatTimeoutSeconds: number): Prisma.Sql =>
  Prisma.sql`(n.status = 'active' AND n.deployment_id IS NULL
    AND n.last_heartbeat IS NOT NULL AND n.last_heartbeat > now() - make_interval(secs => ${heartbeatTimeoutSeconds}::int))`;

/** The order candidate nodes (aliased `n`) are read in: hostname, then id; the same tie-break as the rankings'. */
export const CANDIDATE_ORDER = Prisma.sql`n.hostname COLLATE "C", n.node_id`;

/** One resource of a node as placement sees it; `free` already leaves the reservation aside. */
export interface ResourceCapacity {
  total: number;
  allocated: number;
  reserved: number;
  free: number;
  unit: string;
}

/** A node that may take new work (active, heartbeat fresh, not serving a deployment) and its capacity. */
export interface NodeCapacity {
  nodeId: string;
  hostname: string;
  nodeType: string;
  gpuType: string | null;
  gpuCount: number;
  gpuMemoryGb: number;
  labels: Record<string, unknown>;
  regionId: string | null;
  regionCode: string | null;
  pricePerHour: number | null;
  resources: Partial<Record<ResourceType, ResourceCapacity>>;
}

interface CapacityRow {
  node_id: string;
  hostname: string;
  node_type: string;
  gpu_type: string | null;
  gpu_count: number;
  gpu_memory_gb: number;
  labels: Record<string, unknown> | null;
  region_id: string | null;
  region_code: string | null;
  price_per_hour: number | null;
  resources: Record<string, Omit<ResourceCapacity, 'free'>> | null;
}

/**
 * The tenant's placeable nodes with their free capacity, read in one statement. What is read here
 * only ranks candidates: allocation re-checks capacity in its own conditional UPDATE.
 */
export async function loadPlaceableNodes(db: Transaction, tenantId: string, heartbeatTimeoutSeconds: number): Promise<NodeCapacity[]> {
  const rows = await db.$queryRaw<CapacityRow[]>`
    SELECT n.node_id::text, n.hostname, n.node_type, n.gpu_type, n.gpu_count, n.gpu_memory_gb::float8 AS gpu_memory_gb,
           n.labels, n.region_id::text, r.code AS region_code, n.price_per_hour::float8 AS price_per_hour,
           (SELECT jsonb_object_agg(nr.resource_type, jsonb_build_object(
                     'total', nr.total_capacity::float8, 'allocated', nr.allocated_capacity::float8,
                     'reserved', nr.reservation_capacity::float8, 'unit', nr.unit))
              FROM node_resources nr WHERE nr.node_id = n.node_id) AS resources
    FROM nodes n
    LEFT JOIN regions r ON r.region_id = n.region_id
    WHERE n.tenant_id = ${tenantId}::uuid AND ${placeableNode(heartbeatTimeoutSeconds)}
    ORDER BY ${CANDIDATE_ORDER}`;
  return rows.map((row) => ({
    nodeId: row.node_id,
    hostname: row.hostname,
    nodeType: row.node_type,
    gpuType: row.gpu_type,
    gpuCount: row.gpu_count,
    gpuMemoryGb: row.gpu_memory_gb,
    labels: row.labels ?? {},
    regionId: row.region_id,
    regionCode: row.region_code,
    pricePerHour: row.price_per_hour,
    resources: Object.fromEntries(
      Object.entries(row.resources ?? {}).map(([type, r]) => [type, { ...r, free: Math.max(0, r.total - r.allocated - r.reserved) }]),
    ),
  }));
}

/** Why the tenant's other nodes take no new work, counted by reason, for a pending session's notes. */
export async function countUnplaceableNodes(db: Transaction, tenantId: string, heartbeatTimeoutSeconds: number): Promise<{ reason: string; count: number }[]> {
  const rows = await db.$queryRaw<{ reason: string; count: number }[]>`
    SELECT reason, count(*)::int AS count FROM (
      SELECT CASE
               WHEN status <> 'active' THEN 'node is ' || status
               WHEN deployment_id IS NOT NULL THEN 'node serves a model deployment'
               ELSE 'no heartbeat in the last ' || ${heartbeatTimeoutSeconds}::int || ' s'
             END AS reason
      FROM nodes n
      WHERE n.tenant_id = ${tenantId}::uuid AND NOT ${placeableNode(heartbeatTimeoutSeconds)}
    ) excluded
    GROUP BY reason
    ORDER BY reason COLLATE "C"`;
  return rows;
}
