-- Monthly range partitions for the growing telemetry tables where TimescaleDB is absent (with it
-- they are hypertables and stay so). Partitions live in the schema telemetry_partitions, outside the
-- schemas schema.prisma describes, as TimescaleDB's chunks do, so the datamodel and the database
-- still agree. Each table keeps a default partition so that no write is ever refused; retention
-- drops whole partitions. Existing rows are moved into the new partitions.

CREATE SCHEMA IF NOT EXISTS telemetry_partitions;

-- Creates the partition of `parent` for the month holding `month`, unless it exists. Rows of that
-- month already in the default partition are moved into it, as PostgreSQL requires.
CREATE OR REPLACE FUNCTION public.ensure_month_partition(parent regclass, month timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  parent_name text := (SELECT relname FROM pg_class WHERE oid = parent);
  time_col text;
  lower_bound timestamptz := date_trunc('month', month, 'UTC');
  upper_bound timestamptz := date_trunc('month', month, 'UTC') + interval '1 month';
  part_name text := format('%s_p%s', parent_name, to_char(date_trunc('month', month, 'UTC') AT TIME ZONE 'UTC', 'YYYYMM'));
  default_name text := format('telemetry_partitions.%I', parent_name || '_default');
BEGIN
  IF to_regclass(format('telemetry_partitions.%I', part_name)) IS NOT NULL THEN
    RETURN false;
  END IF;
  SELECT a.attname INTO time_col FROM pg_partitioned_table p JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
  WHERE p.partrelid = parent;
  EXECUTE format('CREATE TABLE telemetry_partitions.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part_name, parent);
  EXECUTE format('WITH moved AS (DELETE FROM %s WHERE %I >= $1 AND %I < $2 RETURNING *) INSERT INTO telemetry_partitions.%I SELECT * FROM moved',
    default_name, time_col, time_col, part_name) USING lower_bound, upper_bound;
  EXECUTE format('ALTER TABLE %s ATTACH PARTITION telemetry_partitions.%I FOR VALUES FROM (%L) TO (%L)', parent, part_name, lower_bound, upper_bound);
  RETURN true;
END $$;

-- Rebuilds one plain table as a partitioned one with the same name, columns, constraints, indexes,
-- grants and row-level security, its rows moved; materialized views over it are rebuilt too.
CREATE OR REPLACE FUNCTION public.partition_table_by_month(tbl text, time_col text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  old regclass := format('public.%I', tbl)::regclass;
  constraint_defs text[];
  index_defs text[];
  policy_defs text[];
  view_defs text[];
  view_index_defs text[];
  forced boolean;
  secured boolean;
  first_month timestamptz;
  m timestamptz;
  stmt text;
  r record;
BEGIN
  SELECT array_agg(format('ALTER TABLE public.%I ADD CONSTRAINT %I %s', tbl, conname, pg_get_constraintdef(oid)) ORDER BY contype DESC, conname)
    INTO constraint_defs FROM pg_constraint WHERE conrelid = old AND contype IN ('p', 'f');
  SELECT array_agg(pg_get_indexdef(i.indexrelid)) INTO index_defs
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = old AND NOT i.indisprimary;
  SELECT array_agg(format('CREATE POLICY %I ON public.%I AS %s FOR %s TO %s%s%s', policyname, tbl, permissive, cmd,
           array_to_string(roles, ', '),
           CASE WHEN qual IS NULL THEN '' ELSE ' USING (' || qual || ')' END,
           CASE WHEN with_check IS NULL THEN '' ELSE ' WITH CHECK (' || with_check || ')' END))
    INTO policy_defs FROM pg_policies WHERE schemaname = 'public' AND tablename = tbl;
  SELECT relrowsecurity, relforcerowsecurity INTO secured, forced FROM pg_class WHERE oid = old;
  SELECT array_agg(format('CREATE MATERIALIZED VIEW %s AS %s', v.oid::regclass, pg_get_viewdef(v.oid))),
         array_agg(v.oid::regclass::text)
    INTO view_defs, stmt
    FROM (SELECT DISTINCT c.oid FROM pg_depend d JOIN pg_rewrite rw ON rw.oid = d.objid JOIN pg_class c ON c.oid = rw.ev_class
          WHERE d.refobjid = old AND c.relkind = 'm') v;
  SELECT array_agg(pg_get_indexdef(i.indexrelid)) INTO view_index_defs
    FROM pg_index i WHERE i.indrelid IN (SELECT DISTINCT rw.ev_class FROM pg_depend d JOIN pg_rewrite rw ON rw.oid = d.objid
                                         JOIN pg_class c ON c.oid = rw.ev_class WHERE d.refobjid = old AND c.relkind = 'm');
  FOR r IN SELECT DISTINCT c.oid::regclass AS view FROM pg_depend d JOIN pg_rewrite rw ON rw.oid = d.objid JOIN pg_class c ON c.oid = rw.ev_class
           WHERE d.refobjid = old AND c.relkind = 'm' LOOP
    EXECUTE format('DROP MATERIALIZED VIEW %s', r.view);
  END LOOP;

  EXECUTE format('ALTER TABLE public.%I RENAME TO %I', tbl, tbl || '_unpartitioned');
  FOR r IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = old LOOP
    EXECUTE format('ALTER INDEX public.%I RENAME TO %I', r.relname, left(r.relname, 50) || '_unpartitioned');
  END LOOP;
  EXECUTE format('CREATE TABLE public.%I (LIKE public.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE (%I)',
    tbl, tbl || '_unpartitioned', time_col);
  EXECUTE format('CREATE TABLE telemetry_partitions.%I PARTITION OF public.%I DEFAULT', tbl || '_default', tbl);

  EXECUTE format('SELECT min(%I) FROM public.%I', time_col, tbl || '_unpartitioned') INTO first_month;
  m := date_trunc('month', least(coalesce(first_month, now()), now()), 'UTC');
  WHILE m <= now() + interval '2 months' LOOP
    PERFORM public.ensure_month_partition(format('public.%I', tbl)::regclass, m);
    m := m + interval '1 month';
  END LOOP;

  EXECUTE format('INSERT INTO public.%I SELECT * FROM public.%I', tbl, tbl || '_unpartitioned');
  EXECUTE format('DROP TABLE public.%I', tbl || '_unpartitioned');
  FOREACH stmt IN ARRAY coalesce(constraint_defs, '{}') LOOP EXECUTE stmt; END LOOP;
  FOREACH stmt IN ARRAY coalesce(index_defs, '{}') LOOP EXECUTE stmt; END LOOP;
  IF secured THEN EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', tbl); END IF;
  IF forced THEN EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', tbl); END IF;
  FOREACH stmt IN ARRAY coalesce(policy_defs, '{}') LOOP EXECUTE stmt; END LOOP;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'omega_app') THEN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON public.%I TO omega_app', tbl);
  END IF;
  FOREACH stmt IN ARRAY coalesce(view_defs, '{}') LOOP EXECUTE stmt; END LOOP;
  FOREACH stmt IN ARRAY coalesce(view_index_defs, '{}') LOOP EXECUTE stmt; END LOOP;
END $$;

DO $$
DECLARE
  t record;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    RAISE NOTICE 'partitions: TimescaleDB present, the telemetry tables stay hypertables';
    RETURN;
  END IF;
  FOR t IN
    SELECT * FROM (VALUES
      ('node_metrics', 'time'), ('session_metrics', 'time'), ('system_metrics', 'timestamp'),
      ('llm_metrics', 'timestamp'), ('system_events', 'timestamp')) AS v(tbl, time_col)
  LOOP
    IF (SELECT relkind FROM pg_class WHERE oid = format('public.%I', t.tbl)::regclass) = 'r' THEN
      PERFORM public.partition_table_by_month(t.tbl, t.time_col);
    END IF;
  END LOOP;
  RAISE NOTICE 'partitions: telemetry tables partitioned by month in schema telemetry_partitions';
END $$;

DROP FUNCTION public.partition_table_by_month(text, text);
