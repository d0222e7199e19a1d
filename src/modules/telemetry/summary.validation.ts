import { z } from 'zod';
import { parseInput } from '../shared/validation.js';

const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD')
  .transform((text) => new Date(`${text}T00:00:00Z`))
  .refine((date) => !Number.isNaN(date.getTime()), 'is not a calendar date');

const summaryRange = z
  .object({ from: day.optional(), to: day.optional() })
  .refine((range) => !range.from || !range.to || range.from.getTime() <= range.to.getTime(), { path: ['to'], message: 'must not be before from' });

export const parseSummaryRange = (input: unknown): z.output<typeof summaryRange> => parseInput(summaryRange, input);
