import type { DemoFleetConfig } from '../config.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { BackgroundJob } from '../infra/jobs.js';
import { periodicJob } from '../infra/jobs.js';
import type { Logger } from '../infra/logger.js';
import { runInTenant } from '../infra/tenant-scope.js';
import { IllegalTransitionError, NotFoundError } from '../modules/shared/errors.js';
import type { RealtimeService } from '../modules/realtime/realtime.service.js';
import type { MetricsService } from '../modules/telemetry/metrics.service.js';
import type { ComputeSessionService } from '../modules/workloads/compute-session.service.js';
import { DEFAULT_TENANT } from '../seed.js';
import { SimulatedFleet, type FleetApi, type FleetSession } from './fleet.js';
import type { NodeMetricPoint } from './metric-points.js';

interface FleetServices {
  realtime: RealtimeService;
  metrics: MetricsService;
  computeSessions: ComputeSessionService;
}

/** The fleet's calls made straight to this instance's services, as the demo tenant's agents. */
class InProcessFleetApi implements FleetApi {
  constructor(
    private readonly services: FleetServices,
    private readonly system: PrismaClient,
    private readonly tenantId: string,
  ) {}

  async recordHeartbeats(heartbeats: { nodeId: string; status: 'healthy'; load: number }[]): Promise<void> {
    await this.services.realtime.heartbeats.recordHeartbeats(this.tenantId, heartbeats);
  }

  /** No idempotency key: an in-process call is never retried, so it would only add receipts. */
  async ingestNodeMetrics(points: NodeMetricPoint[]): Promise<void> {
    const input = { points: points.map((point) => ({ ...point, time: new Date(point.time) })) };
    await runInTenant(this.tenantId, () => this.services.metrics.ingestNodeMetrics(this.tenantId, input));
  }

  async sessionsOn(nodeIds: string[]): Promise<FleetSession[]> {
    const rows = await this.system.session.findMany({
      where: { tenantId: this.tenantId, scheduledNodeId: { in: nodeIds }, status: { in: ['scheduled', 'running'] } },
      select: { id: true, status: true, startTime: true, scheduledNodeId: true },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map((row) => ({ id: row.id, nodeId: row.scheduledNodeId!, status: row.status as FleetSession['status'], startedAt: row.startTime }));
  }

  async transitionSession(sessionId: string, status: 'running' | 'completed', reason: string): Promise<boolean> {
    const actor = { tenantId: this.tenantId, userId: null, canManage: true };
    try {
      await runInTenant(this.tenantId, () => this.services.computeSessions.transition(actor, sessionId, { status, reason }));
      return true;
    } catch (error) {
      if (error instanceof IllegalTransitionError || error instanceof NotFoundError) return false;
      throw error;
    }
  }
}

/**
 * Simulated agents for the demo tenant's nodes (DEMO_FLEET): heartbeats that keep them active (and
 * bring back the ones a restart left failed), plausible metrics, and demo sessions run to completion.
 */
export function createDemoFleetJobs(settings: DemoFleetConfig, services: FleetServices, system: PrismaClient, log: Logger): BackgroundJob[] {
  if (!settings.enabled) return [];
  let fleet: SimulatedFleet | undefined;
  const tick = async () => {
    if (!fleet) {
      const tenant = await system.tenant.findUnique({ where: { slug: DEFAULT_TENANT.slug }, select: { id: true } });
      if (!tenant) return;
      fleet = new SimulatedFleet(new InProcessFleetApi(services, system, tenant.id), { sessionSeconds: settings.sessionSeconds, heartbeatBatch: 1_000, pointBatch: 10_000 });
      log.info('demo fleet started', { tenant: DEFAULT_TENANT.slug, intervalMs: settings.intervalMs });
    }
    const nodes = await system.node.findMany({ where: { tenant: { slug: DEFAULT_TENANT.slug } }, select: { id: true, gpuCount: true } });
    fleet.setMachines(nodes.map((node) => ({ nodeId: node.id, gpuCount: node.gpuCount })));
    const result = await fleet.tick();
    if (result.started + result.completed > 0) log.info('demo fleet moved sessions', { started: result.started, completed: result.completed });
  };
  const job = periodicJob('agent.demo-fleet', settings.intervalMs, tick, log);
  return [
    {
      name: job.name,
      // The first heartbeats go out at once: after a restart the nodes come back without waiting a period.
      start() {
        job.start();
        void job.runNow();
      },
      stop: job.stop,
    },
  ];
}
