import { createHash } from 'node:crypto';
import type { PrismaClient } from './generated/prisma/client.js';
import { hashPassword } from './modules/identity/password.js';

/** The demo tenant is the platform tenant of a fresh install: its admin may create other tenants. */
export const DEFAULT_TENANT = { slug: 'demo', name: 'Demo' } as const;
/** Demo users sign in with this password unless DEMO_PASSWORD says otherwise; never for production. */
export const DEMO_PASSWORD_FALLBACK = 'omega-demo-password';

/** Stable UUIDs for demo rows, so seeding twice updates nothing and creates nothing new. */
function demoId(name: string): string {
  const hex = createHash('sha256').update(`omega-demo:${name}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const REGIONS = [
  { code: 'us-east-1', name: 'US East (Virginia)', provider: 'aws', location: 'Ashburn, VA' },
  { code: 'eu-west-1', name: 'EU West (Ireland)', provider: 'aws', location: 'Dublin' },
  { code: 'ap-southeast-1', name: 'Asia Pacific (Singapore)', provider: 'gcp', location: 'Singapore' },
];

const ROLES = ['admin', 'operator', 'user', 'readonly'] as const;

const MODELS = [
  { modelId: 'llama-3.1-8b-instruct', name: 'Llama 3.1 8B Instruct', family: 'llama', format: 'LLAMA3', parameterSize: '8B', quantization: 'FP16', contextLength: 131072, gpuMemoryRequiredGb: 18, priceIn: 0.15, priceOut: 0.6 },
  { modelId: 'llama-3.1-70b-instruct', name: 'Llama 3.1 70B Instruct', family: 'llama', format: 'LLAMA3', parameterSize: '70B', quantization: 'FP8', contextLength: 131072, gpuMemoryRequiredGb: 80, priceIn: 0.9, priceOut: 2.8 },
  { modelId: 'mistral-7b-instruct-q4', name: 'Mistral 7B Instruct (Q4_K_M)', family: 'mistral', format: 'MISTRAL', parameterSize: '7B', quantization: 'Q4_K_M', contextLength: 32768, gpuMemoryRequiredGb: 6, priceIn: 0.05, priceOut: 0.2, filePath: 'models/mistral-7b-instruct.Q4_K_M.gguf', fileSizeMb: 4370 },
  { modelId: 'phi-3-mini-4k', name: 'Phi-3 Mini 4K', family: 'phi', format: 'PHI', parameterSize: '3.8B', quantization: 'Q5_K_M', contextLength: 4096, gpuMemoryRequiredGb: 4, priceIn: 0.03, priceOut: 0.12, filePath: 'models/phi-3-mini-4k.Q5_K_M.gguf', fileSizeMb: 2820 },
];

/** Twenty nodes: GPU nodes of three kinds, CPU compute nodes, storage and a control node. */
function demoNodes() {
  const gpuKinds = [
    { gpuType: 'H100', gpuMemoryGb: 80, pricePerHour: 3.2 },
    { gpuType: 'A100', gpuMemoryGb: 40, pricePerHour: 1.9 },
    { gpuType: 'L4', gpuMemoryGb: 24, pricePerHour: 0.7 },
  ];
  const nodes = [];
  for (let i = 1; i <= 20; i += 1) {
    const region = REGIONS[i % REGIONS.length]!;
    const kind = i <= 12 ? 'gpu' : i <= 17 ? 'compute' : i <= 19 ? 'storage' : 'control';
    const gpu = kind === 'gpu' ? gpuKinds[i % gpuKinds.length]! : undefined;
    const gpuCount = gpu ? (i % 2 === 0 ? 8 : 4) : 0;
    nodes.push({
      id: demoId(`node:${i}`),
      hostname: `${kind}-${String(i).padStart(2, '0')}.${region.code}.omega.internal`,
      ipAddress: `10.${i % 3}.${Math.floor(i / 10)}.${10 + i}`,
      nodeType: kind,
      status: i % 10 === 0 ? 'maintenance' : 'active',
      totalCpuCores: kind === 'gpu' ? 96 : kind === 'storage' ? 32 : 64,
      totalMemoryGb: kind === 'gpu' ? 1024 : 256,
      totalStorageGb: kind === 'storage' ? 100_000 : 3840,
      gpuCount,
      gpuMemoryGb: gpu ? gpu.gpuMemoryGb * gpuCount : 0,
      gpuType: gpu?.gpuType,
      pricePerHour: gpu ? gpu.pricePerHour * gpuCount : 0.4,
      regionCode: region.code,
      provider: region.provider,
      labels: { zone: `${region.code}${'abc'[i % 3]}`, tier: i % 4 === 0 ? 'spot' : 'on-demand', ...(gpu ? { accelerator: gpu.gpuType.toLowerCase() } : {}) },
    });
  }
  return nodes;
}

/**
 * Fills the database with a demo tenant, its environments, users of each role (demo-admin,
 * demo-operator, demo-user, demo-readonly), three regions,
 * twenty nodes with resources and a few models. Idempotent. Returns false when skipped.
 */
export async function seedDemoData(prisma: PrismaClient, options: { onlyIfEmpty?: boolean; password?: string } = {}): Promise<boolean> {
  const tenant = await prisma.tenant.upsert({
    where: { slug: DEFAULT_TENANT.slug },
    create: { slug: DEFAULT_TENANT.slug, name: DEFAULT_TENANT.name, billingEmail: 'billing@demo.example', isPlatform: true },
    update: {},
  });
  if (options.onlyIfEmpty && (await prisma.node.count({ where: { tenantId: tenant.id } })) > 0) return false;

  const regionIds = new Map<string, string>();
  for (const region of REGIONS) {
    const row = await prisma.region.upsert({ where: { code: region.code }, create: region, update: {} });
    regionIds.set(region.code, row.id);
  }
  for (const name of ['dev', 'staging', 'prod']) {
    await prisma.environment.upsert({
      where: { tenantId_name: { tenantId: tenant.id, name } },
      create: { tenantId: tenant.id, name, regionId: regionIds.get('us-east-1') },
      update: {},
    });
  }
  const passwordHash = await hashPassword(options.password ?? DEMO_PASSWORD_FALLBACK);
  for (const role of ROLES) {
    const user = await prisma.user.upsert({
      where: { username: `demo-${role}` },
      create: { tenantId: tenant.id, username: `demo-${role}`, email: `${role}@demo.example`, fullName: `Demo ${role}`, role },
      update: {},
    });
    await prisma.credential.upsert({ where: { userId: user.id }, create: { tenantId: tenant.id, userId: user.id, passwordHash }, update: {} });
  }
  for (const model of MODELS) {
    const { priceIn, priceOut, ...columns } = model;
    await prisma.model.upsert({
      where: { modelId: model.modelId },
      create: { ...columns, provider: 'omega', priceInputPerMillion: priceIn, priceOutputPerMillion: priceOut },
      update: {},
    });
  }
  for (const node of demoNodes()) {
    const { regionCode, ...columns } = node;
    const resources = [
      { resourceType: 'cpu', totalCapacity: node.totalCpuCores, unit: 'cores' },
      { resourceType: 'memory', totalCapacity: node.totalMemoryGb, unit: 'GB' },
      { resourceType: 'storage', totalCapacity: node.totalStorageGb, unit: 'GB' },
      ...(node.gpuCount > 0 ? [{ resourceType: 'gpu', totalCapacity: node.gpuCount, unit: 'devices' }] : []),
    ];
    await prisma.node.upsert({
      where: { id: node.id },
      create: {
        ...columns,
        tenantId: tenant.id,
        regionId: regionIds.get(regionCode),
        lastHeartbeat: node.status === 'active' ? new Date() : null,
        resources: { create: resources.map((resource) => ({ ...resource, tenantId: tenant.id })) },
      },
      update: {},
    });
  }
  return true;
}
