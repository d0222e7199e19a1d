import { z } from 'zod';
import { parseInput } from '../shared/validation.js';

export const POOL_TYPES = ['local', 'distributed', 'replicated', 'erasure_coded'] as const;
export const PERFORMANCE_TIERS = ['nvme', 'ssd', 'standard', 'cold'] as const;
export const ACCESS_MODES = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany'] as const;

const name = (max: number) => z.string().trim().min(1).max(max);
const gigabytes = z.number().finite().positive().max(1e12);

const createPoolInput = z.object({
  poolName: name(255),
  poolType: z.enum(POOL_TYPES),
  totalCapacityGb: gigabytes,
  replicationFactor: z.number().int().min(1).max(16).default(1),
  compressionEnabled: z.boolean().default(true),
  encryptionEnabled: z.boolean().default(true),
  performanceTier: z.enum(PERFORMANCE_TIERS).default('standard'),
  nodeIds: z.array(z.uuid()).max(10_000).default([]),
  policies: z.record(z.string(), z.unknown()).default({}),
});

const updatePoolInput = z
  .object({
    poolName: name(255).optional(),
    totalCapacityGb: gigabytes.optional(),
    compressionEnabled: z.boolean().optional(),
    encryptionEnabled: z.boolean().optional(),
    performanceTier: z.enum(PERFORMANCE_TIERS).optional(),
    nodeIds: z.array(z.uuid()).max(10_000).optional(),
    policies: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((input) => Object.values(input).some((value) => value !== undefined), { message: 'names no field to change' });

const createVolumeInput = z.object({
  poolId: z.uuid(),
  volumeName: name(255),
  sizeGb: gigabytes,
  sessionId: z.uuid().optional(),
  mountPath: z
    .string()
    .trim()
    .max(500)
    .regex(/^\/[^\0]*$/, 'must be an absolute path')
    .optional(),
  accessMode: z.enum(ACCESS_MODES).default('ReadWriteOnce'),
  storageClass: name(100).optional(),
  snapshotPolicy: name(100).optional(),
  backupEnabled: z.boolean().default(false),
});

export type CreatePoolInput = z.output<typeof createPoolInput>;
export type UpdatePoolInput = z.output<typeof updatePoolInput>;
export type CreateVolumeInput = z.output<typeof createVolumeInput>;

export const parseCreatePool = (input: unknown) => parseInput(createPoolInput, input);
export const parseUpdatePool = (input: unknown) => parseInput(updatePoolInput, input);
export const parseCreateVolume = (input: unknown) => parseInput(createVolumeInput, input);
