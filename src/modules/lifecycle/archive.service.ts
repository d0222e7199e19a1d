import type { Prisma } from '../../generated/prisma/client.js';
import { parseArchivedEventFilter, parseArchivedSessionFilter } from './archive.validation.js';

const within = (filter: { from?: Date; to?: Date }) =>
  filter.from || filter.to ? { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } : undefined;

/** Filters of the archive queries; every value is bound, never spliced. */
export class ArchiveService {
  /** Archived sessions of the tenant; the period applies to when each session ended. */
  sessionsWhere(tenantId: string, rawFilter: unknown): Prisma.SessionArchiveWhereInput {
    const filter = parseArchivedSessionFilter(rawFilter);
    const ended = within(filter);
    return {
      tenantId,
      ...(filter.status?.length ? { status: { in: filter.status } } : {}),
      ...(filter.userId ? { userId: filter.userId } : {}),
      ...(ended ? { endTime: ended } : {}),
    };
  }

  /** Archived system events of the tenant; the period applies to when each event happened. */
  eventsWhere(tenantId: string, rawFilter: unknown): Prisma.SystemEventArchiveWhereInput {
    const filter = parseArchivedEventFilter(rawFilter);
    const happened = within(filter);
    return {
      tenantId,
      ...(filter.severity?.length ? { severity: { in: filter.severity } } : {}),
      ...(filter.eventType !== undefined ? { eventType: filter.eventType } : {}),
      ...(happened ? { timestamp: happened } : {}),
    };
  }
}
