import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../src/infra/embedded-postgres.js';
import { EMBEDDED_KEY_FILE, parseEncryptionKey } from '../src/infra/secret-box.js';
import { backupDatabase, restoreDatabase } from '../src/ops/backup.js';
import { ConfirmTotpDocument, EnrollTotpDocument, RegisterNodeDocument } from './generated/graphql.js';
import { aGpuNode } from './helpers/builders.js';
import { aUserWithPassword, login, STRONG_PASSWORD } from './helpers/identity.js';
import { runOperatorCommand } from './helpers/operator-command.js';
import { startTestServer, TEST_ENCRYPTION_KEY, type TestServer } from './helpers/server.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { createTestDatabase, embeddedTemplate } from './helpers/run-databases.js';
import { rowCounts, snapshotTables } from './helpers/table-snapshot.js';

const withTestKey = { encryption: { key: TEST_ENCRYPTION_KEY, previousKeys: [] } };
const OTHER_KEY = Buffer.alloc(32, 3).toString('base64');
const modeOf = async (file: string) => (await stat(file)).mode & 0o777;

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

/** A user with a password and TOTP, enrolled through the API: the TOTP secret is sealed at rest. */
async function aUserWithTotp(server: TestServer): Promise<{ username: string; totp: TOTP }> {
  const admin = await server.signIn({ role: 'admin' });
  const { username } = await aUserWithPassword(admin);
  const { tokens } = await login(server, username, STRONG_PASSWORD);
  const client = server.withHeaders({ authorization: `Bearer ${tokens!.accessToken}` });
  const enrollment = (await client.request(EnrollTotpDocument)).data!.enrollTotp;
  const totp = new TOTP({ secret: Secret.fromBase32(enrollment.secret), digits: 6, period: 30 });
  expect((await client.request(ConfirmTotpDocument, { code: totp.generate() })).data!.confirmTotp.__typename).toBe('ConfirmTotpSuccess');
  return { username, totp };
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
    expect(await modeOf(file)).toBe(0o600);

    const freshDir = path.join(work, 'restored');
    const restored = await restoreDatabase({ kind: 'embedded', dataDir: freshDir }, file, withTestKey);
    expect(restored.replacedDataKeptIn).toBeUndefined();
    const copy = await snapshotEmbedded(freshDir);
    expect(rowCounts(copy)).toEqual(rowCounts(original));
    expect(copy).toEqual(original);

    await expect(restoreDatabase({ kind: 'embedded', dataDir: freshDir }, file, withTestKey)).rejects.toThrow(/already holds a database.*--force/);
    const forced = await restoreDatabase({ kind: 'embedded', dataDir: freshDir }, file, { force: true, ...withTestKey });
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

describe('the keys of sealed secrets in an embedded backup', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'omega-backup-keys-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('carries the generated key, so a forced restore into the same folder still opens the secrets', async () => {
    const dataDir = path.join(work, 'generated');
    // No ENCRYPTION_KEY: the server generates one into the data folder.
    const before = await startTestServer('pglite', { dataDir, jobsEnabled: false, encryption: { key: undefined, previousKeys: [] } });
    let user: { username: string; totp: TOTP };
    try {
      user = await aUserWithTotp(before);
    } finally {
      await before.close();
    }
    const keyFile = path.join(dataDir, EMBEDDED_KEY_FILE);
    const keyId = parseEncryptionKey(await readFile(keyFile, 'utf8')).id;

    const file = path.join(work, 'generated.tgz');
    const backup = await runOperatorCommand(['backup', file], { DATA_DIR: dataDir, ENCRYPTION_KEY: '' });
    expect(backup.stdout).toContain(`its secrets are sealed with key ${keyId}, which the backup holds`);
    expect(await modeOf(file)).toBe(0o600);

    // With ENCRYPTION_KEY set the server would ignore the carried key, so the restore says how to go on instead.
    await expect(restoreDatabase({ kind: 'embedded', dataDir: path.join(work, 'elsewhere') }, file, withTestKey)).rejects.toThrow(
      new RegExp(`sealed with key ${keyId}, which the backup holds, but ENCRYPTION_KEY .* secrets:rotate`),
    );

    const restore = await runOperatorCommand(['restore', file, '--force'], { DATA_DIR: dataDir, ENCRYPTION_KEY: '' });
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    const keptIn = /kept in (\S+)/.exec(restore.stdout)![1]!;
    // The key the restore replaced is kept beside, with its database; the restored one is the backup's.
    expect(parseEncryptionKey(await readFile(path.join(keptIn, EMBEDDED_KEY_FILE), 'utf8')).id).toBe(keyId);
    expect(parseEncryptionKey(await readFile(keyFile, 'utf8')).id).toBe(keyId);
    expect(await modeOf(keyFile)).toBe(0o600);

    const after = await startTestServer('pglite', { dataDir, jobsEnabled: false, encryption: { key: undefined, previousKeys: [] } });
    try {
      expect((await login(after, user.username, STRONG_PASSWORD, user.totp.generate())).tokens).toBeDefined();
    } finally {
      await after.close();
    }
  }, 360_000);

  it('restores secrets sealed with ENCRYPTION_KEY only where that key is given, and refuses in one line otherwise', async () => {
    const dataDir = path.join(work, 'configured');
    const before = await startTestServer('pglite', { dataDir, jobsEnabled: false, ...withTestKey });
    let user: { username: string; totp: TOTP };
    try {
      user = await aUserWithTotp(before);
    } finally {
      await before.close();
    }
    expect(existsSync(path.join(dataDir, EMBEDDED_KEY_FILE))).toBe(false);
    const keyId = parseEncryptionKey(TEST_ENCRYPTION_KEY).id;

    const file = path.join(work, 'configured.tgz');
    const backup = await runOperatorCommand(['backup', file], { DATA_DIR: dataDir, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY });
    expect(backup.stdout).toContain(`its secrets are sealed with key ${keyId}, which the backup does not hold`);

    const into = path.join(work, 'configured-restored');
    const refused = await runOperatorCommand(['restore', file], { DATA_DIR: into, ENCRYPTION_KEY: '' });
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^db:restore: the backup's secrets are sealed with key ${keyId}, which neither the backup .*set ENCRYPTION_KEY`))]);
    const otherKey = { encryption: { key: OTHER_KEY, previousKeys: [] } };
    await expect(restoreDatabase({ kind: 'embedded', dataDir: into }, file, otherKey)).rejects.toThrow(new RegExp(`sealed with key ${keyId}, which neither ENCRYPTION_KEY`));
    expect(existsSync(path.join(into, 'PG_VERSION'))).toBe(false);

    await restoreDatabase({ kind: 'embedded', dataDir: into }, file, { encryption: { key: OTHER_KEY, previousKeys: [TEST_ENCRYPTION_KEY] } });

    const after = await startTestServer('pglite', { dataDir: into, jobsEnabled: false, encryption: { key: OTHER_KEY, previousKeys: [TEST_ENCRYPTION_KEY] } });
    try {
      expect((await login(after, user.username, STRONG_PASSWORD, user.totp.generate())).tokens).toBeDefined();
    } finally {
      await after.close();
    }
  }, 360_000);
});

