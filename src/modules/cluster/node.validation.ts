import { isIP } from 'node:net';
import { z } from 'zod';
import { parseInput } from '../shared/validation.js';

export const NODE_TYPES = ['control', 'compute', 'storage', 'gpu', 'hybrid'] as const;
export const NODE_STATUSES = ['active', 'inactive', 'draining', 'failed', 'maintenance'] as const;
export const RESOURCE_TYPES = ['cpu', 'memory', 'storage', 'gpu', 'network'] as const;

export type NodeType = (typeof NODE_TYPES)[number];
export type NodeStatus = (typeof NODE_STATUSES)[number];
export type ResourceType = (typeof RESOURCE_TYPES)[number];

const capacity = z.number().finite().positive().max(1e10);
const name = (max: number) => z.string().trim().min(1).max(max);
const jsonObject = z.record(z.string(), z.unknown()).default({});

const resourceInput = z.object({
  resourceType: z.enum(RESOURCE_TYPES),
  totalCapacity: capacity,
  reservationCapacity: z.number().finite().min(0).default(0),
  unit: name(20),
  constraints: jsonObject,
});

const registerNodeInput = z
  .object({
    hostname: z
      .string()
      .trim()
      .min(1)
      .max(255)
      .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'must be a DNS hostname'),
    ipAddress: z.string().trim().refine((value) => isIP(value) !== 0, 'must be an IPv4 or IPv6 address'),
    nodeType: z.enum(NODE_TYPES),
    status: z.enum(NODE_STATUSES).default('inactive'),
    totalCpuCores: z.number().int().positive().max(100_000),
    totalMemoryGb: capacity,
    totalStorageGb: capacity,
    gpuCount: z.number().int().min(0).max(1024).default(0),
    gpuMemoryGb: z.number().finite().min(0).max(1e6).default(0),
    gpuType: name(50).optional(),
    networkBandwidthMbps: z.number().int().positive().max(10_000_000).default(1000),
    architecture: name(20).default('x86_64'),
    osVersion: name(100).optional(),
    kernelVersion: name(100).optional(),
    labels: jsonObject,
    capabilities: jsonObject,
    resources: z.array(resourceInput).max(RESOURCE_TYPES.length).optional(),
  })
  .superRefine((input, ctx) => {
    const seen = new Set<string>();
    input.resources?.forEach((resource, index) => {
      if (seen.has(resource.resourceType)) {
        ctx.addIssue({ code: 'custom', path: ['resources', index, 'resourceType'], message: `${resource.resourceType} is listed twice` });
      }
      seen.add(resource.resourceType);
    });
    if (input.gpuCount === 0 && input.gpuMemoryGb > 0) {
      ctx.addIssue({ code: 'custom', path: ['gpuMemoryGb'], message: 'must be 0 when gpuCount is 0' });
    }
  });

export type RegisterNodeInput = z.output<typeof registerNodeInput>;
export type NodeResourceInput = z.output<typeof resourceInput>;

export const parseRegisterNode = (input: unknown): RegisterNodeInput => parseInput(registerNodeInput, input);
