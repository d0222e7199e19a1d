import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Client } from 'graphql-ws';
import { ApiClient, ApiRefusedError, ApiUnreachableError } from './api-client.js';
import { CpuMeter, loadFraction, readGpus, readInventory, readVitals, systemMachineId, type GpuReading } from './host.js';
import { LocalStore } from './local-store.js';
import { pointsOf } from './metric-points.js';
import { argvOf, processStartOf, refusal, SessionRunner, stillRunning, type CommandPolicy, type SessionOutcome } from './session-runner.js';

export interface AgentOptions {
  apiUrl: string;
  apiKey: string;
  dataDir: string;
  heartbeatIntervalMs: number;
  sampleIntervalMs: number;
  /** Samples per metrics batch (each sample is up to seven points). */
  batchSamples: number;
  /** Undelivered samples kept while the API is away; past it the oldest are dropped and counted. */
  bufferLimit: number;
  machineId?: string;
  hostname?: string;
  policy: CommandPolicy;
  log: (message: string, fields?: Record<string, unknown>) => void;
}

const REGISTER = `mutation ($input: RegisterNodeInput!) { registerNode(input: $input) { __typename ... on RegisterNodeSuccess { node { id } } ... on Error { message } } }`;
const HEARTBEAT = `mutation ($input: HeartbeatInput!) { recordHeartbeat(input: $input) { __typename ... on RecordHeartbeatSuccess { heartbeat { at } } ... on Error { message } } }`;
const INGEST = `mutation ($input: IngestNodeMetricsInput!) { ingestNodeMetrics(input: $input) { __typename ... on IngestNodeMetricsSuccess { accepted } ... on Error { message } } }`;
const TRANSITION = `mutation ($id: ID!, $status: SessionStatus!, $reason: String) { transitionSession(id: $id, status: $status, reason: $reason) { __typename ... on TransitionSessionSuccess { session { id } } ... on Error { message } } }`;
const SCHEDULED = `query ($nodeId: ID!) { sessions(first: 100, filter: { nodeId: $nodeId, status: [SCHEDULED] }) { edges { node { id } } } }`;
const SESSION = `query ($id: ID!) { session(id: $id) { id status application command cpuRequest memoryRequestGb scheduledNode { id } } }`;
// The environment with secret values opened: this node's API key alone may ask; the values go to the process only.
const OPEN_ENVIRONMENT = `mutation ($id: ID!) { openSessionEnvironment(id: $id) { __typename ... on OpenSessionEnvironmentSuccess { environment { variables } } ... on Error { message } } }`;
const ON_SESSION = `subscription { sessionStateChanged { sessionId status nodeId } }`;

/**
 * The node agent: registers its machine, sends heartbeats and metrics, and runs the sessions the
 * scheduler places on its node. Everything it owes the API waits in the local store first.
 */
export class NodeAgent {
  readonly store: LocalStore;
  private readonly api: ApiClient;
  private readonly runner = new SessionRunner();
  private readonly cpu = new CpuMeter();
  private gpus: GpuReading[] = [];
  private nodeId: string | undefined;
  private machineId = '';
  private storeId = '';
  private timers: NodeJS.Timeout[] = [];
  private subscription: Client | undefined;
  private syncing: Promise<void> | undefined;
  private reachable = true;
  private readonly starting = new Set<string>();
  private delivering: Promise<void> = Promise.resolve();
  /** Adopted sessions whose state at the API is still to be checked (one may have ended while the agent was away). */
  private unconfirmed: string[] = [];

  constructor(private readonly options: AgentOptions) {
    this.store = new LocalStore(join(options.dataDir, 'agent.sqlite'));
    this.api = new ApiClient(options.apiUrl, options.apiKey);
  }

  get registeredNodeId(): string | undefined {
    return this.nodeId;
  }

  async start(): Promise<void> {
    this.machineId = this.options.machineId ?? this.store.config('machine_id') ?? (await systemMachineId()) ?? randomUUID();
    this.store.setConfig('machine_id', this.machineId);
    this.storeId = this.store.config('store_id') ?? randomUUID();
    this.store.setConfig('store_id', this.storeId);
    this.nodeId = this.store.config('node_id');
    this.gpus = await readGpus();
    this.store.addEvent('agent.started', 'info', `agent started for machine ${this.machineId}`, { machineId: this.machineId });
    this.readopt();
    this.timers.push(setInterval(() => void this.sample(), this.options.sampleIntervalMs));
    this.timers.push(setInterval(() => void this.sync(), this.options.heartbeatIntervalMs));
    await this.sync();
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    // The sessions keep running: the next start of the agent follows them again.
    this.runner.release();
    await this.subscription?.dispose();
    await this.syncing;
    this.store.close();
  }

  private async sample(): Promise<void> {
    this.gpus = await readGpus();
    const dropped = this.store.addSample(await readVitals(this.cpu, this.gpus), this.options.bufferLimit);
    if (dropped > 0) this.store.addEvent('buffer.dropped', 'warning', `${dropped} oldest samples dropped: the buffer holds ${this.options.bufferLimit}`, { dropped });
  }

