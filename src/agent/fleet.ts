import { randomUUID } from 'node:crypto';
import { pointsOf, type NodeMetricPoint } from './metric-points.js';
import { SimulatedHost, type SimulatedMachine } from './simulated-host.js';

/** A session placed on one of the fleet's nodes, as the fleet follows it. */
export interface FleetSession {
  id: string;
  nodeId: string;
  status: 'scheduled' | 'running';
  /** When it started running; null while scheduled. */
  startedAt: Date | null;
}

/** What the fleet needs of the API: the agent's calls, over HTTP or straight to the services. */
export interface FleetApi {
  recordHeartbeats(heartbeats: { nodeId: string; status: 'healthy'; load: number }[]): Promise<void>;
  ingestNodeMetrics(points: NodeMetricPoint[], idempotencyKey: string): Promise<void>;
  /** Scheduled and running sessions on these nodes. */
  sessionsOn(nodeIds: string[]): Promise<FleetSession[]>;
  /** False when the API refused it (the session moved meanwhile): the API's state stands. */
  transitionSession(sessionId: string, status: 'running' | 'completed', reason: string): Promise<boolean>;
}

export interface FleetOptions {
  /** How long a simulated session runs before it completes. */
  sessionSeconds: number;
  /** Heartbeats per call; the API takes at most 1000. */
  heartbeatBatch: number;
  /** Metric points per call; the API takes at most 10,000. */
  pointBatch: number;
}

export interface TickResult {
  heartbeats: number;
  points: number;
  started: number;
  completed: number;
}

/**
 * Simulated agents for many nodes in one process: each tick sends every node's heartbeat (batched),
 * a sample of its vitals as metrics, starts the sessions placed on its nodes and completes those
 * that ran their time. The demo cluster stays alive with it, and the agent bench measures it.
 */
export class SimulatedFleet {
  private readonly hosts = new Map<string, SimulatedHost>();
  private ticks = 0;

  constructor(
    private readonly api: FleetApi,
    private readonly options: FleetOptions,
    /** Names this fleet's metric batches apart from any other fleet's. */
    private readonly fleetId: string = randomUUID(),
  ) {}

  /** Follows exactly these machines from now on: new ones get a host, gone ones are dropped. */
  setMachines(machines: SimulatedMachine[]): void {
    const wanted = new Set(machines.map((machine) => machine.nodeId));
    for (const nodeId of this.hosts.keys()) if (!wanted.has(nodeId)) this.hosts.delete(nodeId);
    for (const machine of machines) if (!this.hosts.has(machine.nodeId)) this.hosts.set(machine.nodeId, new SimulatedHost(machine));
  }

  get size(): number {
    return this.hosts.size;
  }

  /** Heartbeats of every node, in batches; returns how many were sent. */
  async sendHeartbeats(): Promise<number> {
    const heartbeats = [...this.hosts.entries()].map(([nodeId, host]) => ({ nodeId, status: 'healthy' as const, load: host.load() }));
    for (let i = 0; i < heartbeats.length; i += this.options.heartbeatBatch) {
      await this.api.recordHeartbeats(heartbeats.slice(i, i + this.options.heartbeatBatch));
    }
    return heartbeats.length;
  }

  async tick(now: Date = new Date()): Promise<TickResult> {
    this.ticks += 1;
    if (this.hosts.size === 0) return { heartbeats: 0, points: 0, started: 0, completed: 0 };
    const heartbeats = await this.sendHeartbeats();
    const points = [...this.hosts.entries()].flatMap(([nodeId, host]) => pointsOf(nodeId, host.sample(now)));
    for (let i = 0; i < points.length; i += this.options.pointBatch) {
      await this.api.ingestNodeMetrics(points.slice(i, i + this.options.pointBatch), `fleet:${this.fleetId}:${this.ticks}:${i}`);
    }
    const { started, completed } = await this.runSessions(now);
    return { heartbeats, points: points.length, started, completed };
  }

  /** Scheduled sessions start running; running ones that had their time complete. */
  private async runSessions(now: Date): Promise<{ started: number; completed: number }> {
    let started = 0;
    let completed = 0;
    const sessions = await this.api.sessionsOn([...this.hosts.keys()]);
    for (const host of this.hosts.values()) host.runningSessions = 0;
    for (const session of sessions) {
      const host = this.hosts.get(session.nodeId);
      if (session.status === 'scheduled') {
        if (!(await this.api.transitionSession(session.id, 'running', 'started by the simulated agent'))) continue;
        started += 1;
        if (host) host.runningSessions += 1;
      } else if (session.startedAt && now.getTime() - session.startedAt.getTime() >= this.options.sessionSeconds * 1000) {
        if (await this.api.transitionSession(session.id, 'completed', `simulated work done after ${this.options.sessionSeconds} s`)) completed += 1;
      } else if (host) host.runningSessions += 1;
    }
    return { started, completed };
  }
}
