import { randomBytes } from 'node:crypto';
import type { Deployment, Prisma, PrismaClient } from '../../generated/prisma/client.js';
import { withExclusiveLock } from '../../infra/locks.js';
import type { Logger } from '../../infra/logger.js';
import type { PubSub } from '../../infra/pubsub.js';
import { Topic, type DeploymentChange } from '../../infra/topics.js';
import { actAsTenant, type Transaction } from '../../infra/db.js';
import { EventPublisher, pendingEvent, recordSystemEvent, type PendingEvent } from '../shared/domain-events.js';
import { CANDIDATE_ORDER, placeableNode } from '../cluster/capacity.js';
import type { ClusterSettings } from '../cluster/settings.js';
import { ConflictError, InsufficientCapacityError, NotFoundError, ValidationError } from '../shared/errors.js';
import { cheapestFittingGpuType, chooseReplicaNode, chooseReplicaToRemove, fitsModel, type ReplicaCandidate } from './deployment-placement.js';
import { autoscalingPolicy, decideScale } from './autoscaling.js';
import { AUTO_GPU_TYPE, parseCreateDeployment, parseDesiredReplicas, type DeploymentStrategy } from './deployment.validation.js';

interface Member {
  nodeId: string;
  hostname: string;
  status: string;
  regionCode: string | null;
  createdAt: Date;
}

interface Locked {
  deployment: Deployment;
  modelKey: string;
  requiredGb: number;
}

/** A change made during a reconcile, recorded once the deployment's final counts are known. */
interface Change {
  change: DeploymentChange;
  message: string;
  nodeId: string | null;
  severity: 'info' | 'warning';
}

/**
 * Model deployments (CrossLogic): a replica is one GPU node (one cluster = one node) claimed from
 * the tenant's idle nodes of the deployment's GPU type. The reconciler keeps the replica count at
 * the desired count, within min and max, and replaces replicas whose node failed.
 */
