-- Tenant isolation in the database itself. The API runs tenant work as the role omega_app, which
-- owns nothing, so row-level security applies to it; each transaction names its tenant with
-- set_config('app.current_tenant_id', <uuid>, true). Without a tenant it sees no tenant's rows.
-- The migrating role (the tables' owner) bypasses these policies and serves cross-tenant jobs.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'omega_app') THEN
    BEGIN
      CREATE ROLE omega_app NOLOGIN;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE EXCEPTION 'role omega_app is missing and % may not create it: run "CREATE ROLE omega_app NOLOGIN; GRANT omega_app TO %;" as a superuser, then migrate again', current_user, current_user;
    END;
  END IF;
  IF NOT pg_has_role(current_user, 'omega_app', 'MEMBER') THEN
    EXECUTE format('GRANT omega_app TO %I', current_user);
  END IF;
END
$$;

GRANT USAGE ON SCHEMA public, security TO omega_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public, security TO omega_app;
DO $$
BEGIN
  IF to_regclass('_prisma_migrations') IS NOT NULL THEN
    REVOKE ALL ON TABLE _prisma_migrations FROM omega_app;
  END IF;
END
$$;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public, security TO omega_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public, security GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO omega_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public, security GRANT USAGE, SELECT ON SEQUENCES TO omega_app;

CREATE OR REPLACE FUNCTION app_current_tenant_id() RETURNS uuid
  LANGUAGE sql STABLE
  AS $$ SELECT NULLIF(current_setting('app.current_tenant_id', true), '')::uuid $$;

-- TimescaleDB refuses row-level security on hypertables with compression (columnstore); those
-- metric tables keep compression and rely on the API's tenant filter, and a NOTICE says so.
DO $$
DECLARE
  target record;
  compressed text[] := '{}';
BEGIN
  IF to_regclass('timescaledb_information.hypertables') IS NOT NULL THEN
    EXECUTE $q$SELECT coalesce(array_agg(hypertable_schema || '.' || hypertable_name), '{}')
               FROM timescaledb_information.hypertables WHERE compression_enabled$q$
      INTO compressed;
  END IF;
  FOR target IN
    SELECT c.table_schema, c.table_name
    FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
    WHERE c.column_name = 'tenant_id'
      AND c.table_schema IN ('public', 'security')
      AND t.table_type = 'BASE TABLE'
    ORDER BY 1, 2
  LOOP
    IF (target.table_schema || '.' || target.table_name) = ANY (compressed) THEN
      RAISE NOTICE 'rls: % is a compressed hypertable; row-level security is not available on it', target.table_name;
      CONTINUE;
    END IF;
    EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', target.table_schema, target.table_name);
    EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I.%I', target.table_schema, target.table_name);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I.%I USING (tenant_id = app_current_tenant_id()) WITH CHECK (tenant_id = app_current_tenant_id())',
      target.table_schema, target.table_name
    );
  END LOOP;
END
$$;