describe.runIf(runPostgresTests)('backup and restore on PostgreSQL', () => {
  let server: TestServer;
  let work: string;
  let target: { url: string; drop(): Promise<void> };
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'omega-backup-'));
    server = await seededServer('postgres');
    target = await createTestDatabase('omega_restore');
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

    await restoreDatabase({ kind: 'postgresql', url: target.url }, file, withTestKey);
    const copy = await snapshotTables(target.url);
    expect(rowCounts(copy)).toEqual(rowCounts(original));
    expect(copy).toEqual(original);

    await expect(restoreDatabase({ kind: 'postgresql', url: target.url }, file, withTestKey)).rejects.toThrow(/already holds \d+ tables.*--force/);
    await restoreDatabase({ kind: 'postgresql', url: target.url }, file, { force: true, ...withTestKey });
    expect(await snapshotTables(target.url)).toEqual(original);
  });

  it('passes the password to pg_dump in a private file, never on its command line, and keeps the dump private', async () => {
    const bin = path.join(work, 'bin');
    const recorded = path.join(work, 'pg_dump.argv');
    const realPgDump = execFileSync('sh', ['-c', 'command -v pg_dump']).toString().trim();
    execFileSync('mkdir', ['-p', bin]);
    // Records what it was called with, then hands over to the real program.
    await writeFile(path.join(bin, 'pg_dump'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${recorded}'\nexec '${realPgDump}' "$@"\n`);
    await chmod(path.join(bin, 'pg_dump'), 0o755);
    const password = 'pw-that-must-not-show-9f3b';
    const withPassword = new URL(server.rawDatabaseUrl);
    withPassword.password = password;
    const originalPath = process.env.PATH;
    process.env.PATH = `${bin}:${originalPath}`;
    try {
      const file = path.join(work, 'private.dump');
      await backupDatabase({ kind: 'postgresql', url: withPassword.toString() }, file);
      expect(await modeOf(file)).toBe(0o600);
    } finally {
      process.env.PATH = originalPath;
    }
    const argv = await readFile(recorded, 'utf8');
    expect(argv).not.toContain(password);
    const passfile = decodeURIComponent(/passfile=([^&\s]+)/.exec(argv)![1]!);
    // The file lived only as long as the command.
    expect(existsSync(passfile)).toBe(false);
  });

  it('refuses in one line to restore secrets no configured key opens', async () => {
    await aUserWithTotp(server);
    const file = path.join(work, 'sealed.dump');
    const backup = await runOperatorCommand(['backup', file], { DATABASE_URL: server.rawDatabaseUrl, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY });
    expect(backup.stdout).toContain(`its secrets are sealed with key ${parseEncryptionKey(TEST_ENCRYPTION_KEY).id}, which the backup does not hold`);
    const empty = await createTestDatabase('omega_restore_refused');
    try {
      const refused = await runOperatorCommand(['restore', file], { DATABASE_URL: empty.url, ENCRYPTION_KEY: OTHER_KEY });
      expect(refused.code).toBe(1);
      expect(refused.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^db:restore: the backup's secrets are sealed with key \w+, which neither ENCRYPTION_KEY/)]);
      expect(await snapshotTables(empty.url)).toEqual({});
    } finally {
      await empty.drop();
    }
  });

  it('says which backup goes where', async () => {
    const embeddedArchive = path.join(work, 'embedded.tgz');
    // Any embedded backup will do: the run's migrated data folder, archived as db:backup archives one (a gzipped tar).
    await writeFile(embeddedArchive, gzipSync(Buffer.from(await (await embeddedTemplate())!.arrayBuffer())));
    await expect(restoreDatabase({ kind: 'postgresql', url: target.url }, embeddedArchive, withTestKey)).rejects.toThrow(/db:move/);
    await expect(restoreDatabase({ kind: 'embedded', dataDir: path.join(work, 'x') }, path.join(work, 'omega.dump'))).rejects.toThrow(/pg_dump backup/);
  });
});
