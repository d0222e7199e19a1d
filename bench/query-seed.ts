/**
 * The bench database of bench/query.ts: one dashboard tenant with 1,000 nodes of 5 resources,
 * running sessions with their allocations, a page of system events and a day of metrics; a second
 * tenant so row-level security has rows to hide. Plus what only the PostGraphile peer needs.
 */
import type pg from 'pg';

export const BENCH_METRIC = 'gpu_util';

/** All of it in one transaction of set-based statements; ids are generated, so read them back. */
export async function seedBenchDatabase(client: pg.Client, tenantId: string, userId: string, otherTenantId: string): Promise<void> {
  await client.query('BEGIN');
  await client.query(`INSERT INTO tenants (tenant_id, name, slug) VALUES ($1, 'Dashboard', 'dashboard'), ($2, 'Other', 'other')`, [tenantId, otherTenantId]);
  await client.query(`INSERT INTO users (user_id, tenant_id, username, email, role) VALUES ($1, $2, 'bench-admin', 'bench-admin@example.test', 'admin')`, [userId, tenantId]);
  await client.query(
    `INSERT INTO nodes (tenant_id, hostname, ip_address, node_type, status, total_cpu_cores, total_memory_gb, total_storage_gb,
                        gpu_count, gpu_memory_gb, gpu_type, labels, created_at, last_heartbeat)
     SELECT t.tenant_id, t.prefix || lpad(i::text, 4, '0'), ('10.' || t.octet || '.' || (i / 250) || '.' || (i % 250 + 1))::inet, 'gpu',
            (ARRAY['active', 'active', 'inactive', 'draining'])[1 + i % 4], 32, 256, 2000, 8, 640, 'A100',
            jsonb_build_object('rack', 'r' || (i % 20)), now() - make_interval(secs => i * 60), now() - make_interval(secs => i % 30)
     FROM (VALUES ($1::uuid, 'node-', 1, 1000), ($2::uuid, 'other-', 2, 100)) AS t(tenant_id, prefix, octet, count),
          generate_series(1, t.count) AS i`,
    [tenantId, otherTenantId],
  );
  await client.query(
    `INSERT INTO node_resources (tenant_id, node_id, resource_type, total_capacity, allocated_capacity, unit)
     SELECT n.tenant_id, n.node_id, r.resource_type, r.total, r.total * 0.25, r.unit
     FROM nodes n
     CROSS JOIN (VALUES ('cpu', 32, 'cores'), ('memory', 256, 'GB'), ('storage', 2000, 'GB'), ('gpu', 8, 'gpus'), ('network', 10000, 'Mbps'))
       AS r(resource_type, total, unit)`,
  );
  await client.query(
    `INSERT INTO sessions (tenant_id, user_id, session_name, session_type, status, priority, cpu_request, memory_request_gb, gpu_request,
                           scheduled_node_id, start_time, created_at)
     SELECT $1, $2, 'training-' || i, 'ai_training', 'running', 1 + i % 10, 4, 16, 1, n.node_id, now() - make_interval(secs => i * 30),
            now() - make_interval(secs => i * 30)
     FROM generate_series(1, 500) AS i
     JOIN LATERAL (SELECT node_id FROM nodes WHERE tenant_id = $1 AND hostname = 'node-' || lpad((1 + i % 1000)::text, 4, '0')) n ON true`,
    [tenantId, userId],
  );
  await client.query(
    `INSERT INTO session_allocations (tenant_id, session_id, node_id, resource_type, allocated_amount, unit, allocation_time)
     SELECT s.tenant_id, s.session_id, s.scheduled_node_id, a.resource_type, a.amount, a.unit, s.start_time
     FROM sessions s CROSS JOIN (VALUES ('cpu', 4, 'cores'), ('memory', 16, 'GB'), ('gpu', 1, 'gpus')) AS a(resource_type, amount, unit)`,
  );
  await client.query(
    `INSERT INTO system_events (tenant_id, timestamp, event_type, severity, source_component, source_node_id, message, details)
     SELECT $1, now() - make_interval(secs => i * 10), 'node.heartbeat_missed', (ARRAY['info', 'warning', 'error', 'critical'])[1 + i % 4],
            'liveness', n.node_id, 'node missed ' || (i % 5 + 1) || ' heartbeats', jsonb_build_object('missed', i % 5 + 1)
     FROM generate_series(1, 2000) AS i
     JOIN LATERAL (SELECT node_id FROM nodes WHERE tenant_id = $1 AND hostname = 'node-' || lpad((1 + i % 1000)::text, 4, '0')) n ON true`,
    [tenantId],
  );
  // A day of points every 10 s for the ten newest nodes, two metric types.
  await client.query(
    `INSERT INTO node_metrics (time, tenant_id, node_id, metric_type, value, unit)
     SELECT now() - make_interval(secs => s * 10), n.tenant_id, n.node_id, m.metric_type, (s * 7919 % 10000) / 100.0, '%'
     FROM (SELECT tenant_id, node_id FROM nodes WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT 10) n
     CROSS JOIN (VALUES ($2), ('gpu_mem')) AS m(metric_type)
     CROSS JOIN generate_series(0, 8639) AS s`,
    [tenantId, BENCH_METRIC],
  );
  // PostGraphile only: its Relay `Node` interface clashes with a table named nodes.
  await client.query(`COMMENT ON TABLE nodes IS E'@name cluster_nodes'`);
  // PostGraphile only: it orders by indexed columns unless told; these are the API's default orders.
  for (const [table, column] of [['nodes', 'created_at'], ['sessions', 'created_at'], ['session_allocations', 'allocation_time'], ['session_allocations', 'resource_type']]) {
    await client.query(`COMMENT ON COLUMN ${table}.${column} IS E'@behavior +orderBy'`);
  }
  // PostGraphile only: the metric series as a function it exposes (invoker's rights, so RLS applies).
  await client.query(`
    CREATE FUNCTION bench_metric_series(node uuid, metric text, from_time timestamptz, to_time timestamptz, bucket_seconds int)
    RETURNS TABLE (bucket timestamptz, avg float8, min float8, max float8, count bigint)
    LANGUAGE sql STABLE AS $$
      SELECT s.bucket, avg(s.value)::float8, min(s.value)::float8, max(s.value)::float8, count(*)::bigint
      FROM (
        SELECT date_bin(make_interval(secs => bucket_seconds), m.time, '2000-01-03T00:00:00Z'::timestamptz) AS bucket, m.value
        FROM node_metrics m
        WHERE m.node_id = node AND m.metric_type = metric AND m.time >= from_time AND m.time < to_time
      ) s
      GROUP BY s.bucket
      ORDER BY s.bucket
    $$`);
  await client.query('COMMIT');
  await client.query('ANALYZE');
}
