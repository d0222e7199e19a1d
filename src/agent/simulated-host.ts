import type { ResourceSample } from './local-store.js';

/** The shape of a simulated machine: what its vitals can range over. */
export interface SimulatedMachine {
  nodeId: string;
  gpuCount: number;
}

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));
const round2 = (value: number) => Math.round(value * 100) / 100;

/**
 * A simulated host driver: the vitals a real host's readers (host.ts) would give, as a random walk
 * around a per-node baseline, so dashboards show plausible, slowly moving numbers.
 */
export class SimulatedHost {
  private cpu: number;
  private memory: number;
  private gpu: number;
  private readonly disk: number;
  private rxBytes = 0;
  private txBytes = 0;
  /** Sessions this host runs now: each adds load. */
  runningSessions = 0;

  constructor(
    readonly machine: SimulatedMachine,
    private readonly random: () => number = Math.random,
  ) {
    this.cpu = 10 + 30 * random();
    this.memory = 20 + 40 * random();
    this.gpu = machine.gpuCount > 0 ? 20 + 50 * random() : 0;
    this.disk = 15 + 50 * random();
  }

  private walk(value: number, step: number, min: number, max: number): number {
    return clamp(value + (this.random() - 0.5) * 2 * step, min, max);
  }

  /** The next sample, as the agent's local_resources keeps it. */
  sample(at: Date = new Date()): ResourceSample {
    const busy = Math.min(40, this.runningSessions * 10);
    this.cpu = this.walk(this.cpu, 5, 2, 95);
    this.memory = this.walk(this.memory, 2, 5, 95);
    if (this.machine.gpuCount > 0) this.gpu = this.walk(this.gpu, 8, 0, 100);
    this.rxBytes += Math.round(1e6 + 5e6 * this.random());
    this.txBytes += Math.round(5e5 + 3e6 * this.random());
    return {
      timestamp: at.toISOString(),
      cpuUsage: round2(clamp(this.cpu + busy, 0, 100)),
      memoryUsage: round2(clamp(this.memory + busy / 2, 0, 100)),
      diskUsage: round2(this.disk),
      networkRxBytes: this.rxBytes,
      networkTxBytes: this.txBytes,
      gpuUsage: this.machine.gpuCount > 0 ? round2(clamp(this.gpu + busy, 0, 100)) : null,
      temperature: this.machine.gpuCount > 0 ? round2(40 + this.gpu * 0.4) : null,
    };
  }

  /** The load a heartbeat reports, from 0 to 1. */
  load(): number {
    return round2(clamp(this.cpu / 100 + this.runningSessions * 0.1, 0, 1));
  }
}