export class DeploymentService {
  private readonly events: EventPublisher;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly system: PrismaClient,
    pubsub: PubSub,
    log: Logger,
    private readonly settings: ClusterSettings,
  ) {
    this.events = new EventPublisher(pubsub, log);
  }

  async createDeployment(tenantId: string, rawInput: unknown) {
    const input = parseCreateDeployment(rawInput);
    const created = await this.prisma.$transaction(async (tx) => {
      const model = await tx.model.findUnique({ where: { modelId: input.model } });
      if (!model || !model.isActive) throw new NotFoundError('Model', input.model);
      const known = await tx.region.findMany({ where: { code: { in: input.regions } }, select: { code: true } });
      const knownCodes = new Set(known.map((region) => region.code));
      const unknown = input.regions.flatMap((code, index) => (knownCodes.has(code) ? [] : [{ path: `regions.${index}`, message: `no region ${code}` }]));
      if (unknown.length > 0) throw new ValidationError(unknown);
      if (input.environmentId) {
        const environment = await tx.environment.findFirst({ where: { id: input.environmentId, tenantId }, select: { id: true } });
        if (!environment) throw new NotFoundError('Environment', input.environmentId);
      }
      if (await tx.deployment.findFirst({ where: { tenantId, name: input.name }, select: { id: true } })) {
        throw new ConflictError(`a deployment named ${input.name} exists`, 'name');
      }
      const requiredGb = model.gpuMemoryRequiredGb?.toNumber() ?? 0;
      const gpuNodes = await this.gpuNodes(tx, tenantId, input.regions, null);
      const resolvedGpuType = this.resolveGpuType(input.gpuType, gpuNodes, requiredGb, model.modelId, input.regions);
      const deployment = await tx.deployment.create({
        data: {
          tenantId,
          name: input.name,
          modelId: model.id,
          environmentId: input.environmentId,
          gpuType: input.gpuType,
          resolvedGpuType,
          minReplicas: input.minReplicas,
          maxReplicas: input.maxReplicas,
          desiredReplicas: input.desiredReplicas ?? input.minReplicas,
          strategy: input.strategy,
          regions: input.regions,
          autoscaling: input.autoscaling as Prisma.InputJsonObject,
          status: 'pending',
        },
      });
      await recordSystemEvent(tx, {
        tenantId,
        eventType: 'deployment.created',
        severity: 'info',
        sourceComponent: 'deployments',
        message: `deployment ${deployment.name} of ${model.modelId} created on ${resolvedGpuType}${input.gpuType === AUTO_GPU_TYPE ? ' (auto)' : ''}`,
        details: { deploymentId: deployment.id, model: model.modelId, gpuType: input.gpuType, resolvedGpuType, desiredReplicas: deployment.desiredReplicas },
      });
      return deployment;
    });
    await this.events.publish(Topic.DeploymentChanged, this.changeOf(created, 'created', null));
    return this.reconcile(tenantId, created.id);
  }

  /** Sets the desired replica count, within min and max, and reconciles towards it at once. */
  async scaleDeployment(tenantId: string, deploymentId: string, rawDesired: unknown) {
    const desired = parseDesiredReplicas({ desiredReplicas: rawDesired });
    return this.withLockedDeployment(tenantId, deploymentId, async (tx, locked, events) => {
      const { deployment } = locked;
      if (desired < deployment.minReplicas || desired > deployment.maxReplicas) {
        throw new ValidationError([{ path: 'desiredReplicas', message: `must be between ${deployment.minReplicas} and ${deployment.maxReplicas}` }]);
      }
      const changes: Change[] = [];
      if (desired !== deployment.desiredReplicas) {
        locked.deployment = await tx.deployment.update({ where: { id: deploymentId }, data: { desiredReplicas: desired } });
        changes.push({ change: 'scaled', message: `scaled from ${deployment.desiredReplicas} to ${desired} replicas`, nodeId: null, severity: 'info' });
      }
      return this.reconcileLocked(tx, locked, events, changes);
    });
  }

  /** Releases every replica's node and removes the deployment. */
  async deleteDeployment(tenantId: string, deploymentId: string): Promise<string> {
    await this.withLockedDeployment(tenantId, deploymentId, async (tx, { deployment }, events) => {
      for (const member of await this.members(tx, tenantId, deploymentId)) await this.releaseNode(tx, tenantId, member.nodeId);
      await tx.deployment.delete({ where: { id: deploymentId } });
      await this.record(tx, { ...deployment, currentReplicas: 0, status: 'deleted' }, { change: 'deleted', message: 'deleted; its nodes are free', nodeId: null, severity: 'info' }, events);
      return deployment;
    });
    return deploymentId;
  }

  /** Reconciles one deployment now. */
  async reconcile(tenantId: string, deploymentId: string) {
    return this.withLockedDeployment(tenantId, deploymentId, (tx, locked, events) => this.reconcileLocked(tx, locked, events, []));
  }

  /**
   * Reconciles every deployment of every tenant (or of one). A tenant's deployments are reconciled
   * by one instance at a time, inside the transaction holding its lock.
   */
  async runReconciler(onlyTenantId?: string): Promise<{ deployments: number }> {
    const tenantIds = onlyTenantId
      ? [onlyTenantId]
      : // In a transaction, so the embedded database's socket server keeps the statement's messages together.
        (await this.system.$transaction((tx) => tx.$queryRaw<{ tenant_id: string }[]>`SELECT DISTINCT tenant_id::text FROM deployments`)).map((row) => row.tenant_id);
    let deployments = 0;
    for (const tenantId of tenantIds) {
      const events: PendingEvent[] = [];
      const visited = await withExclusiveLock(
        this.system,
        `workloads.deployments:${tenantId}`,
        async (tx) => {
          await actAsTenant(tx, tenantId);
          const ids = await tx.deployment.findMany({ where: { tenantId }, select: { id: true }, orderBy: { createdAt: 'asc' } });
          for (const { id } of ids) {
            const locked = await this.lockDeployment(tx, tenantId, id);
            await this.reconcileLocked(tx, locked, events, []);
          }
          return ids.length;
        },
        300_000,
      );
      await this.events.publishAll(events);
      deployments += visited ?? 0;
    }
    return { deployments };
  }

  /** Refuses, as not found, a deployment the tenant does not have. */
  async assertDeployment(tenantId: string, deploymentId: string): Promise<void> {
    if (!(await this.prisma.deployment.findFirst({ where: { id: deploymentId, tenantId }, select: { id: true } }))) throw new NotFoundError('Deployment', deploymentId);
  }

  private resolveGpuType(requested: string, nodes: ReplicaCandidate[], requiredGb: number, modelKey: string, regions: string[]): string {
    const where = regions.length > 0 ? ` in ${regions.join(', ')}` : '';
    if (requested === AUTO_GPU_TYPE) {
      const choice = cheapestFittingGpuType(nodes, requiredGb);
      if (!choice) throw new InsufficientCapacityError(`no GPU node${where} has ${requiredGb} GB per GPU for ${modelKey}`, this.gpuReasons(nodes, requiredGb));
      return choice.gpuType;
    }
    if (!nodes.some((node) => node.gpuType === requested && fitsModel(node, requiredGb))) {
      throw new InsufficientCapacityError(`no ${requested} node${where} has ${requiredGb} GB per GPU for ${modelKey}`, this.gpuReasons(nodes, requiredGb));
    }
    return requested;
  }

  private gpuReasons(nodes: ReplicaCandidate[], requiredGb: number): string[] {
    if (nodes.length === 0) return ['no active GPU node in the allowed regions'];
    return nodes.map((node) => `${node.hostname}: ${node.gpuType}, ${node.gpuCount > 0 ? node.gpuMemoryGb / node.gpuCount : 0} GB per GPU, ${requiredGb} GB needed`);
  }

  private async withLockedDeployment<T>(
    tenantId: string,
    deploymentId: string,
    work: (tx: Transaction, locked: Locked, events: PendingEvent[]) => Promise<T>,
  ): Promise<T> {
    const events: PendingEvent[] = [];
    const result = await this.prisma.$transaction(async (tx) => work(tx, await this.lockDeployment(tx, tenantId, deploymentId), events), {
      maxWait: 30_000,
      timeout: 60_000,
    });
    await this.events.publishAll(events);
    return result;
  }

  /** Locks the deployment's row for the rest of the transaction, so its changes serialise. */
  private async lockDeployment(tx: Transaction, tenantId: string, deploymentId: string): Promise<Locked> {
    const [row] = await tx.$queryRaw<{ id: string }[]>`
      SELECT deployment_id::text AS id FROM deployments WHERE deployment_id = ${deploymentId}::uuid AND tenant_id = ${tenantId}::uuid FOR UPDATE`;
    if (!row) throw new NotFoundError('Deployment', deploymentId);
    const { model, ...deployment } = await tx.deployment.findUniqueOrThrow({ where: { id: deploymentId }, include: { model: true } });
    return { deployment, modelKey: model.modelId, requiredGb: model.gpuMemoryRequiredGb?.toNumber() ?? 0 };
  }

  /** Drops replicas on failed nodes, then claims or releases nodes until current = desired. */
  private async reconcileLocked(tx: Transaction, locked: Locked, events: PendingEvent[], changes: Change[]) {
    let { deployment } = locked;
    const tenantId = deployment.tenantId;
    const strategy = deployment.strategy as DeploymentStrategy;
    let members = await this.members(tx, tenantId, deployment.id);

    for (const failed of members.filter((member) => member.status === 'failed')) {
      await this.releaseNode(tx, tenantId, failed.nodeId);
      changes.push({ change: 'replica_failed', message: `replica on ${failed.hostname} lost: the node failed`, nodeId: failed.nodeId, severity: 'warning' });
    }
    members = members.filter((member) => member.status !== 'failed');

    const policy = autoscalingPolicy(deployment.autoscaling);
    const decision = policy && (await decideScale(tx, { ...deployment, modelKey: locked.modelKey, nodeIds: members.map((member) => member.nodeId) }, policy, new Date()));
    if (decision) {
      changes.push({ change: 'scaled', message: `autoscaled from ${deployment.desiredReplicas} to ${decision.desired} replicas: ${decision.reason}`, nodeId: null, severity: 'info' });
      deployment = await tx.deployment.update({ where: { id: deployment.id }, data: { desiredReplicas: decision.desired } });
      locked.deployment = deployment;
    }

    const desired = Math.min(Math.max(deployment.desiredReplicas, deployment.minReplicas), deployment.maxReplicas);
    const gpuType = deployment.resolvedGpuType ?? deployment.gpuType;
    if (members.length < desired) {
      const candidates = (await this.gpuNodes(tx, tenantId, deployment.regions, gpuType)).filter((node) => fitsModel(node, locked.requiredGb));
      const perRegion = new Map<string, number>();
      for (const member of members) perRegion.set(member.regionCode ?? '', (perRegion.get(member.regionCode ?? '') ?? 0) + 1);
      while (members.length < desired && candidates.length > 0) {
        const choice = chooseReplicaNode(candidates, perRegion, strategy)!;
        candidates.splice(candidates.indexOf(choice), 1);
        if (!(await this.claimNode(tx, deployment, locked.modelKey, choice.nodeId))) continue;
        members.push({ nodeId: choice.nodeId, hostname: choice.hostname, status: 'active', regionCode: choice.regionCode, createdAt: new Date() });
        perRegion.set(choice.regionCode ?? '', (perRegion.get(choice.regionCode ?? '') ?? 0) + 1);
        changes.push({ change: 'replica_added', message: `replica added on ${choice.hostname}`, nodeId: choice.nodeId, severity: 'info' });
      }
    }
    while (members.length > desired) {
      const removed = chooseReplicaToRemove(members, strategy)!;
      await this.releaseNode(tx, tenantId, removed.nodeId);
      members = members.filter((member) => member !== removed);
      changes.push({ change: 'replica_removed', message: `replica on ${removed.hostname} removed`, nodeId: removed.nodeId, severity: 'info' });
    }

    const current = members.length;
    const status = current >= desired ? 'active' : current === 0 && deployment.status === 'pending' ? 'pending' : 'degraded';
    if (current !== deployment.currentReplicas || status !== deployment.status || desired !== deployment.desiredReplicas) {
      const previous = deployment.status;
      deployment = await tx.deployment.update({ where: { id: deployment.id }, data: { currentReplicas: current, status, desiredReplicas: desired } });
      locked.deployment = deployment;
      if (previous !== status) {
        changes.push({ change: 'status_changed', message: `${previous} -> ${status} (${current}/${desired} replicas)`, nodeId: null, severity: status === 'degraded' ? 'warning' : 'info' });
      }
    }
    for (const change of changes) await this.record(tx, deployment, change, events);
    return deployment;
  }

  private async members(tx: Transaction, tenantId: string, deploymentId: string): Promise<Member[]> {
    const rows = await tx.deploymentNode.findMany({
      where: { tenantId, deploymentId },
      include: { node: { select: { hostname: true, status: true, region: { select: { code: true } } } } },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map((row) => ({ nodeId: row.nodeId, hostname: row.node.hostname, status: row.node.status, regionCode: row.node.region?.code ?? null, createdAt: row.createdAt }));
  }

  /** Idle GPU nodes that may serve a replica: active, heartbeat fresh, in an allowed region, unclaimed, running no sessions. */
  private async gpuNodes(tx: Transaction, tenantId: string, regions: string[], gpuType: string | null): Promise<ReplicaCandidate[]> {
    return tx.$queryRaw<ReplicaCandidate[]>`
      SELECT n.node_id::text AS "nodeId", n.hostname, n.gpu_type AS "gpuType", n.gpu_count AS "gpuCount",
             n.gpu_memory_gb::float8 AS "gpuMemoryGb", n.price_per_hour::float8 AS "pricePerHour", r.code AS "regionCode"
      FROM nodes n
      LEFT JOIN regions r ON r.region_id = n.region_id
      WHERE n.tenant_id = ${tenantId}::uuid
        AND ${placeableNode(this.settings.heartbeatTimeoutSeconds)}
        AND n.gpu_type IS NOT NULL AND n.gpu_count > 0
        AND (${gpuType}::text IS NULL OR n.gpu_type = ${gpuType}::text)
        AND (cardinality(${regions}::text[]) = 0 OR r.code = ANY(${regions}::text[]))
        AND NOT EXISTS (SELECT 1 FROM session_allocations a WHERE a.node_id = n.node_id AND a.status = 'active')
      ORDER BY ${CANDIDATE_ORDER}`;
  }

  /**
   * Claims a node for the deployment, or returns false when it was taken meanwhile. The row lock
   * comes first, so the allocation check after it sees any placement that held the node.
   */
  private async claimNode(tx: Transaction, deployment: Deployment, modelKey: string, nodeId: string): Promise<boolean> {
    const [node] = await tx.$queryRaw<{ node_id: string }[]>`
      SELECT node_id::text FROM nodes
      WHERE node_id = ${nodeId}::uuid AND tenant_id = ${deployment.tenantId}::uuid AND status = 'active' AND deployment_id IS NULL
      FOR UPDATE`;
    if (!node) return false;
    const busy = await tx.sessionAllocation.count({ where: { tenantId: deployment.tenantId, nodeId, status: 'active' } });
    if (busy > 0) return false;
    await tx.node.update({
      where: { id: nodeId },
      data: { deploymentId: deployment.id, clusterName: `${deployment.name}-${randomBytes(4).toString('hex')}`, modelName: modelKey },
    });
    await tx.deploymentNode.create({ data: { tenantId: deployment.tenantId, deploymentId: deployment.id, nodeId, status: 'ready' } });
    return true;
  }

  private async releaseNode(tx: Transaction, tenantId: string, nodeId: string): Promise<void> {
    await tx.deploymentNode.deleteMany({ where: { tenantId, nodeId } });
    await tx.node.updateMany({ where: { tenantId, id: nodeId }, data: { deploymentId: null, clusterName: null, modelName: null, endpointUrl: null } });
  }

  private async record(tx: Transaction, deployment: Deployment, { change, message, nodeId, severity }: Change, events: PendingEvent[]): Promise<void> {
    await recordSystemEvent(tx, {
      tenantId: deployment.tenantId,
      eventType: `deployment.${change}`,
      severity,
      sourceComponent: 'deployments',
      sourceNodeId: change === 'deleted' ? null : nodeId,
      message: `deployment ${deployment.name}: ${message}`,
      details: { deploymentId: deployment.id, change, nodeId, status: deployment.status, desiredReplicas: deployment.desiredReplicas },
    });
    events.push(pendingEvent(Topic.DeploymentChanged, this.changeOf(deployment, change, nodeId)));
  }

  private changeOf(deployment: Deployment, change: DeploymentChange, nodeId: string | null) {
    return {
      tenantId: deployment.tenantId,
      deploymentId: deployment.id,
      change,
      status: deployment.status,
      desiredReplicas: deployment.desiredReplicas,
      currentReplicas: deployment.currentReplicas,
      nodeId,
      at: new Date().toISOString(),
    };
  }
}
