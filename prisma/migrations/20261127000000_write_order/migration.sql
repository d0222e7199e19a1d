-- Write order for every time-ordered list: rows stamped at one instant (one transaction's now(), a
-- batch sharing a sample time) and keyed by random UUIDs would otherwise come back in arbitrary
-- order. Each table gets `seq`, filled from its own sequence on insert; existing rows are numbered
-- by (time, id). On a partitioned table (or hypertable) every step recurses to the partitions.
CREATE OR REPLACE FUNCTION pg_temp.add_write_order(tbl regclass, time_col text, id_col text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  rel_schema text := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl);
  rel_name text := (SELECT relname FROM pg_class WHERE oid = tbl);
  seq_name text := format('%I.%I', rel_schema, rel_name || '_seq_seq');
BEGIN
  EXECUTE format('CREATE SEQUENCE %s', seq_name);
  EXECUTE format('ALTER TABLE %s ADD COLUMN "seq" BIGINT', tbl);
  EXECUTE format(
    'UPDATE %1$s AS r SET "seq" = o.n FROM (SELECT %3$I AS k, %2$I AS t, row_number() OVER (ORDER BY %2$I, %3$I) AS n FROM %1$s) AS o '
    'WHERE r.%3$I = o.k AND r.%2$I = o.t', tbl, time_col, id_col);
  EXECUTE format('SELECT setval(%L, coalesce((SELECT max("seq") FROM %s), 0) + 1, false)', seq_name, tbl);
  EXECUTE format('ALTER TABLE %s ALTER COLUMN "seq" SET DEFAULT nextval(%L::regclass)', tbl, seq_name);
  EXECUTE format('ALTER TABLE %s ALTER COLUMN "seq" SET NOT NULL', tbl);
  EXECUTE format('ALTER SEQUENCE %s OWNED BY %s."seq"', seq_name, tbl);
  EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO omega_app', seq_name);
END $$;

SELECT pg_temp.add_write_order(tbl::regclass, time_col, id_col) FROM (VALUES
  ('public.users', 'created_at', 'user_id'),
  ('public.api_keys', 'created_at', 'api_key_id'),
  ('security.login_attempts', 'timestamp', 'id'),
  ('security.security_events', 'timestamp', 'id'),
  ('public.nodes', 'created_at', 'node_id'),
  ('public.storage_volumes', 'created_at', 'volume_id'),
  ('public.sessions', 'created_at', 'session_id'),
  ('public.deployments', 'created_at', 'deployment_id'),
  ('public.deployment_nodes', 'created_at', 'id'),
  ('public.system_metrics', 'timestamp', 'id'),
  ('public.llm_metrics', 'timestamp', 'id'),
  ('public.chat_sessions', 'created_at', 'id'),
  ('public.conversations', 'created_at', 'id'),
  ('public.messages', 'created_at', 'id'),
  ('public.documents', 'created_at', 'id'),
  ('public.tool_sessions', 'started_at', 'session_id'),
  ('public.tool_operations', 'created_at', 'id'),
  ('public.usage_records', 'recorded_at', 'id'),
  ('public.billing_events', 'created_at', 'id'),
  ('public.notification_deliveries', 'created_at', 'id')
) AS v(tbl, time_col, id_col)
ORDER BY tbl;

-- The archives keep the seq their rows had in the live table (the retention job copies it); rows
-- archived before the column existed are numbered by (time, id) as above.
ALTER TABLE "sessions_archive" ADD COLUMN "seq" BIGINT;
UPDATE "sessions_archive" AS r SET "seq" = o.n
FROM (SELECT "session_id", row_number() OVER (ORDER BY "created_at", "session_id") AS n FROM "sessions_archive") AS o
WHERE r."session_id" = o."session_id";
ALTER TABLE "sessions_archive" ALTER COLUMN "seq" SET NOT NULL;

ALTER TABLE "system_events_archive" ADD COLUMN "seq" BIGINT;
UPDATE "system_events_archive" AS r SET "seq" = o.n
FROM (SELECT "event_id", "timestamp", row_number() OVER (ORDER BY "timestamp", "event_id") AS n FROM "system_events_archive") AS o
WHERE r."event_id" = o."event_id" AND r."timestamp" = o."timestamp";
ALTER TABLE "system_events_archive" ALTER COLUMN "seq" SET NOT NULL;
