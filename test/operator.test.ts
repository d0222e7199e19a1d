import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { CreateTenantDocument, MeDocument } from './generated/graphql.js';
import { aRegisteredNode } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { createTestDatabase } from './helpers/run-databases.js';
import { login } from './helpers/identity.js';
import { expectResult, startTestServer, TEST_ENCRYPTION_KEY, type TestServer } from './helpers/server.js';

const ADMIN_PASSWORD = 'first admin password 0042';

/** Runs the operator CLI as an operator would, against this database, with `input` on standard input. */
function omega(databaseUrl: string, args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: databaseUrl, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe.runIf(runPostgresTests)('from an empty PostgreSQL database to an API key', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('migrates, creates a tenant and its admin, who signs in, and an API key that calls a mutation', async () => {
    const scratch = await createTestDatabase('omega_test');
    cleanup.push(scratch.drop);
    expect(await omega(scratch.url, ['migrate'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^applied /) });
    expect(await omega(scratch.url, ['create-tenant', '--name', 'Acme Compute', '--slug', 'acme', '--platform'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^tenant acme created/) });
    const admin = await omega(scratch.url, ['create-admin', '--tenant', 'acme', '--email', 'ops@acme.test'], `${ADMIN_PASSWORD}\n`);
    expect(admin).toMatchObject({ code: 0, stdout: expect.stringMatching(/^admin ops <ops@acme\.test> created in tenant acme/) });
    expect(admin.stdout + admin.stderr).not.toContain(ADMIN_PASSWORD);
    expect(await omega(scratch.url, ['create-admin', '--tenant', 'nowhere', '--email', 'x@acme.test', '--password', ADMIN_PASSWORD])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^omega: /) });

    const server: TestServer = await startTestServer('postgres', { databaseUrl: scratch.url, jobsEnabled: false });
    cleanup.push(() => server.close());
    const { tokens } = await login(server, 'ops@acme.test', ADMIN_PASSWORD);
    const me = await server.withHeaders({ authorization: `Bearer ${tokens!.accessToken}` }).request(MeDocument);
    expect(me.data!.me).toMatchObject({ role: 'ADMIN', user: { username: 'ops' } });

    const created = await omega(scratch.url, ['create-api-key', '--email', 'ops@acme.test', '--name', 'deploy pipeline']);
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    expect(secret.split('\n')).toHaveLength(1);
    expect(created.stderr).not.toContain(secret);
    const node = await aRegisteredNode(server.withHeaders({ 'x-api-key': secret }), { hostname: 'first-node.acme.test' });
    expect(node.hostname).toBe('first-node.acme.test');
  });

  it('creates the first platform admin from BOOTSTRAP_ADMIN_* on a database without users, once', async () => {
    const env = { BOOTSTRAP_ADMIN_EMAIL: 'root@omega.test', BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD, BOOTSTRAP_TENANT_NAME: 'Platform Ops' };
    const server = await startTestServer('postgres', { jobsEnabled: false }, { env });
    cleanup.push(() => server.close());
    const { tokens } = await login(server, 'root@omega.test', ADMIN_PASSWORD);
    const root = server.withHeaders({ authorization: `Bearer ${tokens!.accessToken}` });
    const tenant = await root.request(CreateTenantDocument, {
      input: { name: 'Customer One', slug: 'customer-one', admin: { username: 'c1-admin', email: 'admin@c1.test', password: 'customer admin password 1' } },
    });
    expect(expectResult(tenant, 'CreateTenantSuccess').tenant.slug).toBe('customer-one');

    const again = await startTestServer('postgres', { jobsEnabled: false, databaseUrl: server.rawDatabaseUrl }, { env: { ...env, BOOTSTRAP_ADMIN_EMAIL: 'second@omega.test' } });
    cleanup.push(() => again.close());
    expect((await login(again, 'second@omega.test', ADMIN_PASSWORD)).code).toBe('UNAUTHENTICATED');
  });
});
