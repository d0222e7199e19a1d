import { z } from 'zod';
import { parseInput } from '../shared/validation.js';

export const DEPLOYMENT_STRATEGIES = ['spread', 'packed'] as const;
export const DEPLOYMENT_STATUSES = ['pending', 'active', 'scaling', 'degraded', 'failed', 'deleting', 'deleted'] as const;
export const REPLICA_STATUSES = ['provisioning', 'ready', 'draining', 'failed'] as const;
export const AUTO_GPU_TYPE = 'auto';

export type DeploymentStrategy = (typeof DEPLOYMENT_STRATEGIES)[number];

const replicas = z.number().int().min(0).max(1000);

const createDeploymentInput = z
  .object({
    // Replica cluster names are built from it, so it keeps to DNS label characters.
    name: z
      .string()
      .trim()
      .min(1)
      .max(63)
      .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be lowercase letters, digits and inner hyphens'),
    model: z.string().trim().min(1).max(255),
    gpuType: z.string().trim().min(1).max(50).default(AUTO_GPU_TYPE),
    minReplicas: replicas.default(1),
    maxReplicas: replicas.min(1).default(1),
    desiredReplicas: replicas.optional(),
    strategy: z.enum(DEPLOYMENT_STRATEGIES).default('spread'),
    regions: z.array(z.string().trim().min(1).max(50)).max(50).default([]),
    environmentId: z.uuid().optional(),
    autoscaling: z.record(z.string(), z.unknown()).default({}),
  })
  .superRefine((input, ctx) => {
    if (input.maxReplicas < input.minReplicas) ctx.addIssue({ code: 'custom', path: ['maxReplicas'], message: 'must be at least minReplicas' });
    const desired = input.desiredReplicas;
    if (desired !== undefined && (desired < input.minReplicas || desired > input.maxReplicas)) {
      ctx.addIssue({ code: 'custom', path: ['desiredReplicas'], message: `must be between ${input.minReplicas} and ${input.maxReplicas}` });
    }
  });

export type CreateDeploymentInput = z.output<typeof createDeploymentInput>;

export const parseCreateDeployment = (input: unknown): CreateDeploymentInput => parseInput(createDeploymentInput, input);
export const parseDesiredReplicas = (input: unknown): number => parseInput(z.object({ desiredReplicas: replicas }), input).desiredReplicas;
