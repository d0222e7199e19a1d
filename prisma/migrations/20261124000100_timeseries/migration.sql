-- Telemetry storage.
-- With TimescaleDB: hypertables, retention and compression policies, and node_metrics_hourly as a
-- continuous aggregate. Without it: the tables stay plain and node_metrics_hourly is a materialized
-- view with the same columns. A NOTICE says which path ran.
-- The runner sends this file as one simple query, i.e. one implicit transaction: the continuous
-- aggregate is therefore created WITH NO DATA (its policy, or an explicit refresh, fills it).

DO $$
DECLARE
  ts_version text;
  ts_license text;
  t record;
BEGIN
  SELECT extversion INTO ts_version FROM pg_extension WHERE extname = 'timescaledb';

  IF ts_version IS NULL AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS timescaledb;
      SELECT extversion INTO ts_version FROM pg_extension WHERE extname = 'timescaledb';
    EXCEPTION WHEN OTHERS THEN
      -- Typically "must be preloaded": available on disk but not in shared_preload_libraries.
      RAISE NOTICE 'timeseries: timescaledb is available but CREATE EXTENSION failed (%)', SQLERRM;
    END;
  END IF;

  IF ts_version IS NULL THEN
    RAISE NOTICE 'timeseries: TimescaleDB not available, metrics tables stay plain and node_metrics_hourly is a materialized view';
    RETURN;
  END IF;

  -- Compression, policies and continuous aggregates are not in the Apache-licensed build.
  ts_license := coalesce(current_setting('timescaledb.license', true), 'timescale');

  FOR t IN
    SELECT * FROM (VALUES
      ('node_metrics',    'time',      interval '1 day',  true,  'tenant_id, node_id'),
      ('session_metrics', 'time',      interval '1 day',  true,  'tenant_id, session_id'),
      ('system_metrics',  'timestamp', interval '1 day',  true,  'tenant_id, node_id'),
      ('llm_metrics',     'timestamp', interval '1 day',  true,  'tenant_id, model_id'),
      -- Events are kept (no retention) and stay uncompressed because resolving one updates it.
      ('system_events',   'timestamp', interval '7 days', false, NULL)
    ) AS v(tbl, time_col, chunk, is_metric, segment_by)
  LOOP
    PERFORM create_hypertable(
      format('public.%I', t.tbl)::regclass, t.time_col::name,
      chunk_time_interval => t.chunk,
      create_default_indexes => false,
      if_not_exists => true,
      migrate_data => true);

    IF t.is_metric AND ts_license <> 'apache' THEN
      PERFORM add_retention_policy(format('public.%I', t.tbl)::regclass, interval '30 days', if_not_exists => true);

      IF NOT EXISTS (
        SELECT 1 FROM timescaledb_information.hypertables h
        WHERE h.hypertable_schema = 'public' AND h.hypertable_name = t.tbl AND h.compression_enabled
      ) THEN
        -- id is a tie-breaker so the (id, time) primary key can be checked on compressed chunks.
        EXECUTE format(
          'ALTER TABLE public.%I SET (timescaledb.compress, timescaledb.compress_segmentby = %L, timescaledb.compress_orderby = %L)',
          t.tbl, t.segment_by, format('%I DESC, id', t.time_col));
      END IF;
      PERFORM add_compression_policy(format('public.%I', t.tbl)::regclass, interval '7 days', if_not_exists => true);
    END IF;
  END LOOP;

  IF ts_license = 'apache' THEN
    RAISE NOTICE 'timeseries: TimescaleDB % (apache license): hypertables only; no retention, compression or continuous aggregate, node_metrics_hourly is a materialized view', ts_version;
    RETURN;
  END IF;

  IF to_regclass('public.node_metrics_hourly') IS NULL THEN
    -- materialized_only = false: queries also see the not yet materialized latest hour.
    CREATE MATERIALIZED VIEW public.node_metrics_hourly
    WITH (timescaledb.continuous, timescaledb.materialized_only = false, timescaledb.create_group_indexes = false) AS
      SELECT time_bucket(interval '1 hour', time) AS bucket,
             tenant_id,
             node_id,
             metric_type,
             avg(value) AS avg_value,
             min(value) AS min_value,
             max(value) AS max_value,
             count(*) AS sample_count
      FROM public.node_metrics
      GROUP BY 1, 2, 3, 4
    WITH NO DATA;
  END IF;

  IF NOT EXISTS (
    SELECT 1 FROM timescaledb_information.continuous_aggregates
    WHERE view_schema = 'public' AND view_name = 'node_metrics_hourly'
  ) THEN
    RAISE NOTICE 'timeseries: TimescaleDB %: hypertables and policies; node_metrics_hourly already exists as a materialized view and stays one', ts_version;
    RETURN;
  END IF;

  CREATE INDEX IF NOT EXISTS idx_node_metrics_hourly_tenant_node_bucket
    ON public.node_metrics_hourly (tenant_id, node_id, bucket DESC);

  -- start_offset stays well inside the 30-day raw retention: a refresh over dropped raw chunks
  -- would erase their hourly rows, which are kept for a year (seed: raw 30 days, aggregates 1 year).
  PERFORM add_continuous_aggregate_policy('public.node_metrics_hourly',
    start_offset => interval '1 day',
    end_offset => interval '1 hour',
    schedule_interval => interval '1 hour',
    if_not_exists => true);
  PERFORM add_retention_policy('public.node_metrics_hourly', interval '1 year', if_not_exists => true);

  RAISE NOTICE 'timeseries: TimescaleDB %: hypertables, 30-day retention, compression after 7 days, node_metrics_hourly is a continuous aggregate kept for a year', ts_version;
END $$;

-- Fallback rollup. Skipped where the block above made node_metrics_hourly a continuous aggregate.
-- date_bin keeps buckets on UTC hours whatever the session time zone, as time_bucket does.
CREATE MATERIALIZED VIEW IF NOT EXISTS public.node_metrics_hourly AS
  SELECT date_bin(interval '1 hour', time, timestamptz '2000-01-01 00:00:00+00') AS bucket,
         tenant_id,
         node_id,
         metric_type,
         avg(value) AS avg_value,
         min(value) AS min_value,
         max(value) AS max_value,
         count(*) AS sample_count
  FROM public.node_metrics
  GROUP BY 1, 2, 3, 4
WITH DATA;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('public.node_metrics_hourly') AND relkind = 'm') THEN
    CREATE UNIQUE INDEX IF NOT EXISTS idx_node_metrics_hourly_key
      ON public.node_metrics_hourly (tenant_id, node_id, metric_type, bucket);
  END IF;
END $$;

-- Returns true when it refreshed the materialized view. A continuous aggregate (a plain view over
-- its materialization) is left to its policy, because refresh_continuous_aggregate refuses to run
-- inside a transaction and so inside any function: the caller may CALL it outside a transaction.
CREATE OR REPLACE FUNCTION public.refresh_node_metrics_hourly() RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  populated boolean;
BEGIN
  SELECT c.relispopulated INTO populated
  FROM pg_class c
  WHERE c.oid = to_regclass('public.node_metrics_hourly') AND c.relkind = 'm';

  IF populated IS NULL THEN
    RETURN false;
  ELSIF populated THEN
    REFRESH MATERIALIZED VIEW CONCURRENTLY public.node_metrics_hourly;
  ELSE
    REFRESH MATERIALIZED VIEW public.node_metrics_hourly;
  END IF;
  RETURN true;
END $$;
