import { createHash } from 'node:crypto';
import type { PrismaClient } from '../generated/prisma/client.js';

/** A stable 64-bit advisory lock key for a name, so every instance agrees on it. */
export function lockKey(name: string): bigint {
  return createHash('sha256').update(name).digest().readBigInt64BE(0);
}

/**
 * Runs `work` inside a transaction holding a transaction-scoped advisory lock, only if no other
 * instance holds it; returns undefined when another instance is already doing this work.
 */
export async function withExclusiveLock<T>(system: PrismaClient, name: string, work: (tx: Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>) => Promise<T>, timeoutMs = 60_000): Promise<T | undefined> {
  return system.$transaction(
    async (tx) => {
      const [row] = await tx.$queryRaw<{ locked: boolean }[]>`SELECT pg_try_advisory_xact_lock(${lockKey(name)}) AS locked`;
      if (!row?.locked) return undefined;
      return work(tx);
    },
    { timeout: timeoutMs, maxWait: 10_000 },
  );
}
