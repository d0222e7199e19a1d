import { inStableOrder } from '../cluster/placement.js';
import type { DeploymentStrategy } from './deployment.validation.js';

/** A GPU node that could serve a replica: idle, active, heartbeat fresh, of a region the deployment allows. */
export interface ReplicaCandidate {
  nodeId: string;
  hostname: string;
  gpuType: string;
  gpuCount: number;
  /** Total GPU memory of the node; per GPU it is this divided by gpuCount. */
  gpuMemoryGb: number;
  pricePerHour: number | null;
  regionCode: string | null;
}

export interface GpuTypeChoice {
  gpuType: string;
  perGpuMemoryGb: number;
  pricePerHour: number;
}

export const perGpuMemory = (node: Pick<ReplicaCandidate, 'gpuCount' | 'gpuMemoryGb'>): number => (node.gpuCount > 0 ? node.gpuMemoryGb / node.gpuCount : 0);

/** Nodes that can hold the model: one GPU's memory is at least what the model needs. */
export const fitsModel = (node: ReplicaCandidate, requiredGb: number): boolean => node.gpuCount > 0 && perGpuMemory(node) >= requiredGb;

/**
 * The GPU type "auto" resolves to: the cheapest type, by its cheapest fitting node's hourly price
 * (a replica occupies a whole node), among nodes whose per-GPU memory fits the model. Ties go to
 * the type with more memory per GPU, then by name. Undefined when no node fits.
 */
export function cheapestFittingGpuType(nodes: ReplicaCandidate[], requiredGb: number): GpuTypeChoice | undefined {
  const byType = new Map<string, GpuTypeChoice>();
  for (const node of nodes) {
    if (!fitsModel(node, requiredGb)) continue;
    const price = node.pricePerHour ?? Number.POSITIVE_INFINITY;
    const known = byType.get(node.gpuType);
    if (!known || price < known.pricePerHour) byType.set(node.gpuType, { gpuType: node.gpuType, perGpuMemoryGb: perGpuMemory(node), pricePerHour: price });
  }
  return [...byType.values()].sort(
    (a, b) => a.pricePerHour - b.pricePerHour || b.perGpuMemoryGb - a.perGpuMemoryGb || a.gpuType.localeCompare(b.gpuType),
  )[0];
}

const regionOf = (node: { regionCode: string | null }) => node.regionCode ?? '';

/**
 * The node the next replica goes to. spread: the region with the fewest replicas of the deployment
 * (replicas spread across regions); packed: the region with the most replicas, or for the first
 * replica the region with the most candidates (replicas stay together). Then cheapest, then hostname.
 */
export function chooseReplicaNode(candidates: ReplicaCandidate[], replicasPerRegion: Map<string, number>, strategy: DeploymentStrategy): ReplicaCandidate | undefined {
  const candidatesPerRegion = new Map<string, number>();
  for (const node of candidates) candidatesPerRegion.set(regionOf(node), (candidatesPerRegion.get(regionOf(node)) ?? 0) + 1);
  const replicas = (node: ReplicaCandidate) => replicasPerRegion.get(regionOf(node)) ?? 0;
  const price = (node: ReplicaCandidate) => node.pricePerHour ?? Number.POSITIVE_INFINITY;
  return [...candidates].sort((a, b) => {
    const regional =
      strategy === 'spread'
        ? replicas(a) - replicas(b)
        : replicas(b) - replicas(a) || (candidatesPerRegion.get(regionOf(b)) ?? 0) - (candidatesPerRegion.get(regionOf(a)) ?? 0);
    return regional || price(a) - price(b) || inStableOrder(a, b);
  })[0];
}

/**
 * The replica to remove when scaling in, so what stays keeps the strategy's shape. spread: from the
 * region with the most replicas; packed: from the region with the fewest. Newest replica first.
 */
export function chooseReplicaToRemove<T extends { regionCode: string | null; createdAt: Date; nodeId: string }>(replicas: T[], strategy: DeploymentStrategy): T | undefined {
  const perRegion = new Map<string, number>();
  for (const replica of replicas) perRegion.set(regionOf(replica), (perRegion.get(regionOf(replica)) ?? 0) + 1);
  const count = (replica: T) => perRegion.get(regionOf(replica)) ?? 0;
  return [...replicas].sort(
    (a, b) =>
      (strategy === 'spread' ? count(b) - count(a) : count(a) - count(b)) ||
      b.createdAt.getTime() - a.createdAt.getTime() ||
      a.nodeId.localeCompare(b.nodeId),
  )[0];
}
