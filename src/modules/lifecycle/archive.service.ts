import type { Prisma } from '../../generated/prisma/client.js';

/** What the archive queries may read; their filters narrow these scopes. */
export class ArchiveService {
  /** Archived sessions of the tenant. */
  sessionsOf(tenantId: string): Prisma.SessionArchiveWhereInput {
    return { tenantId };
  }

  /** Archived system events of the tenant. */
  eventsOf(tenantId: string): Prisma.SystemEventArchiveWhereInput {
    return { tenantId };
  }
}
