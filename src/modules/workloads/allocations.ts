import type { Transaction } from '../../infra/db.js';

/** Marks a session's active allocations released and gives their capacity back to the nodes, in lock order. */
export async function releaseAllocations(tx: Transaction, tenantId: string, sessionId: string, at: Date) {
  const active = await tx.sessionAllocation.findMany({
    where: { tenantId, sessionId, status: 'active' },
    orderBy: [{ nodeId: 'asc' }, { resourceType: 'asc' }],
  });
  for (const allocation of active) {
    await tx.$executeRaw`
      UPDATE node_resources
      SET allocated_capacity = GREATEST(allocated_capacity - ${allocation.allocatedAmount.toString()}::numeric, 0), updated_at = now()
      WHERE node_id = ${allocation.nodeId}::uuid AND tenant_id = ${tenantId}::uuid AND resource_type = ${allocation.resourceType}`;
  }
  await tx.sessionAllocation.updateMany({ where: { tenantId, sessionId, status: 'active' }, data: { status: 'released', deallocationTime: at } });
  return active;
}
