import { z } from 'zod';
import { parseInput } from '../shared/validation.js';

export const REGION_STATUSES = ['active', 'degraded', 'offline'] as const;

const code = z
  .string()
  .trim()
  .min(1)
  .max(50)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be lowercase letters, digits and dashes, e.g. us-east-1');
const name = (max: number) => z.string().trim().min(1).max(max);
const metadata = z.record(z.string(), z.unknown()).refine((value) => JSON.stringify(value).length <= 8_192, 'must be at most 8192 characters as JSON');

const createRegionInput = z.object({
  code,
  name: name(255),
  provider: name(50),
  location: name(255).optional(),
  status: z.enum(REGION_STATUSES).default('active'),
  metadata: metadata.default({}),
});

const updateRegionInput = z
  .object({
    name: name(255).optional(),
    provider: name(50).optional(),
    location: name(255).nullable().optional(),
    status: z.enum(REGION_STATUSES).optional(),
    metadata: metadata.optional(),
  })
  .refine((input) => Object.values(input).some((value) => value !== undefined), { message: 'names no field to change' });

export type CreateRegionInput = z.output<typeof createRegionInput>;
export type UpdateRegionInput = z.output<typeof updateRegionInput>;

export const parseCreateRegion = (input: unknown): CreateRegionInput => parseInput(createRegionInput, input);
export const parseUpdateRegion = (input: unknown): UpdateRegionInput => parseInput(updateRegionInput, input);
