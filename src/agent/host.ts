import { execFile } from 'node:child_process';
import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import type { ResourceSample } from './local-store.js';

export interface GpuReading {
  name: string;
  memoryMb: number;
  utilisationPercent: number;
  temperatureC: number | null;
}

export interface HostInventory {
  hostname: string;
  ipAddress: string;
  architecture: string;
  osVersion: string;
  kernelVersion: string;
  totalCpuCores: number;
  totalMemoryGb: number;
  totalStorageGb: number;
  gpuCount: number;
  gpuMemoryGb: number;
  gpuType: string | null;
}

const GB = 1024 ** 3;
const round2 = (value: number) => Math.round(value * 100) / 100;

/** GPUs through nvidia-smi; a host without it (or without GPUs) has none. */
export function readGpus(): Promise<GpuReading[]> {
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=name,memory.total,utilization.gpu,temperature.gpu', '--format=csv,noheader,nounits'],
      { timeout: 5_000 },
      (error, stdout) => {
        if (error) return resolve([]);
        resolve(
          stdout
            .split('\n')
            .map((line) => line.split(',').map((field) => field.trim()))
            .filter((fields) => fields.length >= 4 && fields[0])
            .map(([name, memory, utilisation, temperature]) => ({
              name: name!,
              memoryMb: Number(memory) || 0,
              utilisationPercent: Number(utilisation) || 0,
              temperatureC: Number.isFinite(Number(temperature)) ? Number(temperature) : null,
            })),
        );
      },
    );
  });
}

function primaryAddress(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    const external = addresses?.find((address) => address.family === 'IPv4' && !address.internal);
    if (external) return external.address;
  }
  return '127.0.0.1';
}

async function disk(): Promise<{ totalGb: number; usedPercent: number }> {
  const stats = await statfs('/');
  const total = stats.blocks * stats.bsize;
  const free = stats.bavail * stats.bsize;
  return { totalGb: round2(total / GB), usedPercent: total > 0 ? round2((100 * (total - free)) / total) : 0 };
}

export async function readInventory(gpus: GpuReading[]): Promise<HostInventory> {
  const { totalGb } = await disk();
  return {
    hostname: os.hostname(),
    ipAddress: primaryAddress(),
    architecture: os.arch() === 'x64' ? 'x86_64' : os.arch(),
    osVersion: `${os.type()} ${os.version()}`.slice(0, 100),
    kernelVersion: os.release().slice(0, 100),
    totalCpuCores: os.cpus().length,
    totalMemoryGb: round2(os.totalmem() / GB),
    totalStorageGb: Math.max(totalGb, 0.01),
    gpuCount: gpus.length,
    gpuMemoryGb: round2(gpus.reduce((sum, gpu) => sum + gpu.memoryMb, 0) / 1024),
    gpuType: gpus[0]?.name.slice(0, 50) ?? null,
  };
}

/** Bytes received and sent over every interface but loopback, from /proc/net/dev (0 where absent). */
async function networkBytes(): Promise<{ rx: number; tx: number }> {
  try {
    const text = await readFile('/proc/net/dev', 'utf8');
    let rx = 0;
    let tx = 0;
    for (const line of text.split('\n').slice(2)) {
      const [name, data] = line.split(':');
      if (!data || name!.trim() === 'lo') continue;
      const fields = data.trim().split(/\s+/).map(Number);
      rx += fields[0] ?? 0;
      tx += fields[8] ?? 0;
    }
    return { rx, tx };
  } catch {
    return { rx: 0, tx: 0 };
  }
}

/** CPU use between two calls, from the kernel's per-core time counters. */
export class CpuMeter {
  private last = CpuMeter.times();

  private static times(): { idle: number; total: number } {
    return os.cpus().reduce(
      (sum, cpu) => {
        const total = cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq + cpu.times.idle;
        return { idle: sum.idle + cpu.times.idle, total: sum.total + total };
      },
      { idle: 0, total: 0 },
    );
  }

  percent(): number {
    const now = CpuMeter.times();
    const total = now.total - this.last.total;
    const idle = now.idle - this.last.idle;
    this.last = now;
    return total > 0 ? round2((100 * (total - idle)) / total) : 0;
  }
}

export async function readVitals(cpu: CpuMeter, gpus: GpuReading[]): Promise<ResourceSample> {
  const [{ usedPercent }, network] = await Promise.all([disk(), networkBytes()]);
  const gpuUsage = gpus.length > 0 ? round2(gpus.reduce((sum, gpu) => sum + gpu.utilisationPercent, 0) / gpus.length) : null;
  const temperatures = gpus.flatMap((gpu) => (gpu.temperatureC === null ? [] : [gpu.temperatureC]));
  return {
    timestamp: new Date().toISOString(),
    cpuUsage: cpu.percent(),
    memoryUsage: round2((100 * (os.totalmem() - os.freemem())) / os.totalmem()),
    diskUsage: usedPercent,
    networkRxBytes: network.rx,
    networkTxBytes: network.tx,
    gpuUsage,
    temperature: temperatures.length > 0 ? Math.max(...temperatures) : null,
  };
}

/** The load a heartbeat reports: the one-minute load average per core, from 0 to 1. */
export const loadFraction = (): number => Math.min(1, Math.max(0, os.loadavg()[0]! / Math.max(1, os.cpus().length)));

/** The machine's identity: /etc/machine-id where the system has one. */
export async function systemMachineId(): Promise<string | null> {
  try {
    const id = (await readFile('/etc/machine-id', 'utf8')).trim();
    return id || null;
  } catch {
    return null;
  }
}
