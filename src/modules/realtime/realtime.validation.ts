import { z } from 'zod';
import { HEARTBEAT_STATUSES, SEVERITIES } from '../../infra/topics.js';
import { parseInput } from '../shared/validation.js';

/** Heartbeats one batch may carry: an agent reporting for many nodes sends them together. */
export const MAX_HEARTBEATS_PER_BATCH = 1_000;

const heartbeatInput = z.object({
  nodeId: z.uuid(),
  status: z.enum(HEARTBEAT_STATUSES),
  load: z.number().finite().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1'),
});

export type HeartbeatInput = z.output<typeof heartbeatInput>;

export const parseHeartbeat = (input: unknown): HeartbeatInput => parseInput(heartbeatInput, input);

export const parseHeartbeatBatch = (input: unknown): HeartbeatInput[] =>
  parseInput(z.array(heartbeatInput).min(1, 'must hold at least one heartbeat').max(MAX_HEARTBEATS_PER_BATCH), input);

const liveMetricsFilter = z.object({
  nodeId: z.uuid().optional(),
  metricTypes: z.array(z.string().trim().min(1).max(100)).max(50).optional(),
});

export type LiveMetricsFilter = z.output<typeof liveMetricsFilter>;

export const parseLiveMetricsFilter = (input: unknown): LiveMetricsFilter => parseInput(liveMetricsFilter, input);

export const parseMinSeverity = (input: unknown) => parseInput(z.enum(SEVERITIES).default('debug'), input ?? undefined);

/** Severity order for systemEvents(minSeverity): debug is the least, critical the most severe. */
export const severityRank = (severity: string): number => {
  const index = ['debug', 'info', 'warning', 'error', 'critical'].indexOf(severity);
  return index === -1 ? 0 : index;
};
