import { loadConfig } from '../src/config.js';
import { backupDatabase, restoreDatabase, secretsNote } from '../src/ops/backup.js';
import { OperatorError, targetOf } from '../src/ops/database-target.js';
import { moveDatabase } from '../src/ops/move.js';

const USAGE = `usage:
  npm run db:backup -- <file>
  npm run db:restore -- <file> [--force]
  npm run db:move -- --to postgresql://...`;

class UsageError extends Error {}

const megabytes = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main([command, ...args]: string[]): Promise<void> {
  const config = loadConfig();
  const target = targetOf(config);
  const positional = args.filter((arg) => !arg.startsWith('--'));
  switch (command) {
    case 'backup': {
      if (positional.length !== 1) throw new UsageError(USAGE);
      const result = await backupDatabase(target, positional[0]!);
      console.log(`backed up to ${result.file} (${result.format}, ${megabytes(result.bytes)}) in ${seconds(result.ms)}`);
      const note = secretsNote(result.secrets);
      if (note) console.log(note);
      return;
    }
    case 'restore': {
      if (positional.length !== 1) throw new UsageError(USAGE);
      const result = await restoreDatabase(target, positional[0]!, { force: args.includes('--force'), encryption: config.encryption });
      console.log(`restored ${result.file} (${result.format}, ${megabytes(result.bytes)}) in ${seconds(result.ms)}`);
      if (result.replacedDataKeptIn) console.log(`the database it replaced is kept in ${result.replacedDataKeptIn}`);
      return;
    }
    case 'move': {
      const to = args[args.indexOf('--to') + 1];
      if (!args.includes('--to') || !to) throw new UsageError(USAGE);
      if (target.kind !== 'embedded') throw new OperatorError('db:move copies the embedded database: unset DATABASE_URL (DATA_DIR names the folder to copy)');
      await moveDatabase(target.dataDir, to, (line) => console.log(line));
      return;
    }
    default:
      throw new UsageError(USAGE);
  }
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  const known = error instanceof UsageError || error instanceof OperatorError;
  console.error(known ? (error as Error).message : `db: ${(error as Error).message}`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
}
