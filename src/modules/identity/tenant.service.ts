import type { PrismaClient } from '../../generated/prisma/client.js';

export const DEFAULT_TENANT = { slug: 'demo', name: 'Demo' } as const;

export class TenantService {
  constructor(private readonly prisma: PrismaClient) {}

  /** Returns the tenant with this slug, creating it when absent; safe under concurrent callers. */
  async ensureTenant(slug: string, name: string): Promise<{ id: string }> {
    return this.prisma.tenant.upsert({ where: { slug }, create: { slug, name }, update: {}, select: { id: true } });
  }
}
