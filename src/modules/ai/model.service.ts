import type { Model, Prisma, PrismaClient } from '../../generated/prisma/client.js';
import { ConflictError, NotFoundError } from '../shared/errors.js';
import { parseCreateModel, parseUpdateModel } from './model.validation.js';
import { isForeignKeyViolation, isUniqueViolation } from '../shared/prisma-errors.js';

/** The one model catalog, global to all tenants: operators curate it, everyone reads it. */
export class ModelCatalogService {
  constructor(private readonly prisma: PrismaClient) {}

  async createModel(rawInput: unknown): Promise<Model> {
    const input = parseCreateModel(rawInput);
    try {
      return await this.prisma.model.create({ data: { ...input, metadata: input.metadata as Prisma.InputJsonObject } });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`a model with modelId ${input.modelId} already exists`, 'modelId');
      throw error;
    }
  }

  async updateModel(id: string, rawInput: unknown): Promise<Model> {
    const input = parseUpdateModel(rawInput);
    const { count } = await this.prisma.model.updateMany({
      where: { id },
      data: { ...input, metadata: input.metadata as Prisma.InputJsonObject | undefined },
    });
    if (count === 0) throw new NotFoundError('Model', id);
    return this.prisma.model.findUniqueOrThrow({ where: { id } });
  }

  /** Removes a model nothing refers to; one that deployments or usage records name is deactivated instead, by the caller. */
  async deleteModel(id: string): Promise<string> {
    try {
      const { count } = await this.prisma.model.deleteMany({ where: { id } });
      if (count === 0) throw new NotFoundError('Model', id);
      return id;
    } catch (error) {
      if (isForeignKeyViolation(error)) {
        throw new ConflictError(`model ${id} is referred to by deployments or usage records; set isActive to false instead`, 'id');
      }
      throw error;
    }
  }
}
