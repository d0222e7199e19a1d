import type { NodeCapacity } from './capacity.js';
import type { ResourceType } from './node.validation.js';

export const PLACEMENT_STRATEGIES = ['binpack', 'spread'] as const;
export type PlacementStrategy = (typeof PLACEMENT_STRATEGIES)[number];

/** What a piece of work needs from one node, and where it may or would rather go. */
export interface PlacementRequest {
  cpu: number;
  memoryGb: number;
  gpuCount: number;
  gpuType: string | null;
  storageGb: number;
  /** Labels the node must carry (JSON containment, like PostgreSQL's @>). */
  nodeSelector: Record<string, unknown>;
  /** Labels that rank a node higher when it carries them, one point per matching key. */
  preferredLabels: Record<string, unknown>;
  /** Region codes the node must be in; empty allows any. */
  regions: string[];
  excludeNodeIds: string[];
  strategy: PlacementStrategy;
}

export interface NodeRejection {
  nodeId: string;
  hostname: string;
  reasons: string[];
}

export interface Candidate {
  node: NodeCapacity;
  /** Preferred labels the node carries. */
  preferenceMatches: number;
  /** Mean share of the node's cpu, memory (and gpu when asked) left free after placement, 0..1. */
  remainingShare: number;
}

/** JSON containment with PostgreSQL's @> semantics for objects, arrays and scalars. */
export function jsonContains(container: unknown, contained: unknown): boolean {
  if (Array.isArray(contained)) {
    if (!Array.isArray(container)) return false;
    return contained.every((item) => container.some((candidate) => jsonContains(candidate, item)));
  }
  if (contained !== null && typeof contained === 'object') {
    if (container === null || typeof container !== 'object' || Array.isArray(container)) return false;
    const object = container as Record<string, unknown>;
    return Object.entries(contained).every(([key, value]) => key in object && jsonContains(object[key], value));
  }
  return container === contained;
}

/** The amounts to allocate, in the fixed order every allocation locks rows in (avoids deadlocks). */
export function requestedAmounts(request: Pick<PlacementRequest, 'cpu' | 'memoryGb' | 'gpuCount' | 'storageGb'>): { resourceType: ResourceType; amount: number }[] {
  const amounts: { resourceType: ResourceType; amount: number }[] = [
    { resourceType: 'cpu', amount: request.cpu },
    { resourceType: 'gpu', amount: request.gpuCount },
    { resourceType: 'memory', amount: request.memoryGb },
    { resourceType: 'storage', amount: request.storageGb },
  ];
  return amounts.filter((entry) => entry.amount > 0);
}

/** The last tie-break of every node ranking: hostname, then id, so equal nodes come in a stable order. */
export const inStableOrder = (a: { hostname: string; nodeId: string }, b: { hostname: string; nodeId: string }): number =>
  a.hostname.localeCompare(b.hostname) || a.nodeId.localeCompare(b.nodeId);

const UNIT_LABEL: Record<ResourceType, string> = { cpu: 'cores', memory: 'GB', storage: 'GB', gpu: 'GPUs', network: 'Mbps' };

function rejectionReasons(node: NodeCapacity, request: PlacementRequest): string[] {
  const reasons: string[] = [];
  if (request.excludeNodeIds.includes(node.nodeId)) reasons.push('excluded by the placement preferences');
  if (request.regions.length > 0 && !request.regions.includes(node.regionCode ?? '')) {
    reasons.push(`region ${node.regionCode ?? 'none'} is not one of ${request.regions.join(', ')}`);
  }
  if (request.gpuType !== null && node.gpuType !== request.gpuType) {
    reasons.push(`gpu type ${node.gpuType ?? 'none'}, ${request.gpuType} requested`);
  }
  if (!jsonContains(node.labels, request.nodeSelector)) reasons.push(`labels do not contain ${JSON.stringify(request.nodeSelector)}`);
  for (const { resourceType, amount } of requestedAmounts(request)) {
    const resource = node.resources[resourceType];
    if (!resource) reasons.push(`${resourceType}: the node has none`);
    else if (resource.free < amount) reasons.push(`${resourceType}: ${round(resource.free)} ${UNIT_LABEL[resourceType]} free, ${amount} requested`);
  }
  return reasons;
}

const round = (value: number) => Math.round(value * 100) / 100;

function remainingShare(node: NodeCapacity, request: PlacementRequest): number {
  const considered: [ResourceType, number][] = [
    ['cpu', request.cpu],
    ['memory', request.memoryGb],
  ];
  if (request.gpuCount > 0) considered.push(['gpu', request.gpuCount]);
  const shares = considered.flatMap(([type, amount]) => {
    const resource = node.resources[type];
    return resource && resource.total > 0 ? [(resource.free - amount) / resource.total] : [];
  });
  return shares.length === 0 ? 0 : shares.reduce((sum, share) => sum + share, 0) / shares.length;
}

/**
 * Filters nodes by what the request needs, then orders the ones that fit:
 * 1. more preferred labels first;
 * 2. for work that asks for no GPU, nodes without GPUs first (GPUs stay free for GPU work);
 * 3. binpack: least capacity left after placement first (fills nodes up); spread: most left first;
 * 4. hostname, then id, so equal nodes are chosen in a stable order.
 */
export function rankNodes(nodes: NodeCapacity[], request: PlacementRequest): { candidates: Candidate[]; rejections: NodeRejection[] } {
  const candidates: Candidate[] = [];
  const rejections: NodeRejection[] = [];
  const preferred = Object.entries(request.preferredLabels);
  for (const node of nodes) {
    const reasons = rejectionReasons(node, request);
    if (reasons.length > 0) {
      rejections.push({ nodeId: node.nodeId, hostname: node.hostname, reasons });
      continue;
    }
    candidates.push({
      node,
      preferenceMatches: preferred.filter(([key, value]) => jsonContains(node.labels, { [key]: value })).length,
      remainingShare: remainingShare(node, request),
    });
  }
  const direction = request.strategy === 'spread' ? -1 : 1;
  candidates.sort(
    (a, b) =>
      b.preferenceMatches - a.preferenceMatches ||
      (request.gpuCount === 0 ? Number(a.node.gpuCount > 0) - Number(b.node.gpuCount > 0) : 0) ||
      direction * (a.remainingShare - b.remainingShare) ||
      inStableOrder(a.node, b.node),
  );
  return { candidates, rejections };
}
