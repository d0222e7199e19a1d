import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/** Runs a command to its end, returning its exit code and output. */
function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('the compiled server, built as the Dockerfile builds it', () => {
  let dataDir: string | undefined;
  let server: ChildProcess | undefined;
  afterAll(async () => {
    server?.kill('SIGKILL');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('compiles, serves with node dist/main.js, and stops cleanly on SIGTERM', { timeout: 900_000 }, async () => {
    const build = await run('npm', ['run', 'build']);
    expect(build.code, build.output).toBe(0);

    dataDir = await mkdtemp(path.join(tmpdir(), 'omega-dist-'));
    const child = spawn(process.execPath, ['dist/main.js'], {
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'info', JWT_SECRET: 'a-secret-of-at-least-32-characters-for-the-test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = child;
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const ready = /ready at (http:\/\/\S+)/.exec(stdout)?.[1];
        if (ready) resolve(ready);
      });
      child.on('exit', (code) => reject(new Error(`exited with ${code} before it was ready:\n${stderr}`)));
    });
    const readiness = await fetch(new URL('/readyz', url));
    expect(readiness.status).toBe(200);
    expect((await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' }).then((r) => r.json())) as unknown).toEqual({ data: { __typename: 'Query' } });

    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    child.kill('SIGTERM');
    expect(await exit).toEqual({ code: 0, signal: null });
    const lines = stderr.trim().split('\n').map((line) => JSON.parse(line) as { msg: string; signal?: string });
    expect(lines.filter((line) => ['shutting down', 'server stopped'].includes(line.msg))).toEqual([
      expect.objectContaining({ msg: 'shutting down', signal: 'SIGTERM' }),
      expect.objectContaining({ msg: 'server stopped' }),
    ]);
  });
});
