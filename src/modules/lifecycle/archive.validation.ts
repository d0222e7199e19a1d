import { z } from 'zod';
import { parseInput } from '../shared/validation.js';

const period = {
  from: z.date().optional(),
  to: z.date().optional(),
};
const afterFrom = (filter: { from?: Date; to?: Date }) => !filter.from || !filter.to || filter.from.getTime() < filter.to.getTime();

const archivedSessionFilter = z
  .object({
    ...period,
    status: z.array(z.enum(['completed', 'failed', 'cancelled'])).max(3).optional(),
    userId: z.uuid().optional(),
  })
  .refine(afterFrom, { path: ['to'], message: 'must be after from' });
export type ArchivedSessionFilter = z.output<typeof archivedSessionFilter>;
export const parseArchivedSessionFilter = (input: unknown): ArchivedSessionFilter => parseInput(archivedSessionFilter, input ?? {});

const archivedEventFilter = z
  .object({
    ...period,
    eventType: z.string().max(100).optional(),
    severity: z.array(z.string().max(20)).max(10).optional(),
  })
  .refine(afterFrom, { path: ['to'], message: 'must be after from' });
export type ArchivedEventFilter = z.output<typeof archivedEventFilter>;
export const parseArchivedEventFilter = (input: unknown): ArchivedEventFilter => parseInput(archivedEventFilter, input ?? {});
