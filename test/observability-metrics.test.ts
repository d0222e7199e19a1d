import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterNodesDocument, OnNodeHeartbeatDocument, RecordHeartbeatDocument } from './generated/graphql.js';
import { aPendingSession, aRegisteredNode } from './helpers/builders.js';
import { bearer, eventually, subscribe, wsClient, type LiveSubscription } from './helpers/realtime.js';
import { expectResult, startTestServer, type SignedInUser, type TestServer } from './helpers/server.js';

const METRICS_TOKEN = 'scrape-token-0123456789';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition: every sample line, its labels and value; comment lines are checked for shape. */
function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      expect(line).toMatch(/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* /);
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

describe('Prometheus metrics', () => {
  let server: TestServer;
  let operator: SignedInUser;
  let heartbeats: LiveSubscription<unknown> | undefined;

  const scrape = async () => {
    const response = await fetch(new URL('/metrics', server.url), { headers: bearer(METRICS_TOKEN) });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    return parsePrometheus(await response.text());
  };
  const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);

  beforeAll(async () => {
    // Jobs on, with a fast scheduler pass, so job runs show up within the test.
    server = await startTestServer('pglite', { jobsEnabled: true }, { env: { METRICS_TOKEN, SCHEDULER_PASS_INTERVAL_MS: '200' } });
    operator = await server.signIn({ role: 'operator' });
  });
  afterAll(async () => {
    heartbeats?.stop();
    await server?.close();
  });

  it('refuses a scrape without the token', async () => {
    expect((await server.get('/metrics')).status).toBe(401);
    expect((await fetch(new URL('/metrics', server.url), { headers: bearer('wrong-token-0123456789') })).status).toBe(401);
  });

  it('counts operations, errors, subscriptions, events, placements, jobs and the pool', async () => {
    const node = await aRegisteredNode(operator);
    await operator.request(ClusterNodesDocument, { first: 5 });
    await operator.request(ClusterNodesDocument, { first: 5 });
    await server.withHeaders({ authorization: 'Bearer not-a-token' }).request(ClusterNodesDocument, { first: 5 });
    // The scheduler's background pass places it.
    await aPendingSession(operator);
    const client = wsClient(server.url.replace(/^http/, 'ws'), bearer(operator.token));
    heartbeats = subscribe(client, OnNodeHeartbeatDocument, { nodeId: node.id });
    await eventually(async () => (value(await scrape(), 'omega_active_subscriptions', { operationName: 'OnNodeHeartbeat' }) === 1 ? true : undefined), 'the subscription to count');
    expectResult(await operator.request(RecordHeartbeatDocument, { input: { nodeId: node.id, status: 'HEALTHY', load: 0.5 } }), 'RecordHeartbeatSuccess');
    await heartbeats.next();

    const samples = await eventually(async () => {
      const scraped = await scrape();
      return value(scraped, 'omega_job_runs_total', { outcome: 'ok' }) > 0 && value(scraped, 'omega_scheduler_placements_total') === 1 ? scraped : undefined;
    }, 'a background job run and a placement');

    expect(value(samples, 'graphql_envelop_request_duration_count', { operationName: 'ClusterNodes', operationType: 'query' })).toBe(2);
    expect(value(samples, 'graphql_envelop_request_duration_bucket', { operationName: 'ClusterNodes', le: '+Inf' })).toBe(2);
    expect(value(samples, 'graphql_envelop_error_result', { operationName: 'ClusterNodes' })).toBe(1);
    expect(value(samples, 'graphql_envelop_request_duration_count', { operationName: 'CreateSession', operationType: 'mutation' })).toBe(1);
    expect(value(samples, 'omega_active_subscriptions', { operationName: 'OnNodeHeartbeat' })).toBe(1);
    // The heartbeat that reached the subscriber was fanned out once, to its one socket.
    expect(value(samples, 'omega_subscription_fanout_seconds_count', { operationName: 'OnNodeHeartbeat' })).toBe(1);
    expect(value(samples, 'omega_subscription_fanout_seconds_bucket', { operationName: 'OnNodeHeartbeat', le: '10' })).toBe(1);
    expect(value(samples, 'omega_scheduler_placements_total')).toBe(1);
    expect(value(samples, 'omega_events_published_total', { topic: 'workloads.session.state_changed' })).toBeGreaterThanOrEqual(2);
    expect(value(samples, 'omega_events_delivered_total', { topic: 'cluster.node.heartbeats_recorded' })).toBeGreaterThanOrEqual(1);
    expect(value(samples, 'omega_pending_sessions')).toBe(0);
    expect(samples.some((s) => s.name === 'omega_db_pool_connections' && s.labels.state === 'in_use')).toBe(true);
    expect(value(samples, 'omega_job_duration_seconds_count')).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === 'omega_redis_connected')).toBe(false);
  });
});
