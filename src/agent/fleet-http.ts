import { ApiRefusedError, type ApiClient } from './api-client.js';
import type { FleetApi, FleetSession } from './fleet.js';
import type { NodeMetricPoint } from './metric-points.js';

const HEARTBEATS = `mutation ($input: RecordHeartbeatsInput!) { recordHeartbeats(input: $input) { __typename ... on RecordHeartbeatsSuccess { batch { unknownNodeIds } } ... on Error { message } } }`;
const INGEST = `mutation ($input: IngestNodeMetricsInput!) { ingestNodeMetrics(input: $input) { __typename ... on IngestNodeMetricsSuccess { accepted } ... on Error { message } } }`;
const TRANSITION = `mutation ($id: ID!, $status: SessionStatus!, $reason: String) { transitionSession(id: $id, status: $status, reason: $reason) { __typename ... on TransitionSessionSuccess { session { id } } ... on Error { message } } }`;
const LIVE_SESSIONS = `query ($after: String) { sessions(first: 100, after: $after, filter: { status: [SCHEDULED, RUNNING] }) {
  edges { node { id status startTime scheduledNode { id } } } pageInfo { hasNextPage endCursor } } }`;

interface SessionPage {
  sessions: {
    edges: { node: { id: string; status: 'SCHEDULED' | 'RUNNING'; startTime: string | null; scheduledNode: { id: string } | null } }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

/** The fleet's calls over the public GraphQL API, with the agent's client and an API key. */
export class HttpFleetApi implements FleetApi {
  constructor(private readonly api: ApiClient) {}

  async recordHeartbeats(heartbeats: { nodeId: string; status: 'healthy'; load: number }[]): Promise<void> {
    const input = { heartbeats: heartbeats.map((beat) => ({ ...beat, status: 'HEALTHY' })) };
    await this.api.mutate(HEARTBEATS, { input }, 'recordHeartbeats', 'RecordHeartbeatsSuccess');
  }

  async ingestNodeMetrics(points: NodeMetricPoint[], idempotencyKey: string): Promise<void> {
    await this.api.mutate(INGEST, { input: { points, idempotencyKey } }, 'ingestNodeMetrics', 'IngestNodeMetricsSuccess');
  }

  async sessionsOn(nodeIds: string[]): Promise<FleetSession[]> {
    const ours = new Set(nodeIds);
    const found: FleetSession[] = [];
    for (let after: string | null = null, more = true; more; ) {
      const page: SessionPage = await this.api.request<SessionPage>(LIVE_SESSIONS, { after });
      for (const { node } of page.sessions.edges) {
        const nodeId = node.scheduledNode?.id;
        if (!nodeId || !ours.has(nodeId)) continue;
        found.push({ id: node.id, nodeId, status: node.status === 'RUNNING' ? 'running' : 'scheduled', startedAt: node.startTime ? new Date(node.startTime) : null });
      }
      more = page.sessions.pageInfo.hasNextPage;
      after = page.sessions.pageInfo.endCursor;
    }
    return found;
  }

  async transitionSession(sessionId: string, status: 'running' | 'completed', reason: string): Promise<boolean> {
    try {
      await this.api.mutate(TRANSITION, { id: sessionId, status: status.toUpperCase(), reason }, 'transitionSession', 'TransitionSessionSuccess');
      return true;
    } catch (error) {
      if (error instanceof ApiRefusedError) return false;
      throw error;
    }
  }
}
