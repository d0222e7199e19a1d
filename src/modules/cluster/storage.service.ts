import type { Prisma, PrismaClient } from '../../generated/prisma/client.js';
import { ConflictError, InsufficientCapacityError, NotFoundError, ResourceInUseError, ValidationError } from '../shared/errors.js';
import { parseCreatePool, parseCreateVolume, parseUpdatePool } from './storage.validation.js';

/** Storage pools and their volumes; a volume is carved out of its pool's free capacity atomically. */
export class StorageService {
  constructor(private readonly prisma: PrismaClient) {}

  async createPool(tenantId: string, rawInput: unknown) {
    const input = parseCreatePool(rawInput);
    return this.prisma.$transaction(async (tx) => {
      await this.assertNodesOfTenant(tx, tenantId, input.nodeIds);
      const sameName = await tx.storagePool.findFirst({ where: { tenantId, poolName: input.poolName }, select: { id: true } });
      if (sameName) throw new ConflictError(`a storage pool named ${input.poolName} exists`, 'poolName');
      return tx.storagePool.create({ data: { ...input, tenantId, policies: input.policies as Prisma.InputJsonObject } });
    });
  }

  async updatePool(tenantId: string, poolId: string, rawInput: unknown) {
    const input = parseUpdatePool(rawInput);
    return this.prisma.$transaction(async (tx) => {
      const pool = await tx.storagePool.findFirst({ where: { id: poolId, tenantId }, select: { id: true } });
      if (!pool) throw new NotFoundError('StoragePool', poolId);
      if (input.nodeIds) await this.assertNodesOfTenant(tx, tenantId, input.nodeIds);
      if (input.poolName) {
        const sameName = await tx.storagePool.findFirst({ where: { tenantId, poolName: input.poolName, NOT: { id: poolId } }, select: { id: true } });
        if (sameName) throw new ConflictError(`a storage pool named ${input.poolName} exists`, 'poolName');
      }
      if (input.totalCapacityGb !== undefined) {
        // The check and the write are one statement, so a volume created meanwhile is accounted for.
        const shrunk = await tx.$executeRaw`
          UPDATE storage_pools SET total_capacity_gb = ${String(input.totalCapacityGb)}::numeric, updated_at = now()
          WHERE pool_id = ${poolId}::uuid AND tenant_id = ${tenantId}::uuid AND used_capacity_gb <= ${String(input.totalCapacityGb)}::numeric`;
        if (shrunk === 0) throw new ValidationError([{ path: 'totalCapacityGb', message: 'is below the capacity its volumes use' }]);
      }
      const { totalCapacityGb: _applied, policies, ...columns } = input;
      return tx.storagePool.update({
        where: { id: poolId },
        data: { ...columns, ...(policies ? { policies: policies as Prisma.InputJsonObject } : {}) },
      });
    });
  }

  /** Deletes an empty pool; refused while it holds live volumes. */
  async deletePool(tenantId: string, poolId: string): Promise<string> {
    await this.prisma.$transaction(async (tx) => {
      const [pool] = await tx.$queryRaw<{ id: string }[]>`
        SELECT pool_id::text AS id FROM storage_pools WHERE pool_id = ${poolId}::uuid AND tenant_id = ${tenantId}::uuid FOR UPDATE`;
      if (!pool) throw new NotFoundError('StoragePool', poolId);
      const live = await tx.storageVolume.count({ where: { tenantId, poolId, deletedAt: null } });
      if (live > 0) throw new ResourceInUseError('StoragePool', poolId, 'volumes', live);
      await tx.storageVolume.deleteMany({ where: { tenantId, poolId } });
      await tx.storagePool.delete({ where: { id: poolId } });
    });
    return poolId;
  }

  /** Creates a volume; the pool's free-capacity check and its update are one conditional statement. */
  async createVolume(tenantId: string, rawInput: unknown) {
    const input = parseCreateVolume(rawInput);
    return this.prisma.$transaction(async (tx) => {
      const pool = await tx.storagePool.findFirst({ where: { id: input.poolId, tenantId }, select: { poolName: true } });
      if (!pool) throw new NotFoundError('StoragePool', input.poolId);
      if (input.sessionId) {
        const session = await tx.session.findFirst({ where: { id: input.sessionId, tenantId }, select: { id: true } });
        if (!session) throw new NotFoundError('Session', input.sessionId);
      }
      const sameName = await tx.storageVolume.findFirst({
        where: { tenantId, poolId: input.poolId, volumeName: input.volumeName, deletedAt: null },
        select: { id: true },
      });
      if (sameName) throw new ConflictError(`pool ${pool.poolName} has a volume named ${input.volumeName}`, 'volumeName');
      const size = String(input.sizeGb);
      const reserved = await tx.$queryRaw<{ available: number }[]>`
        UPDATE storage_pools SET used_capacity_gb = used_capacity_gb + ${size}::numeric, updated_at = now()
        WHERE pool_id = ${input.poolId}::uuid AND tenant_id = ${tenantId}::uuid
          AND total_capacity_gb - used_capacity_gb >= ${size}::numeric
        RETURNING (total_capacity_gb - used_capacity_gb)::float8 AS available`;
      if (reserved.length === 0) {
        const [free] = await tx.$queryRaw<{ available: number }[]>`
          SELECT (total_capacity_gb - used_capacity_gb)::float8 AS available FROM storage_pools WHERE pool_id = ${input.poolId}::uuid`;
        throw new InsufficientCapacityError(`pool ${pool.poolName} has ${free?.available ?? 0} GB free, ${input.sizeGb} GB requested`, [
          `storage pool ${pool.poolName}: ${free?.available ?? 0} GB free, ${input.sizeGb} GB requested`,
        ]);
      }
      return tx.storageVolume.create({ data: { ...input, tenantId } });
    });
  }

  /** Marks a volume deleted and returns its size to the pool, in one transaction. */
  async deleteVolume(tenantId: string, volumeId: string) {
    return this.prisma.$transaction(async (tx) => {
      const [volume] = await tx.$queryRaw<{ pool_id: string; size_gb: string }[]>`
        UPDATE storage_volumes SET deleted_at = now()
        WHERE volume_id = ${volumeId}::uuid AND tenant_id = ${tenantId}::uuid AND deleted_at IS NULL
        RETURNING pool_id::text, size_gb::text`;
      if (!volume) throw new NotFoundError('StorageVolume', volumeId);
      await tx.$executeRaw`
        UPDATE storage_pools SET used_capacity_gb = GREATEST(used_capacity_gb - ${volume.size_gb}::numeric, 0), updated_at = now()
        WHERE pool_id = ${volume.pool_id}::uuid AND tenant_id = ${tenantId}::uuid`;
      return tx.storageVolume.findUniqueOrThrow({ where: { id: volumeId } });
    });
  }

  private async assertNodesOfTenant(tx: Prisma.TransactionClient, tenantId: string, nodeIds: string[]) {
    if (nodeIds.length === 0) return;
    const known = await tx.node.findMany({ where: { tenantId, id: { in: nodeIds } }, select: { id: true } });
    const knownIds = new Set(known.map((node) => node.id));
    const issues = nodeIds.flatMap((id, index) => (knownIds.has(id) ? [] : [{ path: `nodeIds.${index}`, message: 'no such node' }]));
    if (issues.length > 0) throw new ValidationError(issues);
  }
}
