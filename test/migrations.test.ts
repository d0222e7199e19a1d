import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../src/infra/embedded-postgres.js';
import { applyMigrations, diffDatabaseToSchema } from '../src/infra/migrator.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { createTestDatabase } from './helpers/run-databases.js';

const MIGRATIONS_DIR = path.resolve('prisma/migrations');
const SCHEMA_PATH = path.resolve('prisma/schema.prisma');
const MIGRATIONS = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

/** Every table of the unified data model, by module. */
const TABLES = {
  identity: ['public.tenants', 'public.environments', 'public.users', 'public.user_sessions', 'public.api_keys'],
  security: ['security.credentials', 'security.password_history', 'security.login_attempts', 'security.security_events'],
  cluster: [
    'public.regions',
    'public.nodes',
    'public.node_resources',
    'public.network_topologies',
    'public.node_network_interfaces',
    'public.storage_pools',
    'public.storage_volumes',
  ],
  workloads: ['public.sessions', 'public.session_allocations', 'public.deployments', 'public.deployment_nodes'],
  telemetry: [
    'public.node_metrics',
    'public.session_metrics',
    'public.system_metrics',
    'public.llm_metrics',
    'public.system_events',
    'public.daily_metrics_summary',
  ],
  ai: [
    'public.models',
    'public.chat_sessions',
    'public.conversations',
    'public.messages',
    'public.documents',
    'public.document_collections',
    'public.document_chunks',
    'public.response_cache',
  ],
  toolAnalytics: ['public.tool_sessions', 'public.tool_operations'],
  billing: ['public.usage_records', 'public.billing_events'],
  notifications: ['public.notification_config', 'public.notification_deliveries'],
};
const VIEWS = ['public.cluster_summary', 'public.session_stats', 'public.node_metrics_hourly'];

type Kind = 'pglite' | 'postgres';
const kinds: Kind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

describe.each(kinds)('migrations on %s', (kind) => {
  let url: string;
  let release: () => Promise<void>;
  let client: pg.Client;

  beforeAll(async () => {
    if (kind === 'pglite') {
      const embedded = await startEmbeddedPostgres();
      url = embedded.url;
      release = embedded.close;
    } else {
      const scratch = await createTestDatabase('omega_migrate');
      url = scratch.url;
      release = scratch.drop;
    }
    client = new pg.Client({ connectionString: url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await release?.();
  });

  it('applies every migration once, and a second run is a no-op', async () => {
    expect(await applyMigrations(url)).toEqual({ applied: MIGRATIONS });
    expect(await applyMigrations(url)).toEqual({ applied: [] });
  });

  it('records each migration as Prisma does, with the checksum of its file', async () => {
    const { rows } = await client.query<{
      migration_name: string;
      checksum: string;
      finished_at: Date | null;
      rolled_back_at: Date | null;
      applied_steps_count: number;
    }>('SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name');
    expect(rows.map((row) => row.migration_name)).toEqual(MIGRATIONS);
    for (const row of rows) {
      const sql = readFileSync(path.join(MIGRATIONS_DIR, row.migration_name, 'migration.sql'));
      expect(row.checksum).toBe(createHash('sha256').update(sql).digest('hex'));
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }
  });

  it('creates every table of the data model and the views', async () => {
    const { rows } = await client.query<{ name: string }>(
      `SELECT table_schema || '.' || table_name AS name FROM information_schema.tables
       WHERE table_schema IN ('public', 'security') AND table_type = 'BASE TABLE'`,
    );
    const tables = new Set(rows.map((row) => row.name));
    const expected = Object.values(TABLES).flat();
    expect(expected).toHaveLength(40);
    expect(expected.filter((table) => !tables.has(table))).toEqual([]);

    const views = await client.query<{ name: string }>("SELECT schemaname || '.' || matviewname AS name FROM pg_matviews");
    expect(views.rows.map((row) => row.name).sort()).toEqual([...VIEWS].sort());
  });

  it('agrees with schema.prisma: a diff from the migrated database changes nothing but the vector column where pgvector is missing', async () => {
    const { rows } = await client.query<{ available: boolean }>(
      "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') AS available",
    );
    const statements = (await diffDatabaseToSchema(url, SCHEMA_PATH))
      .split(';')
      .map((statement) => statement.replace(/--.*$/gm, '').replace(/\s+/g, ' ').trim())
      .filter(Boolean);
    // Without pgvector the embedding column is real[], by design: that is the one
    // difference allowed, and it must appear exactly there.
    expect(statements).toEqual(
      rows[0]!.available
        ? []
        : ['ALTER TABLE "document_chunks" DROP COLUMN "embedding", ADD COLUMN "embedding" vector'],
    );
  });

  it('enforces in SQL what Prisma cannot express: CHECK constraints and generated columns', async () => {
    const tenant = await client.query<{ tenant_id: string }>("INSERT INTO tenants (name, slug) VALUES ('T', $1) RETURNING tenant_id", [
      `t-${kind}-${Date.now()}`,
    ]);
    const tenantId = tenant.rows[0]!.tenant_id;
    const insertNode = (status: string) =>
      client.query<{ node_id: string }>(
        `INSERT INTO nodes (tenant_id, hostname, ip_address, node_type, status, total_cpu_cores, total_memory_gb, total_storage_gb)
         VALUES ($1, 'n1', '10.0.0.1', 'gpu', $2, 8, 64, 100) RETURNING node_id`,
        [tenantId, status],
      );
    await expect(insertNode('exploded')).rejects.toThrow(/nodes_status_check/);
    const node = await insertNode('active');
    const resource = await client.query<{ available_capacity: string }>(
      `INSERT INTO node_resources (tenant_id, node_id, resource_type, total_capacity, allocated_capacity, unit)
       VALUES ($1, $2, 'gpu', 8, 3, 'devices') RETURNING available_capacity`,
      [tenantId, node.rows[0]!.node_id],
    );
    expect(Number(resource.rows[0]!.available_capacity)).toBe(5);
    await expect(
      client.query("UPDATE node_resources SET allocated_capacity = 9 WHERE node_id = $1 AND resource_type = 'gpu'", [node.rows[0]!.node_id]),
    ).rejects.toThrow(/node_resources_capacity_check/);
  });
});
