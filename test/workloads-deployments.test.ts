import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AvailableNodesDocument,
  ClusterNodeDocument,
  CreateDeploymentDocument,
  DeleteDeploymentDocument,
  DeploymentDocument,
  DeploymentsDocument,
  DeregisterNodeDocument,
  ReconcileDeploymentsDocument,
  ScaleDeploymentDocument,
  type CreateDeploymentInput,
  type RegisterNodeInput,
} from './generated/graphql.js';
import { aRegisteredNode, globalId, rawId } from './helpers/builders.js';
import { failNode, listenAsAnotherInstance, systemEvents } from './helpers/cluster.js';
import { runPostgresTests, TEST_REDIS_URL } from './helpers/backing-services.js';
import { expectResult, startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

/** GPU kinds as a provider sells them: memory per GPU and price per node-hour. */
const GPU = {
  L4: { gpuCount: 4, perGpu: 24, price: 2.8 },
  A100: { gpuCount: 4, perGpu: 40, price: 7.6 },
  H100: { gpuCount: 8, perGpu: 80, price: 25.6 },
} as const;

describe.each(kinds)('model deployments over HTTP on %s', (kind) => {
  let server: TestServer;
  const suffix = randomBytes(3).toString('hex');
  const model = `llama-70b-${suffix}`;
  const east = `east-${suffix}`;
  const west = `west-${suffix}`;
  const regionIds: Record<string, string> = {};

  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false, ...(kind === 'postgres' ? { redisUrl: TEST_REDIS_URL } : {}) });
    for (const code of [east, west]) regionIds[code] = globalId('Region', (await server.db.system.region.create({ data: { code, name: code, provider: 'aws' } })).id);
    await server.db.system.model.create({ data: { modelId: model, name: 'Llama 70B', contextLength: 8192, gpuMemoryRequiredGb: 40 } });
    await server.db.system.model.create({ data: { modelId: `retired-${suffix}`, name: 'Retired', contextLength: 2048, isActive: false } });
  });
  afterAll(async () => {
    await server?.close();
  });

  const gpuNode = (client: SignedInUser, type: keyof typeof GPU, region: string, hostname: string, overrides: Partial<RegisterNodeInput> = {}) =>
    aRegisteredNode(client, {
      hostname,
      gpuType: type,
      gpuCount: GPU[type].gpuCount,
      gpuMemoryGb: GPU[type].gpuCount * GPU[type].perGpu,
      pricePerHour: GPU[type].price,
      regionId: regionIds[region],
      ...overrides,
    });

  const deploy = async (client: SignedInUser, input: Partial<CreateDeploymentInput>) =>
    client.request(CreateDeploymentDocument, { input: { name: 'chat', model, minReplicas: 2, maxReplicas: 4, regions: [east, west], ...input } });

  const replicaHosts = (deployment: { replicas: { node: { hostname: string } }[] }) => deployment.replicas.map((replica) => replica.node.hostname).sort();

  it('resolves "auto" to the cheapest GPU type whose memory fits, and spreads replicas across regions', async () => {
    const operator = await server.signIn({ role: 'operator' });
    await gpuNode(operator, 'L4', east, 'l4-east-1.test');
    await gpuNode(operator, 'A100', east, 'a100-east-1.test');
    await gpuNode(operator, 'A100', east, 'a100-east-2.test');
    await gpuNode(operator, 'A100', west, 'a100-west-1.test');
    await gpuNode(operator, 'H100', west, 'h100-west-1.test');

    const deployment = expectResult(await deploy(operator, { strategy: 'SPREAD' }), 'CreateDeploymentSuccess').deployment;
    expect(deployment).toMatchObject({ model, gpuType: 'auto', resolvedGpuType: 'A100', status: 'ACTIVE', desiredReplicas: 2, currentReplicas: 2, strategy: 'SPREAD' });
    expect(replicaHosts(deployment)).toEqual(['a100-east-1.test', 'a100-west-1.test']);
    for (const replica of deployment.replicas) {
      expect(replica).toMatchObject({ status: 'READY', node: { modelName: model, clusterName: expect.stringMatching(/^chat-[0-9a-f]{8}$/) } });
    }
    expect(new Set(deployment.replicas.map((replica) => replica.node.clusterName)).size).toBe(2);

    // Nodes serving replicas take no sessions and cannot be deregistered.
    const available = (await operator.request(AvailableNodesDocument, { cpu: 1, memoryGb: 1, gpuCount: 1, gpuType: 'A100' })).data!.availableNodes.edges;
    expect(available.map((edge) => edge.node.node.hostname)).toEqual(['a100-east-2.test']);
    const replicaNode = deployment.replicas[0]!.node;
    expect(expectResult(await operator.request(DeregisterNodeDocument, { id: replicaNode.id }), 'ResourceInUseError')).toMatchObject({ usedBy: 'deployment replicas' });
    expect((await operator.request(ClusterNodeDocument, { id: replicaNode.id })).data!.node).toMatchObject({ hostname: replicaNode.hostname });
  });

  it('packs replicas into one region', async () => {
    const operator = await server.signIn({ role: 'operator' });
    await gpuNode(operator, 'H100', east, 'h100-east-1.test');
    await gpuNode(operator, 'H100', west, 'h100-west-1.test');
    await gpuNode(operator, 'H100', west, 'h100-west-2.test');
    await gpuNode(operator, 'H100', west, 'h100-west-3.test', { pricePerHour: 30 });
    const packed = expectResult(await deploy(operator, { gpuType: 'H100', strategy: 'PACKED', minReplicas: 2 }), 'CreateDeploymentSuccess').deployment;
    expect(packed.resolvedGpuType).toBe('H100');
    expect(replicaHosts(packed)).toEqual(['h100-west-1.test', 'h100-west-2.test']);
    expect(packed.replicas.every((replica) => replica.node.region?.code === west)).toBe(true);

    const scaled = expectResult(await operator.request(ScaleDeploymentDocument, { id: packed.id, desiredReplicas: 4 }), 'ScaleDeploymentSuccess').deployment;
    // The region with the replicas first, then the other region once it is full.
    expect(replicaHosts(scaled)).toEqual(['h100-east-1.test', 'h100-west-1.test', 'h100-west-2.test', 'h100-west-3.test']);
  });

  it('refuses deployments it cannot serve or that are invalid, with typed errors', async () => {
    const operator = await server.signIn({ role: 'operator' });
    await gpuNode(operator, 'L4', east, 'l4-only.test');
    const tooSmall = expectResult(await deploy(operator, {}), 'InsufficientCapacityError');
    expect(tooSmall.message).toBe(`no GPU node in ${east}, ${west} has 40 GB per GPU for ${model}`);
    expect(tooSmall.reasons).toEqual(['l4-only.test: L4, 24 GB per GPU, 40 GB needed']);
    expect(expectResult(await deploy(operator, { gpuType: 'L4' }), 'InsufficientCapacityError').message).toBe(`no L4 node in ${east}, ${west} has 40 GB per GPU for ${model}`);
    expect(expectResult(await deploy(operator, { model: 'no-such-model' }), 'NotFoundError')).toMatchObject({ resource: 'Model', id: 'no-such-model' });
    expect(expectResult(await deploy(operator, { model: `retired-${suffix}` }), 'NotFoundError').resource).toBe('Model');
    expect(expectResult(await deploy(operator, { regions: ['mars-1'] }), 'ValidationError').issues).toEqual([{ path: 'regions.0', message: 'no region mars-1' }]);
    expect(expectResult(await deploy(operator, { name: 'Not Valid', minReplicas: 3, maxReplicas: 2 }), 'ValidationError').issues).toEqual([
      { path: 'name', message: 'must be lowercase letters, digits and inner hyphens' },
      { path: 'maxReplicas', message: 'must be at least minReplicas' },
    ]);

    await gpuNode(operator, 'A100', west, 'a100-fits.test');
    expectResult(await deploy(operator, { minReplicas: 1 }), 'CreateDeploymentSuccess');
    expect(expectResult(await deploy(operator, { minReplicas: 1 }), 'ConflictError').field).toBe('name');
  });

  it('scales within min and max, degrades when nodes run out, and scales in by the strategy', async () => {
    const operator = await server.signIn({ role: 'operator' });
    await gpuNode(operator, 'A100', east, 'a-east-1.test');
    await gpuNode(operator, 'A100', east, 'a-east-2.test');
    await gpuNode(operator, 'A100', west, 'a-west-1.test');
    const deployment = expectResult(await deploy(operator, { maxReplicas: 4 }), 'CreateDeploymentSuccess').deployment;

    const scale = (desiredReplicas: number) => operator.request(ScaleDeploymentDocument, { id: deployment.id, desiredReplicas });
    expect(expectResult(await scale(5), 'ValidationError').issues).toEqual([{ path: 'desiredReplicas', message: 'must be between 2 and 4' }]);
    expect(expectResult(await scale(1), 'ValidationError').issues).toEqual([{ path: 'desiredReplicas', message: 'must be between 2 and 4' }]);
    const three = expectResult(await scale(3), 'ScaleDeploymentSuccess').deployment;
    expect(three).toMatchObject({ desiredReplicas: 3, currentReplicas: 3, status: 'ACTIVE' });
    const four = expectResult(await scale(4), 'ScaleDeploymentSuccess').deployment;
    expect(four).toMatchObject({ desiredReplicas: 4, currentReplicas: 3, status: 'DEGRADED' });

    // A node that turns up is claimed by the reconciler.
    await gpuNode(operator, 'A100', west, 'a-west-2.test');
    expect((await operator.request(ReconcileDeploymentsDocument, {})).data!.reconcileDeployments).toBe(1);
    const healed = (await operator.request(DeploymentDocument, { id: deployment.id })).data!.deployment!;
    expect(healed).toMatchObject({ currentReplicas: 4, status: 'ACTIVE' });

    // Spread scales in from the region holding the most replicas... then keeps one per region.
    const two = expectResult(await scale(2), 'ScaleDeploymentSuccess').deployment;
    expect(two).toMatchObject({ desiredReplicas: 2, currentReplicas: 2, status: 'ACTIVE' });
    expect(two.replicas.map((replica) => replica.node.region?.code).sort()).toEqual([east, west].sort());
    const freed = await server.db.system.node.count({ where: { tenantId: operator.tenantId, deploymentId: null, clusterName: null } });
    expect(freed).toBe(2);
  });

  it('replaces replicas on failed nodes, recording and publishing each change', async () => {
    const operator = await server.signIn({ role: 'operator' });
    await gpuNode(operator, 'A100', east, 'r-east-1.test');
    await gpuNode(operator, 'A100', west, 'r-west-1.test');
    const listener =
      kind === 'postgres'
        ? await listenAsAnotherInstance('workloads.deployment.changed', operator.tenantId, {
            tenantId: operator.tenantId,
            deploymentId: 'probe',
            change: 'created',
            status: 'probe',
            desiredReplicas: 0,
            currentReplicas: 0,
            nodeId: null,
            at: new Date(0).toISOString(),
          })
        : undefined;
    try {
      const deployment = expectResult(await deploy(operator, {}), 'CreateDeploymentSuccess').deployment;
      const westReplica = deployment.replicas.find((replica) => replica.node.hostname === 'r-west-1.test')!.node;
      await failNode(server, westReplica.id);
      expect((await operator.request(ReconcileDeploymentsDocument, {})).data!.reconcileDeployments).toBe(1);
      const degraded = (await operator.request(DeploymentDocument, { id: deployment.id })).data!.deployment!;
      expect(degraded).toMatchObject({ currentReplicas: 1, status: 'DEGRADED' });
      expect((await operator.request(ClusterNodeDocument, { id: westReplica.id })).data!.node).toMatchObject({ status: 'FAILED', clusterName: null });

      await gpuNode(operator, 'A100', west, 'r-west-2.test');
      await gpuNode(operator, 'A100', east, 'r-east-2.test');
      await operator.request(ReconcileDeploymentsDocument, {});
      const replaced = (await operator.request(DeploymentDocument, { id: deployment.id })).data!.deployment!;
      expect(replaced).toMatchObject({ currentReplicas: 2, status: 'ACTIVE' });
      // Spread puts the replacement in the region that lost its replica.
      expect(replicaHosts(replaced)).toEqual(['r-east-1.test', 'r-west-2.test']);

      const events = (await systemEvents(server, operator.tenantId)).filter((event) => event.eventType.startsWith('deployment.'));
      expect(events.map((event) => [event.eventType, event.severity])).toEqual([
        ['deployment.created', 'info'],
        ['deployment.replica_added', 'info'],
        ['deployment.replica_added', 'info'],
        ['deployment.status_changed', 'info'],
        ['deployment.replica_failed', 'warning'],
        ['deployment.status_changed', 'warning'],
        ['deployment.replica_added', 'info'],
        ['deployment.status_changed', 'info'],
      ]);
      if (listener) {
        const published = await listener.waitFor((event) => event.deploymentId === rawId(deployment.id), 8);
        expect(published.map((event) => [event.change, event.status, event.currentReplicas])).toEqual([
          ['created', 'pending', 0],
          ['replica_added', 'active', 2],
          ['replica_added', 'active', 2],
          ['status_changed', 'active', 2],
          ['replica_failed', 'degraded', 1],
          ['status_changed', 'degraded', 1],
          ['replica_added', 'active', 2],
          ['status_changed', 'active', 2],
        ]);
      }
    } finally {
      await listener?.close();
    }
  });

  it('deletes a deployment and frees its nodes', async () => {
    const operator = await server.signIn({ role: 'operator' });
    await gpuNode(operator, 'A100', east, 'd-east-1.test');
    await gpuNode(operator, 'A100', west, 'd-west-1.test');
    const deployment = expectResult(await deploy(operator, {}), 'CreateDeploymentSuccess').deployment;
    expect((await operator.request(DeploymentsDocument, { filter: { status: ['ACTIVE'], model } })).data!.deployments.totalCount).toBe(1);

    expect(expectResult(await operator.request(DeleteDeploymentDocument, { id: deployment.id }), 'DeleteDeploymentSuccess').deletedId).toBe(deployment.id);
    expect((await operator.request(DeploymentDocument, { id: deployment.id })).data!.deployment).toBeNull();
    expect(expectResult(await operator.request(DeleteDeploymentDocument, { id: deployment.id }), 'NotFoundError').resource).toBe('Deployment');
    const nodes = await server.db.system.node.findMany({ where: { tenantId: operator.tenantId }, select: { deploymentId: true, clusterName: true, modelName: true } });
    expect(nodes).toEqual([
      { deploymentId: null, clusterName: null, modelName: null },
      { deploymentId: null, clusterName: null, modelName: null },
    ]);
    expect((await systemEvents(server, operator.tenantId, 'deployment.deleted')).map((event) => event.details)).toEqual([
      expect.objectContaining({ deploymentId: rawId(deployment.id), change: 'deleted' }),
    ]);
  });

  it("keeps each tenant's deployments and nodes to itself", async () => {
    const owner = await server.signIn({ role: 'operator' });
    const stranger = await server.signIn({ role: 'admin' });
    await gpuNode(owner, 'A100', east, 'own-east.test');
    await gpuNode(owner, 'A100', west, 'own-west.test');
    const deployment = expectResult(await deploy(owner, {}), 'CreateDeploymentSuccess').deployment;

    expect((await stranger.request(DeploymentDocument, { id: deployment.id })).data!.deployment).toBeNull();
    expect((await stranger.request(DeploymentsDocument, {})).data!.deployments.edges).toEqual([]);
    expect(expectResult(await stranger.request(ScaleDeploymentDocument, { id: deployment.id, desiredReplicas: 3 }), 'NotFoundError').resource).toBe('Deployment');
    expect(expectResult(await stranger.request(DeleteDeploymentDocument, { id: deployment.id }), 'NotFoundError').resource).toBe('Deployment');
    // The same name is free in another tenant, and the owner's idle nodes are not the stranger's to claim.
    expect(expectResult(await deploy(stranger, {}), 'InsufficientCapacityError').reasons).toEqual(['no active GPU node in the allowed regions']);
    expect((await owner.request(DeploymentDocument, { id: deployment.id })).data!.deployment).toMatchObject({ currentReplicas: 2, status: 'ACTIVE' });

    const reader = await server.signIn({ role: 'user', tenantId: owner.tenantId });
    expect((await reader.request(ScaleDeploymentDocument, { id: deployment.id, desiredReplicas: 3 })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