  /** One round with the API: register if needed, heartbeat, then replay what waits, oldest first. */
  sync(): Promise<void> {
    this.syncing ??= this.syncOnce().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    try {
      if (!this.nodeId) await this.register();
      await this.api.mutate(HEARTBEAT, { input: { nodeId: this.nodeId, status: 'HEALTHY', load: loadFraction() } }, 'recordHeartbeat', 'RecordHeartbeatSuccess');
      this.setReachable(true);
      this.subscribe();
      await this.deliverTransitions();
      await this.deliverMetrics();
      await this.pickUpScheduledSessions();
      await this.confirmAdopted();
    } catch (error) {
      if (error instanceof ApiUnreachableError) return this.setReachable(false, error.message);
      this.options.log('sync failed', { error: (error as Error).message });
    }
  }

  private setReachable(reachable: boolean, reason?: string): void {
    if (reachable === this.reachable) return;
    this.reachable = reachable;
    if (reachable) this.store.addEvent('api.reachable', 'info', 'the API answers again; replaying what was buffered');
    else this.store.addEvent('api.unreachable', 'warning', `the API is unreachable: ${reason}`, { reason });
    this.options.log(reachable ? 'api reachable' : 'api unreachable', { reason, buffered: this.store.undeliveredSamples() });
  }

  /** Registers the machine; the API returns the same node for the same machine identity every time. */
  private async register(): Promise<void> {
    const inventory = await readInventory(this.gpus);
    const result = await this.api.mutate<{ node: { id: string } }>(
      REGISTER,
      {
        input: {
          ...inventory,
          hostname: this.options.hostname ?? inventory.hostname,
          machineId: this.machineId,
          nodeType: inventory.gpuCount > 0 ? 'GPU' : 'COMPUTE',
          status: 'ACTIVE',
          capabilities: { agent: 'omega-node-agent', runsCommands: this.options.policy.runCommands },
        },
      },
      'registerNode',
      'RegisterNodeSuccess',
    );
    this.nodeId = result.node.id;
    this.store.setConfig('node_id', this.nodeId);
    this.store.addEvent('node.registered', 'info', `registered as node ${this.nodeId}`, { nodeId: this.nodeId });
    this.options.log('registered', { nodeId: this.nodeId, machineId: this.machineId });
  }

