import { existsSync } from 'node:fs';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../infra/embedded-postgres.js';

/** Where an operator command works: a PostgreSQL server, or the embedded database's data folder. */
export type DatabaseTarget = { kind: 'postgresql'; url: string } | { kind: 'embedded'; dataDir: string };

/** An operator command's refusal: printed as one line, without a stack. */
export class OperatorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperatorError';
  }
}

export function targetOf(config: { databaseUrl: string | undefined; dataDir: string }): DatabaseTarget {
  return config.databaseUrl ? { kind: 'postgresql', url: config.databaseUrl } : { kind: 'embedded', dataDir: path.resolve(config.dataDir) };
}

/** A PGlite data folder holds PG_VERSION once a database was created in it. */
export function holdsEmbeddedDatabase(dataDir: string): boolean {
  return existsSync(path.join(dataDir, 'PG_VERSION'));
}

/**
 * Opens the embedded database in `dataDir` for an operator command. PGlite cannot be read from a
 * second process while the server has it open, so a running server is named and the command refused.
 */
export async function openEmbeddedForCommand(dataDir: string, command: string, options: { loadDataDir?: Blob } = {}): Promise<EmbeddedPostgres> {
  try {
    return await startEmbeddedPostgres({ dataDir, ...options });
  } catch (error) {
    const message = (error as Error).message;
    const inUse = /in use by process (\d+)/.exec(message)?.[1] ?? (message.includes('already open in this process') ? String(process.pid) : undefined);
    if (inUse) {
      throw new OperatorError(
        `${command}: the embedded database in ${dataDir} is open in process ${inUse} (the server); PGlite cannot be read consistently from another process, so stop the server and run ${command} again`,
      );
    }
    throw error;
  }
}
