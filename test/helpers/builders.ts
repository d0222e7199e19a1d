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

/** A Relay global ID, for rows a test creates directly in the database. */
export const globalId = (typename: string, id: string): string => Buffer.from(`${typename}:${id}`).toString('base64');

/** The UUID inside a Relay global ID. */
export const rawId = (id: string): string => Buffer.from(id, 'base64').toString('utf8').split(':').slice(1).join(':');

/** Registers a GPU node through the API; returns its global ID. */
export async function aRegisteredNode(client: import('./server.js').GraphQLClient, overrides: Partial<RegisterNodeInput> = {}): Promise<string> {
  const { RegisterNodeDocument } = await import('../generated/graphql.js');
  const result = await client.request(RegisterNodeDocument, { input: aGpuNode(overrides) });
  const registered = result.data?.registerNode;
  if (registered?.__typename !== 'RegisterNodeSuccess') throw new Error(`node not registered: ${JSON.stringify(result)}`);
  return registered.node.id;
}

/** A running compute session of a user, written straight to the database (no session API needed); returns its UUID. */
export async function aComputeSession(system: import('../../src/generated/prisma/client.js').PrismaClient, tenantId: string, userId: string): Promise<string> {
  const session = await system.session.create({
    data: { tenantId, userId, sessionName: 'training run', sessionType: 'ai_training', status: 'running', cpuRequest: 4, memoryRequestGb: 16 },
  });
  return session.id;
}

/** A batch session asking for CPU and memory only, as a user submits one. */
export function aSession(overrides: Partial<import('../generated/graphql.js').CreateSessionInput> = {}): import('../generated/graphql.js').CreateSessionInput {
  sequence += 1;
  return { sessionName: `job-${sequence}`, sessionType: 'BATCH', cpuRequest: 2, memoryRequestGb: 8, maxRuntimeMinutes: 60, ...overrides };
}

/** A data-plane NIC with a MAC address unique to this test run. */
export function aNetworkInterface(overrides: Partial<import('../generated/graphql.js').NetworkInterfaceInput> = {}): import('../generated/graphql.js').NetworkInterfaceInput {
  sequence += 1;
  const octet = (sequence % 256).toString(16).padStart(2, '0');
  return { interfaceName: `eth${sequence % 8}`, macAddress: `02:00:5e:10:00:${octet}`, interfaceType: 'DATA', speedMbps: 100_000, ...overrides };
}
