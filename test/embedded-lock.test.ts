import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lockDataDir } from '../src/infra/embedded-postgres.js';

/** A shell that leaves its exited child unreaped (a zombie) and stays alive; both pids. */
async function aZombieAndItsParent(): Promise<{ zombie: number; parent: number; stop(): void }> {
  const shell = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const zombie = await new Promise<number>((resolve) => shell.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))));
  for (let tries = 0; tries < 100; tries++) {
    const stat = await readFile(`/proc/${zombie}/stat`, 'utf8').catch(() => '');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { zombie, parent: shell.pid!, stop: () => shell.kill('SIGKILL') };
}

describe.runIf(process.platform === 'linux')('the embedded database lock', () => {
  const dirs: string[] = [];
  const aDataDir = async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'omega-lock-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('takes over a lock whose owner is a zombie, and still refuses a live owner', async () => {
    const processes = await aZombieAndItsParent();
    try {
      const zombieDir = await aDataDir();
      await writeFile(path.join(zombieDir, 'embedded.lock'), String(processes.zombie));
      const unlock = await lockDataDir(zombieDir);
      expect(await readFile(path.join(zombieDir, 'embedded.lock'), 'utf8')).toBe(String(process.pid));
      await unlock();

      const liveDir = await aDataDir();
      await writeFile(path.join(liveDir, 'embedded.lock'), String(processes.parent));
      await expect(lockDataDir(liveDir)).rejects.toThrow(`in use by process ${processes.parent}`);
    } finally {
      processes.stop();
    }
  });
});
