import type { Prisma, PrismaClient } from '../../generated/prisma/client.js';
import { isUniqueViolation } from '../shared/prisma-errors.js';
import type { Principal } from '../identity/principal.js';
import { ConflictError, ForbiddenError, NotFoundError, ResourceInUseError } from '../shared/errors.js';
import { parseCreateRegion, parseUpdateRegion } from './region.validation.js';

/**
 * Regions are shared by every tenant, so only administrators of the platform tenant change them.
 * It works through the owner connection: a region's users are nodes of any tenant.
 */
export class RegionService {
  constructor(
    private readonly system: PrismaClient,
    private readonly isPlatformAdmin: (principal: Principal) => Promise<boolean>,
  ) {}

  async createRegion(principal: Principal, rawInput: unknown) {
    await this.assertPlatformAdmin(principal);
    const input = parseCreateRegion(rawInput);
    try {
      return await this.system.region.create({ data: { ...input, metadata: input.metadata as Prisma.InputJsonObject } });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`region ${input.code} exists`, 'code');
      throw error;
    }
  }

  async updateRegion(principal: Principal, regionId: string, rawInput: unknown) {
    await this.assertPlatformAdmin(principal);
    const { metadata, ...columns } = parseUpdateRegion(rawInput);
    const updated = await this.system.region.updateMany({
      where: { id: regionId },
      data: { ...columns, ...(metadata ? { metadata: metadata as Prisma.InputJsonObject } : {}) },
    });
    if (updated.count === 0) throw new NotFoundError('Region', regionId);
    return this.system.region.findUniqueOrThrow({ where: { id: regionId } });
  }

  /** Removes a region no node or environment is in; those are moved or removed first. */
  async deleteRegion(principal: Principal, regionId: string): Promise<string> {
    await this.assertPlatformAdmin(principal);
    return this.system.$transaction(async (tx) => {
      const [region] = await tx.$queryRaw<{ region_id: string }[]>`SELECT region_id::text FROM regions WHERE region_id = ${regionId}::uuid FOR UPDATE`;
      if (!region) throw new NotFoundError('Region', regionId);
      const nodes = await tx.node.count({ where: { regionId } });
      if (nodes > 0) throw new ResourceInUseError('Region', regionId, 'nodes', nodes);
      const environments = await tx.environment.count({ where: { regionId } });
      if (environments > 0) throw new ResourceInUseError('Region', regionId, 'environments', environments);
      await tx.region.delete({ where: { id: regionId } });
      return regionId;
    });
  }

  private async assertPlatformAdmin(principal: Principal): Promise<void> {
    if (!(await this.isPlatformAdmin(principal))) throw new ForbiddenError('regions are shared by every tenant: only administrators of the platform tenant change them');
  }
}