  private subscribe(): void {
    if (this.subscription) return;
    // Each (re)connection may have missed events: look for scheduled sessions again.
    this.subscription = this.api.subscriptions(() => void this.pickUpScheduledSessions().catch(() => undefined));
    this.subscription.subscribe<{ sessionStateChanged: { sessionId: string; status: string; nodeId: string | null } }>(
      { query: ON_SESSION },
      {
        next: ({ data }) => {
          const event = data?.sessionStateChanged;
          if (!event || event.nodeId !== this.nodeId) return;
          if (event.status === 'SCHEDULED') void this.startSession(event.sessionId).catch((error: unknown) => this.options.log('session not started', { error: String(error) }));
          else if (['CANCELLED', 'FAILED', 'COMPLETED'].includes(event.status) && this.runner.stop(event.sessionId)) {
            this.store.upsertSession(event.sessionId, event.status.toLowerCase(), null, {});
            this.store.addEvent('session.stopped', 'info', `session ${event.sessionId} stopped: the API says ${event.status}`, { sessionId: event.sessionId });
          }
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
  }

  private async pickUpScheduledSessions(): Promise<void> {
    if (!this.nodeId) return;
    const data = await this.api.request<{ sessions: { edges: { node: { id: string } }[] } }>(SCHEDULED, { nodeId: this.nodeId });
    for (const edge of data.sessions.edges) await this.startSession(edge.node.id);
  }

  /** Starts a session placed on this node once, or reports it failed when the policy refuses its command. */
  private async startSession(sessionId: string): Promise<void> {
    // The subscription and the periodic look may both find a session: one of them starts it.
    if (this.store.session(sessionId) || this.starting.has(sessionId)) return;
    this.starting.add(sessionId);
    try {
      await this.startOnce(sessionId);
    } finally {
      this.starting.delete(sessionId);
    }
  }

  private async startOnce(sessionId: string): Promise<void> {
    const { session } = await this.api.request<{
      session: { status: string; application: string | null; command: string[]; cpuRequest: number; memoryRequestGb: number } | null;
    }>(SESSION, { id: sessionId });
    if (!session || session.status !== 'SCHEDULED' || this.store.session(sessionId)) return;
    const limits = { cpuRequest: session.cpuRequest, memoryRequestGb: session.memoryRequestGb };
    const argv = argvOf(session);
    const policyRefusal = refusal(this.options.policy, argv);
    const environment = policyRefusal ? { ok: false as const, reason: policyRefusal } : await this.openEnvironment(sessionId);
    if (!environment.ok) {
      this.store.upsertSession(sessionId, 'failed', null, limits);
      this.queueTransition(sessionId, 'failed', environment.reason);
    } else {
      this.queueTransition(sessionId, 'running', null);
      const pid = this.runner.start({ sessionId, argv, environment: environment.variables }, (outcome) => this.ended(sessionId, outcome));
      if (pid === null) this.store.upsertSession(sessionId, 'running', null, limits);
      else this.store.recordStart(sessionId, pid, processStartOf(pid), limits);
    }
    await this.deliverTransitions();
  }

  private ended(sessionId: string, outcome: SessionOutcome): void {
    this.store.recordEnd(sessionId, outcome.status, outcome.exitCode, outcome.status === 'failed' ? outcome.reason : 'exit code 0');
    void this.deliverTransitions().catch(() => undefined);
  }

  /**
   * What the last run of the agent left running: a process still alive (the same pid and start time)
   * is followed again; one gone while no agent watched is reported failed, its exit code unknown.
   */
  private readopt(): void {
    for (const { sessionId, pid, processStart } of this.store.runningSessions()) {
      if (stillRunning(pid, processStart)) {
        this.runner.adopt(sessionId, pid, processStart, (outcome) => this.ended(sessionId, outcome));
        this.unconfirmed.push(sessionId);
        this.store.addEvent('session.adopted', 'info', `session ${sessionId}: its process ${pid} still runs and is followed again`, { sessionId, pid });
      } else {
        this.store.recordEnd(sessionId, 'failed', null, `its process (pid ${pid}) ended while the agent was not running; its exit code is unknown`);
      }
    }
  }

  /** Stops an adopted session the API ended while the agent was away. */
  private async confirmAdopted(): Promise<void> {
    while (this.unconfirmed.length > 0) {
      const sessionId = this.unconfirmed[0]!;
      const { session } = await this.api.request<{ session: { status: string } | null }>(SESSION, { id: sessionId });
      if (session && session.status !== 'RUNNING' && this.runner.stop(sessionId)) {
        this.store.upsertSession(sessionId, session.status.toLowerCase(), null, {});
        this.store.addEvent('session.stopped', 'info', `session ${sessionId} stopped: the API says ${session.status}`, { sessionId });
      }
      this.unconfirmed.shift();
    }
  }

  /** The session's variables, secrets opened, kept in memory for the process alone: never stored or logged. */
  private async openEnvironment(sessionId: string): Promise<{ ok: true; variables: Record<string, string> } | { ok: false; reason: string }> {
    try {
      const result = await this.api.mutate<{ environment: { variables: Record<string, string> } }>(OPEN_ENVIRONMENT, { id: sessionId }, 'openSessionEnvironment', 'OpenSessionEnvironmentSuccess');
      return { ok: true, variables: result.environment.variables };
    } catch (error) {
      if (!(error instanceof ApiRefusedError)) throw error;
      return { ok: false, reason: `the API refused this agent the session's environment: ${error.message}` };
    }
  }

  private queueTransition(sessionId: string, status: 'running' | 'completed' | 'failed', reason: string | null): void {
    this.store.addEvent('session.transition', status === 'failed' ? 'warning' : 'info', `session ${sessionId} ${status}${reason ? `: ${reason}` : ''}`, {
      sessionId,
      status,
      reason,
    });
  }

  /** Tells the API every queued transition in order, one delivery at a time (a process may end during a sync). */
  private deliverTransitions(): Promise<void> {
    const next = this.delivering.catch(() => undefined).then(() => this.deliverPendingTransitions());
    this.delivering = next;
    return next;
  }

  /** One pass over the queued transitions; one the API already has (or that no longer applies) is done. */
  private async deliverPendingTransitions(): Promise<void> {
    for (const pending of this.store.pendingTransitions()) {
      try {
        await this.api.mutate(TRANSITION, { id: pending.sessionId, status: pending.status.toUpperCase(), reason: pending.reason }, 'transitionSession', 'TransitionSessionSuccess');
      } catch (error) {
        if (!(error instanceof ApiRefusedError)) throw error;
        this.options.log('transition refused; the API state stands', { sessionId: pending.sessionId, status: pending.status, reason: error.message });
      }
      this.store.markEventDelivered(pending.eventId);
    }
  }

  /** Sends buffered samples oldest first; a batch keeps its idempotency key until acknowledged. */
  private async deliverMetrics(): Promise<void> {
    if (!this.nodeId) return;
    for (let batch = this.store.nextBatch(this.options.batchSamples, `agent:${this.storeId}`); batch; batch = this.store.nextBatch(this.options.batchSamples, `agent:${this.storeId}`)) {
      const points = batch.samples.flatMap((sample) => pointsOf(this.nodeId!, sample));
      try {
        if (points.length > 0) await this.api.mutate(INGEST, { input: { points, idempotencyKey: batch.key } }, 'ingestNodeMetrics', 'IngestNodeMetricsSuccess');
      } catch (error) {
        if (!(error instanceof ApiRefusedError)) throw error;
        // A batch the API refuses as invalid never becomes valid: it is dropped, and the log says so.
        this.store.addEvent('metrics.refused', 'error', `metrics batch ${batch.key} refused: ${error.message}`, { samples: batch.samples.length });
      }
      this.store.markDelivered(batch.key);
    }
  }
}
