import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../src/infra/embedded-postgres.js';
import { moveDatabase } from '../src/ops/move.js';
import { RegisterNodeDocument } from './generated/graphql.js';
import { aGpuNode } from './helpers/builders.js';
import { runOperatorCommand } from './helpers/operator-command.js';
import { startTestServer } from './helpers/server.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { createTestDatabase } from './helpers/run-databases.js';
import { rowCounts, snapshotTables } from './helpers/table-snapshot.js';

describe.runIf(runPostgresTests)('moving the embedded database to PostgreSQL', () => {
  let work: string;
  let dataDir: string;
  let original: Record<string, string[]>;
  const targets: { url: string; drop(): Promise<void> }[] = [];
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'omega-move-'));
    dataDir = path.join(work, 'data');
    const server = await startTestServer('pglite', { dataDir, seedOnStart: true, jobsEnabled: false });
    try {
      const operator = await server.signIn({ role: 'operator' });
      const registered = await operator.request(RegisterNodeDocument, { input: aGpuNode({ hostname: 'moved.test' }) });
      expect(registered.data?.registerNode.__typename).toBe('RegisterNodeSuccess');
    } finally {
      await server.close();
    }
    const embedded = await startEmbeddedPostgres({ dataDir });
    try {
      original = await snapshotTables(embedded.url);
    } finally {
      await embedded.close();
    }
  });
  afterAll(async () => {
    for (const target of targets) await target.drop();
    await rm(work, { recursive: true, force: true });
  });

  it('copies every table into an empty database, printing counts, and every row compares equal', async () => {
    const target = await createTestDatabase('omega_move');
    targets.push(target);
    const command = await runOperatorCommand(['move', '--to', target.url], { DATA_DIR: dataDir });
    expect(command.stderr).toBe('');
    expect(command.code).toBe(0);
    expect(command.stdout).toMatch(/^public\.nodes: \d+ rows$/m);
    expect(command.stdout).toMatch(new RegExp(`verified: ${Object.keys(original).length} tables, \\d+ rows, counts equal on both sides`));

    const copy = await snapshotTables(target.url);
    expect(rowCounts(copy)).toEqual(rowCounts(original));
    expect(copy).toEqual(original);
    expect(original['public.nodes']!.some((row) => row.includes('moved.test'))).toBe(true);
  });

  it('refuses a target that holds rows, and leaves it as it was', async () => {
    const target = await createTestDatabase('omega_move');
    targets.push(target);
    await moveDatabase(dataDir, target.url);
    await expect(moveDatabase(dataDir, target.url)).rejects.toThrow(/target database is not empty \(public\.\w+ has rows\)/);
    expect(rowCounts(await snapshotTables(target.url))).toEqual(rowCounts(original));
  });
});
