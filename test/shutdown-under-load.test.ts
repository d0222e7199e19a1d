import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { print } from 'graphql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { TokenService } from '../src/modules/identity/tokens.js';
import { RegisterNodeDocument } from './generated/graphql.js';
import { aGpuNode } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { createTestDatabase } from './helpers/run-databases.js';
import { TEST_ENCRYPTION_KEY, TEST_JWT_SECRET } from './helpers/server.js';

const CLIENTS = 50;
const REGISTER_NODE = print(RegisterNodeDocument);

type Outcome = { kind: 'completed'; hostname: string } | { kind: 'refused' } | { kind: 'failed'; hostname: string; reason: string };

describe.runIf(runPostgresTests)('SIGTERM under continuous load', () => {
  let scratch: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    scratch = await createTestDatabase('omega_test');
  });
  afterAll(async () => {
    await scratch?.drop();
  });

  it('completes or refuses every request, never cuts one, and logs no error', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { PATH: process.env.PATH ?? '', PORT: '0', DATABASE_URL: scratch.url, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY, MIGRATE_ON_START: 'true', JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT_MS: '10000', DB_POOL_MAX: '40' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        const match = /ready at (\S+)/.exec(chunk.toString());
        if (match) resolve(match[1]!);
      });
      void exited.then((code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
    });

    const db = new pg.Client({ connectionString: scratch.url });
    await db.connect();
    const tenant = await db.query<{ tenant_id: string }>(`INSERT INTO tenants (name, slug) VALUES ('Load', 'load') RETURNING tenant_id`);
    const tenantId = tenant.rows[0]!.tenant_id;
    const user = await db.query<{ user_id: string }>(`INSERT INTO users (tenant_id, username, email, role) VALUES ($1, 'load-admin', 'load@example.test', 'admin') RETURNING user_id`, [tenantId]);
    const tokens = await TokenService.create({ ...loadConfig({}).auth, jwtSecret: TEST_JWT_SECRET });
    const { token } = await tokens.issueAccessToken({ userId: user.rows[0]!.user_id, tenantId, role: 'admin', sessionFamilyId: null });

    const outcomes: Outcome[] = [];
    let stop = false;
    const send = async (): Promise<Outcome> => {
      const hostname = `load-${randomUUID()}.test`;
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: REGISTER_NODE, variables: { input: aGpuNode({ hostname }) } }),
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code;
        if (cause === 'ECONNREFUSED') return { kind: 'refused' };
        return { kind: 'failed', hostname, reason: String(cause ?? error) };
      }
      const body = (await response.json().catch(() => null)) as { data?: { registerNode?: { __typename: string } }; errors?: { extensions?: { code?: string } }[] } | null;
      // Refused while shutting down, or told to retry because the pool was busy: nothing was written.
      if (response.status === 503 && body?.errors?.[0]?.extensions?.code === 'SERVICE_UNAVAILABLE') return { kind: 'refused' };
      if (body?.data?.registerNode?.__typename === 'RegisterNodeSuccess') return { kind: 'completed', hostname };
      return { kind: 'failed', hostname, reason: `${response.status} ${JSON.stringify(body).slice(0, 200)}` };
    };
    const clients = Array.from({ length: CLIENTS }, async () => {
      let refusedInARow = 0;
      while (!stop && refusedInARow < 3) {
        const outcome = await send();
        outcomes.push(outcome);
        refusedInARow = outcome.kind === 'refused' ? refusedInARow + 1 : 0;
      }
    });
    while (outcomes.filter((outcome) => outcome.kind === 'completed').length < CLIENTS) await new Promise((resolve) => setTimeout(resolve, 50));
    const sentBeforeSignal = outcomes.length;
    child.kill('SIGTERM');
    const code = await exited;
    stop = true;
    await Promise.all(clients);

    const failed = outcomes.filter((outcome): outcome is Extract<Outcome, { kind: 'failed' }> => outcome.kind === 'failed');
    // A request lost on a connection closing under it must not have run: its node must not exist.
    const written = await db.query<{ hostname: string }>('SELECT hostname FROM nodes WHERE hostname = ANY($1)', [failed.map((outcome) => outcome.hostname)]);
    const completed = outcomes.filter((outcome) => outcome.kind === 'completed') as { hostname: string }[];
    const stored = await db.query<{ count: string }>('SELECT count(*) FROM nodes WHERE hostname = ANY($1)', [completed.map((outcome) => outcome.hostname)]);
    await db.end();
    const counts = { sentBeforeSignal, completed: completed.length, refused: outcomes.filter((outcome) => outcome.kind === 'refused').length, failedUnwritten: failed.length - written.rowCount! };
    console.log('shutdown under load', counts, stderr.split('\n').filter((line) => /shutting down|server stopped|cut/.test(line)));

    expect(code).toBe(0);
    expect(written.rows).toEqual([]);
    expect(failed.filter((outcome) => !/ECONNRESET|other side closed|socket/i.test(outcome.reason))).toEqual([]);
    expect(Number(stored.rows[0]!.count)).toBe(completed.length);
    expect(counts.completed).toBeGreaterThan(sentBeforeSignal);
    expect(stderr.split('\n').filter((line) => line.includes('"level":"error"'))).toEqual([]);
  }, 180_000);
});
