-- Per-tenant dashboard rollups. Each has a unique index so it can be refreshed CONCURRENTLY,
-- i.e. without blocking readers; refresh_cluster_views() refreshes both.

CREATE MATERIALIZED VIEW IF NOT EXISTS public.cluster_summary AS
  SELECT tenant_id,
         count(*) AS total_nodes,
         count(*) FILTER (WHERE status = 'active') AS active_nodes,
         coalesce(sum(total_cpu_cores), 0) AS total_cpu_cores,
         coalesce(sum(total_memory_gb), 0) AS total_memory_gb,
         coalesce(sum(gpu_count), 0) AS total_gpus,
         avg(extract(epoch FROM now() - last_heartbeat))::double precision AS avg_heartbeat_age_seconds,
         now() AS refreshed_at
  FROM public.nodes
  GROUP BY tenant_id
WITH DATA;

CREATE UNIQUE INDEX IF NOT EXISTS idx_cluster_summary_tenant
  ON public.cluster_summary (tenant_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS public.session_stats AS
  SELECT tenant_id,
         session_type,
         status,
         count(*) AS session_count,
         avg(extract(epoch FROM end_time - start_time) / 60)::double precision AS avg_duration_minutes,
         coalesce(sum(cpu_request), 0) AS total_cpu_request,
         coalesce(sum(memory_request_gb), 0) AS total_memory_request,
         now() AS refreshed_at
  FROM public.sessions
  WHERE created_at >= now() - interval '24 hours'
  GROUP BY tenant_id, session_type, status
WITH DATA;

CREATE UNIQUE INDEX IF NOT EXISTS idx_session_stats_tenant_type_status
  ON public.session_stats (tenant_id, session_type, status);

-- CONCURRENTLY needs a populated view; one created WITH NO DATA elsewhere gets a plain refresh first.
CREATE OR REPLACE FUNCTION public.refresh_cluster_views() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  view_name text;
BEGIN
  FOREACH view_name IN ARRAY ARRAY['cluster_summary', 'session_stats'] LOOP
    IF (SELECT relispopulated FROM pg_class WHERE oid = format('public.%I', view_name)::regclass) THEN
      EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY public.%I', view_name);
    ELSE
      EXECUTE format('REFRESH MATERIALIZED VIEW public.%I', view_name);
    END IF;
  END LOOP;
END $$;
