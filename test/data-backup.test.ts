import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../src/infra/embedded-postgres.js';
import { backupDatabase, restoreDatabase } from '../src/ops/backup.js';
import { RegisterNodeDocument } from './generated/graphql.js';
import { aGpuNode } from './helpers/builders.js';
import { runOperatorCommand } from './helpers/operator-command.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createScratchDatabase, runPostgresTests } from './helpers/backing-services.js';
import { rowCounts, snapshotTables } from './helpers/table-snapshot.js';

async function snapshotEmbedded(dataDir: string): Promise<Record<string, string[]>> {
  const embedded = await startEmbeddedPostgres({ dataDir });
  try {
    return await snapshotTables(embedded.url);
  } finally {
    await embedded.close();
  }
}

/** Demo data, plus a node registered through the API, so the backup holds what users write. */
async function seededServer(kind: 'pglite' | 'postgres', dataDir?: string): Promise<TestServer> {
  const server = await startTestServer(kind, { seedOnStart: true, jobsEnabled: false, ...(dataDir ? { dataDir } : {}) });
  const operator = await server.signIn({ role: 'operator' });
  const registered = await operator.request(RegisterNodeDocument, { input: aGpuNode({ hostname: 'backed-up.test' }) });
  expect(registered.data?.registerNode.__typename).toBe('RegisterNodeSuccess');
  return server;
}

describe('backup and restore of the embedded database', () => {
  let work: string;
  let dataDir: string;
  let server: TestServer | undefined;
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'omega-backup-'));
    dataDir = path.join(work, 'data');
    server = await seededServer('pglite', dataDir);
  });
  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('refuses, from the command line, while the server has the data folder open, naming the process', async () => {
    const command = await runOperatorCommand(['backup', path.join(work, 'live.tgz')], { DATA_DIR: dataDir });
    expect(command.code).toBe(1);
    expect(command.stderr).toMatch(new RegExp(`open in process ${process.pid} \\(the server\\).*stop the server`));
    expect(existsSync(path.join(work, 'live.tgz'))).toBe(false);
  });

  it('round-trips every row into a fresh data folder, and refuses to overwrite one unless forced', async () => {
    await server!.close();
    server = undefined;
    const original = await snapshotEmbedded(dataDir);
    expect(original['public.nodes']!.some((row) => row.includes('backed-up.test'))).toBe(true);

    const file = path.join(work, 'omega.tgz');
    const backup = await backupDatabase({ kind: 'embedded', dataDir }, file);
    expect(backup).toMatchObject({ format: 'pglite', file });
    expect(backup.bytes).toBeGreaterThan(0);

    const freshDir = path.join(work, 'restored');
    const restored = await restoreDatabase({ kind: 'embedded', dataDir: freshDir }, file);
    expect(restored.replacedDataKeptIn).toBeUndefined();
    const copy = await snapshotEmbedded(freshDir);
    expect(rowCounts(copy)).toEqual(rowCounts(original));
    expect(copy).toEqual(original);

    await expect(restoreDatabase({ kind: 'embedded', dataDir: freshDir }, file)).rejects.toThrow(/already holds a database.*--force/);
    const forced = await restoreDatabase({ kind: 'embedded', dataDir: freshDir }, file, { force: true });
    expect(forced.replacedDataKeptIn).toMatch(/restored\.before-restore-/);
    expect(await snapshotEmbedded(forced.replacedDataKeptIn!)).toEqual(original);
    expect(await snapshotEmbedded(freshDir)).toEqual(original);
  });

  it('refuses a file it cannot read, and one that is not a backup', async () => {
    const other = path.join(work, 'other');
    await expect(restoreDatabase({ kind: 'embedded', dataDir: other }, path.join(work, 'missing.tgz'))).rejects.toThrow(/cannot read/);
    await writeFile(path.join(work, 'notes.txt'), 'not a backup');
    await expect(restoreDatabase({ kind: 'embedded', dataDir: other }, path.join(work, 'notes.txt'))).rejects.toThrow(/is not a backup made by db:backup/);
    expect(existsSync(other)).toBe(false);
  });
});

describe.runIf(runPostgresTests)('backup and restore on PostgreSQL', () => {
  let server: TestServer;
  let work: string;
  let target: { url: string; drop(): Promise<void> };
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'omega-backup-'));
    server = await seededServer('postgres');
    target = await createScratchDatabase('omega_restore');
  });
  afterAll(async () => {
    await server?.close();
    await target?.drop();
    await rm(work, { recursive: true, force: true });
  });

  it('backs up with pg_dump while the server runs and restores every row into a new database', async () => {
    const file = path.join(work, 'omega.dump');
    const backup = await backupDatabase({ kind: 'postgresql', url: server.rawDatabaseUrl }, file);
    expect(backup.format).toBe('pg_dump');
    const original = await snapshotTables(server.rawDatabaseUrl);

    await restoreDatabase({ kind: 'postgresql', url: target.url }, file);
    const copy = await snapshotTables(target.url);
    expect(rowCounts(copy)).toEqual(rowCounts(original));
    expect(copy).toEqual(original);

    await expect(restoreDatabase({ kind: 'postgresql', url: target.url }, file)).rejects.toThrow(/already holds \d+ tables.*--force/);
    await restoreDatabase({ kind: 'postgresql', url: target.url }, file, { force: true });
    expect(await snapshotTables(target.url)).toEqual(original);
  });

  it('says which backup goes where', async () => {
    const embeddedArchive = path.join(work, 'embedded.tgz');
    const embedded = await startEmbeddedPostgres({ dataDir: path.join(work, 'embedded') });
    await embedded.close();
    await backupDatabase({ kind: 'embedded', dataDir: path.join(work, 'embedded') }, embeddedArchive);
    await expect(restoreDatabase({ kind: 'postgresql', url: target.url }, embeddedArchive)).rejects.toThrow(/db:move/);
    await expect(restoreDatabase({ kind: 'embedded', dataDir: path.join(work, 'x') }, path.join(work, 'omega.dump'))).rejects.toThrow(/pg_dump backup/);
  });
});
