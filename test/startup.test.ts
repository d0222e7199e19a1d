import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

/** Runs the real entry point and collects what a user would see. */
function startMain(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'error', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stderr, stdout }));
  });
}

describe('configuration', () => {
  it('defaults to the embedded database on port 4000', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 4000, databaseUrl: undefined, dataDir: './data', migrateOnStart: true, seedOnStart: true, tableMaintenanceIntervalMs: 60_000 });
  });

  it('names the variable that holds a bad value', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(new ConfigError('PORT', 'must be a whole number, got "eighty"'));
    expect(() => loadConfig({ DATABASE_URL: 'mysql://db/x' })).toThrow(/^DATABASE_URL must start with postgres:\/\/ or postgresql:\/\//);
    expect(() => loadConfig({ REDIS_URL: 'not a url' })).toThrow(/^REDIS_URL is not a valid URL/);
    expect(() => loadConfig({ MIGRATE_ON_START: 'maybe' })).toThrow(/^MIGRATE_ON_START must be true or false/);
  });

  it('does not migrate or seed an external database unless asked', () => {
    const config = loadConfig({ DATABASE_URL: 'postgresql://u:p@db:5432/omega' });
    expect(config).toMatchObject({ migrateOnStart: false, seedOnStart: false, tableMaintenanceIntervalMs: undefined });
    expect(loadConfig({ DATABASE_URL: 'postgresql://db/omega', TABLE_MAINTENANCE: 'true', TABLE_MAINTENANCE_INTERVAL_SECONDS: '5' }).tableMaintenanceIntervalMs).toBe(5_000);
  });
});

describe('start-up failures', () => {
  it('stops with one line naming a bad DATABASE_URL', async () => {
    const result = await startMain({ DATABASE_URL: 'mysql://root@127.0.0.1/omega' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      'omega: invalid configuration: DATABASE_URL must start with postgres:// or postgresql://, got mysql://',
    ]);
  });

  it('stops with one line when DATABASE_URL is given without ENCRYPTION_KEY', async () => {
    const result = await startMain({ DATABASE_URL: 'postgresql://omega:s3cret@127.0.0.1:1/omega', PORT: '0' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^omega: invalid configuration: ENCRYPTION_KEY is required with DATABASE_URL/)]);
  });

  it('stops with one line when the database is unreachable, without printing its password', async () => {
    const result = await startMain({ DATABASE_URL: 'postgresql://omega:s3cret@127.0.0.1:1/omega', PORT: '0', ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64') });
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^omega: database unreachable at postgresql:\/\/omega:\*\*\*@127\.0\.0\.1:1\/omega: .*ECONNREFUSED/);
    expect(result.stderr).not.toContain('s3cret');
  });
});
