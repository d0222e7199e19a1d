import { z } from 'zod';
import type { Transaction } from '../../infra/db.js';

/**
 * A deployment's `autoscaling` policy. Scaling follows the observed load over the window against
 * the target (replicas x observed / target, rounded up), within min and max replicas. Hysteresis:
 * nothing moves while the ratio stays within the tolerance; cooldown: no decision within
 * cooldownSeconds of the deployment's previous scaling (manual or automatic).
 */
const policySchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Mean gpu_usage (percent) of the replicas' nodes to aim for. */
    targetGpuUtilization: z.number().positive().max(100).optional(),
    /** LLM requests per replica per minute (llm_metrics of the deployment's model) to aim for. */
    targetRequestsPerReplica: z.number().positive().optional(),
    windowSeconds: z.number().int().min(10).max(86_400).default(300),
    cooldownSeconds: z.number().int().min(0).max(86_400).default(300),
    tolerance: z.number().min(0).max(1).default(0.1),
  })
  .refine((policy) => policy.targetGpuUtilization !== undefined || policy.targetRequestsPerReplica !== undefined, 'names no target');

export type AutoscalingPolicy = z.output<typeof policySchema>;

/** The deployment's policy, or null when it has none (an empty object) or it cannot be read. */
export function autoscalingPolicy(raw: unknown): AutoscalingPolicy | null {
  if (raw === null || typeof raw !== 'object' || Object.keys(raw).length === 0) return null;
  const parsed = policySchema.safeParse(raw);
  return parsed.success && parsed.data.enabled ? parsed.data : null;
}

export interface ScalingDecision {
  desired: number;
  reason: string;
}

interface Subject {
  id: string;
  tenantId: string;
  minReplicas: number;
  maxReplicas: number;
  desiredReplicas: number;
  modelKey: string;
  nodeIds: string[];
}

/** The replica count the policy asks for now, with its reason; null when it asks for no change. */
export async function decideScale(tx: Transaction, subject: Subject, policy: AutoscalingPolicy, now: Date): Promise<ScalingDecision | null> {
  const [last] = await tx.$queryRaw<{ at: Date }[]>`
    SELECT timestamp AS at FROM system_events
    WHERE tenant_id = ${subject.tenantId}::uuid AND event_type = 'deployment.scaled' AND details->>'deploymentId' = ${subject.id}
    ORDER BY timestamp DESC, seq DESC LIMIT 1`;
  if (last && now.getTime() - last.at.getTime() < policy.cooldownSeconds * 1000) return null;
  const replicas = Math.max(1, subject.nodeIds.length);
  const since = new Date(now.getTime() - policy.windowSeconds * 1000);
  let observed: number | null;
  let target: number;
  let what: string;
  if (policy.targetGpuUtilization !== undefined) {
    const [row] = await tx.$queryRaw<{ mean: number | null }[]>`
      SELECT avg(value)::float8 AS mean FROM node_metrics
      WHERE tenant_id = ${subject.tenantId}::uuid AND node_id = ANY(${subject.nodeIds}::uuid[]) AND metric_type = 'gpu_usage' AND time >= ${since}`;
    observed = row?.mean ?? null;
    target = policy.targetGpuUtilization;
    what = 'mean GPU utilisation';
  } else {
    const [row] = await tx.$queryRaw<{ requests: number }[]>`
      SELECT count(*)::int AS requests FROM llm_metrics
      WHERE tenant_id = ${subject.tenantId}::uuid AND model_id = ${subject.modelKey} AND timestamp >= ${since}`;
    observed = (row?.requests ?? 0) / replicas / (policy.windowSeconds / 60);
    target = policy.targetRequestsPerReplica!;
    what = 'requests per replica per minute';
  }
  if (observed === null) return null;
  const ratio = observed / target;
  if (Math.abs(ratio - 1) <= policy.tolerance) return null;
  const wanted = Math.min(subject.maxReplicas, Math.max(subject.minReplicas, Math.ceil(replicas * ratio)));
  if (wanted === subject.desiredReplicas) return null;
  return {
    desired: wanted,
    reason: `${what} ${round(observed)} against a target of ${target} over ${policy.windowSeconds} s (${subject.desiredReplicas} -> ${wanted}, within ${subject.minReplicas}..${subject.maxReplicas})`,
  };
}

const round = (value: number) => Math.round(value * 100) / 100;
