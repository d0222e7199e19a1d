import { isIP } from 'node:net';
import { z } from 'zod';
import { parseInput } from '../shared/validation.js';
import { networkInterfaceInput } from './network.validation.js';

export const NODE_TYPES = ['control', 'compute', 'storage', 'gpu', 'hybrid'] as const;
export const NODE_STATUSES = ['active', 'inactive', 'draining', 'failed', 'maintenance'] as const;
export const RESOURCE_TYPES = ['cpu', 'memory', 'storage', 'gpu', 'network'] as const;

/** What an operator may set by hand; `failed` is the heartbeat monitor's verdict. */
export const SETTABLE_NODE_STATUSES = ['active', 'inactive', 'draining', 'maintenance'] as const;

export type NodeType = (typeof NODE_TYPES)[number];
export type NodeStatus = (typeof NODE_STATUSES)[number];
export type ResourceType = (typeof RESOURCE_TYPES)[number];

const capacity = z.number().finite().positive().max(1e10);
const name = (max: number) => z.string().trim().min(1).max(max);
const jsonObject = z.record(z.string(), z.unknown()).default({});
const hostname = z
  .string()
  .trim()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'must be a DNS hostname');

/** A machine's stable identity as its agent reads it (/etc/machine-id or one it generated and kept). */
const machineId = z.string().trim().min(1).max(255).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

const resourceInput = z.object({
  resourceType: z.enum(RESOURCE_TYPES),
  totalCapacity: capacity,
  reservationCapacity: z.number().finite().min(0).default(0),
  unit: name(20),
  constraints: jsonObject,
});

type NetworkInterface = z.output<typeof networkInterfaceInput>;

/** A resource type or an interface name listed twice is a mistake, not a last-one-wins. */
function refineListsOnce(input: { resources?: { resourceType: string }[]; interfaces?: NetworkInterface[] }, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  input.resources?.forEach((resource, index) => {
    if (seen.has(resource.resourceType)) {
      ctx.addIssue({ code: 'custom', path: ['resources', index, 'resourceType'], message: `${resource.resourceType} is listed twice` });
    }
    seen.add(resource.resourceType);
  });
  const names = new Set<string>();
  input.interfaces?.forEach((networkInterface, index) => {
    if (names.has(networkInterface.interfaceName)) {
      ctx.addIssue({ code: 'custom', path: ['interfaces', index, 'interfaceName'], message: `${networkInterface.interfaceName} is listed twice` });
    }
    names.add(networkInterface.interfaceName);
  });
}

const registerNodeInput = z
  .object({
    hostname,
    machineId: machineId.optional(),
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
    dockerVersion: name(50).optional(),
    labels: jsonObject,
    annotations: jsonObject,
    capabilities: jsonObject,
    regionId: z.uuid().optional(),
    provider: name(50).optional(),
    instanceType: name(100).optional(),
    spotInstance: z.boolean().default(false),
    pricePerHour: z.number().finite().min(0).max(1e6).optional(),
    resources: z.array(resourceInput).max(RESOURCE_TYPES.length).optional(),
    interfaces: z.array(networkInterfaceInput).max(64).default([]),
  })
  .superRefine((input, ctx) => {
    refineListsOnce(input, ctx);
    if (input.gpuCount === 0 && input.gpuMemoryGb > 0) {
      ctx.addIssue({ code: 'custom', path: ['gpuMemoryGb'], message: 'must be 0 when gpuCount is 0' });
    }
  });

export type RegisterNodeInput = z.output<typeof registerNodeInput>;

/** A resource to add or resize; what it omits (reservation, unit, constraints) stays as it is. */
const resourceChange = z.object({
  resourceType: z.enum(RESOURCE_TYPES),
  totalCapacity: capacity,
  reservationCapacity: z.number().finite().min(0).optional(),
  unit: name(20).optional(),
  constraints: z.record(z.string(), z.unknown()).optional(),
});

export type NodeResourceChange = z.output<typeof resourceChange>;
export type NodeResourceInput = z.output<typeof resourceInput>;

export const parseRegisterNode = (input: unknown): RegisterNodeInput => parseInput(registerNodeInput, input);

const optionalJsonObject = z.record(z.string(), z.unknown()).optional();

const updateNodeInput = z
  .object({
    hostname: hostname.optional(),
    ipAddress: z.string().trim().refine((value) => isIP(value) !== 0, 'must be an IPv4 or IPv6 address').optional(),
    osVersion: name(100).nullable().optional(),
    kernelVersion: name(100).nullable().optional(),
    dockerVersion: name(50).nullable().optional(),
    gpuType: name(50).nullable().optional(),
    labels: optionalJsonObject,
    annotations: optionalJsonObject,
    capabilities: optionalJsonObject,
    regionId: z.uuid().nullable().optional(),
    provider: name(50).nullable().optional(),
    instanceType: name(100).nullable().optional(),
    pricePerHour: z.number().finite().min(0).max(1e6).nullable().optional(),
    resources: z.array(resourceChange).min(1).max(RESOURCE_TYPES.length).optional(),
    interfaces: z.array(networkInterfaceInput).max(64).optional(),
  })
  .refine((input) => Object.values(input).some((value) => value !== undefined), { message: 'names no field to change' })
  .superRefine(refineListsOnce);

export type UpdateNodeInput = z.output<typeof updateNodeInput>;

export const parseUpdateNode = (input: unknown): UpdateNodeInput => parseInput(updateNodeInput, input);

export const parseSettableNodeStatus = (status: unknown) =>
  parseInput(z.object({ status: z.enum(SETTABLE_NODE_STATUSES, { message: `must be one of ${SETTABLE_NODE_STATUSES.join(', ')}` }) }), { status }).status;


const amount = z.number().finite().min(0).max(1e10);

const capacityRequest = z.object({
  cpu: amount.default(0),
  memoryGb: amount.default(0),
  gpuCount: z.number().int().min(0).max(1024).default(0),
  gpuType: name(50).optional(),
  storageGb: amount.default(0),
  labels: jsonObject,
});

export type CapacityRequest = z.output<typeof capacityRequest>;

export const parseCapacityRequest = (input: unknown): CapacityRequest => parseInput(capacityRequest, input);
