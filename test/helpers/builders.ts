import type { RegisterNodeInput } from '../generated/graphql.js';

let sequence = 0;

/** A GPU node an agent would register: 8 GPUs, labelled for placement. */
export function aGpuNode(overrides: Partial<RegisterNodeInput> = {}): RegisterNodeInput {
  sequence += 1;
  return {
    hostname: `gpu-${sequence}.test.omega.internal`,
    ipAddress: `10.20.0.${sequence % 250}`,
    nodeType: 'GPU',
    status: 'ACTIVE',
    totalCpuCores: 64,
    totalMemoryGb: 512,
    totalStorageGb: 2048,
    gpuCount: 8,
    gpuMemoryGb: 640,
    gpuType: 'H100',
    labels: { zone: 'a', accelerator: 'h100' },
    ...overrides,
  };
}

/** A CPU-only compute node. */
export function aComputeNode(overrides: Partial<RegisterNodeInput> = {}): RegisterNodeInput {
  return aGpuNode({ nodeType: 'COMPUTE', gpuCount: 0, gpuMemoryGb: 0, gpuType: null, labels: { zone: 'b' }, ...overrides });
}
