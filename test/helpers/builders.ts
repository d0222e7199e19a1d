import type { PrismaClient } from '../../src/generated/prisma/client.js';
import {
  CreateSessionDocument,
  RegisterNodeDocument,
  type CreateSessionInput,
  type NetworkInterfaceInput,
  type RegisterNodeInput,
} from '../generated/graphql.js';
import { expectResult, type GraphQLClient } from './server.js';

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

/** A batch session asking for CPU and memory only, as a user submits one. */
export function aSession(overrides: Partial<CreateSessionInput> = {}): CreateSessionInput {
  sequence += 1;
  return { sessionName: `job-${sequence}`, sessionType: 'BATCH', cpuRequest: 2, memoryRequestGb: 8, maxRuntimeMinutes: 60, ...overrides };
}

/** A data-plane NIC with a MAC address unique to this test run. */
export function aNetworkInterface(overrides: Partial<NetworkInterfaceInput> = {}): NetworkInterfaceInput {
  sequence += 1;
  const octet = (sequence % 256).toString(16).padStart(2, '0');
  return { interfaceName: `eth${sequence % 8}`, macAddress: `02:00:5e:10:00:${octet}`, interfaceType: 'DATA', speedMbps: 100_000, ...overrides };
}

/** A node registered through the API (a GPU node unless the overrides say otherwise), as the API answered it. */
export async function aRegisteredNode(client: GraphQLClient, overrides: Partial<RegisterNodeInput> = {}) {
  return expectResult(await client.request(RegisterNodeDocument, { input: aGpuNode(overrides) }), 'RegisterNodeSuccess').node;
}

/** A session submitted through the API and not yet placed, as the API answered it. */
export async function aPendingSession(client: GraphQLClient, overrides: Partial<CreateSessionInput> = {}) {
  return expectResult(await client.request(CreateSessionDocument, { input: aSession(overrides) }), 'CreateSessionSuccess').session;
}

/** A running compute session of a user, written straight to the database (no placement needed); returns its UUID. */
export async function aRunningSession(system: PrismaClient, tenantId: string, userId: string): Promise<string> {
  const session = await system.session.create({
    data: { tenantId, userId, sessionName: 'training run', sessionType: 'ai_training', status: 'running', cpuRequest: 4, memoryRequestGb: 16 },
  });
  return session.id;
}

/** A Relay global ID, for rows a test creates directly in the database. */
export const globalId = (typename: string, id: string): string => Buffer.from(`${typename}:${id}`).toString('base64');

/** The UUID inside a Relay global ID. */
export const rawId = (id: string): string => Buffer.from(id, 'base64').toString('utf8').split(':').slice(1).join(':');
