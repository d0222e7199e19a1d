import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createDatabase, type Database } from './infra/db.js';
import { applyMigrations } from './infra/migrator.js';
import { ApiKeyService } from './modules/identity/api-key.service.js';
import { OperatorService } from './modules/identity/operator.service.js';
import { SecurityLog } from './modules/identity/security-log.js';
import { ConflictError, NotFoundError, ValidationError } from './modules/shared/errors.js';
import { backupDatabase, restoreDatabase, secretsNote } from './ops/backup.js';
import { OperatorError, openEmbeddedForCommand, targetOf } from './ops/database-target.js';
import { moveDatabase } from './ops/move.js';
import { seedDemoData } from './seed.js';

const USAGE = `usage: npm run omega -- <command> [options]    (or: node dist/cli.js <command>)

  migrate                                   apply pending migrations
  seed-demo                                 demo tenant, users and nodes (idempotent; not for production)
  create-tenant --name NAME --slug SLUG [--platform]
                                            a tenant with dev, staging and prod environments
  create-admin --tenant SLUG --email EMAIL [--username NAME] [--password PASSWORD]
                                            an admin of the tenant; without --password, the password is read from standard input
  create-api-key --email EMAIL --name NAME [--environment prod] [--scopes a,b]
                                            an API key of that user (default: all its permissions); the secret is printed once
  backup <file> | restore <file> [--force] | move --to postgresql://...
                                            as npm run db:backup, db:restore and db:move

The database is DATABASE_URL, or the embedded one in DATA_DIR (stop the server first).`;

class UsageError extends Error {}

const megabytes = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function readStandardInput(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Opens the configured database for one command, migrating the embedded one first as the server would. */
async function withDatabase<T>(config: Config, command: string, work: (db: Database, url: string) => Promise<T>): Promise<T> {
  const target = targetOf(config);
  const embedded = target.kind === 'embedded' ? await openEmbeddedForCommand(target.dataDir, command) : undefined;
  const url = target.kind === 'embedded' ? embedded!.url : target.url;
  const db = createDatabase(url, 2, { embedded: embedded !== undefined });
  try {
    if (embedded && config.migrateOnStart && command !== 'migrate') await applyMigrations(url);
    return await work(db, url);
  } finally {
    await db.close();
    await embedded?.close();
  }
}

const operatorOf = (db: Database) => {
  const securityLog = new SecurityLog(db.system);
  return new OperatorService(db.system, securityLog, new ApiKeyService(db.system, securityLog));
};

function required(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${name} is required\n\n${USAGE}`);
  return value;
}

async function run(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      slug: { type: 'string' },
      platform: { type: 'boolean', default: false },
      tenant: { type: 'string' },
      email: { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      environment: { type: 'string' },
      scopes: { type: 'string' },
      force: { type: 'boolean', default: false },
      to: { type: 'string' },
    },
  });
  const config = loadConfig();
  switch (command) {
    case 'migrate':
      return withDatabase(config, command, async (_db, url) => {
        const { applied } = await applyMigrations(url, { debug: config.database.migrateDebug });
        console.log(applied.length === 0 ? 'already up to date' : applied.map((name) => `applied ${name}`).join('\n'));
      });
    case 'seed-demo':
      return withDatabase(config, command, async (db) => {
        await seedDemoData(db.system, { password: config.demoPassword });
        console.log('demo data is in place (tenant "demo")');
      });
    case 'create-tenant':
      return withDatabase(config, command, async (db) => {
        const tenant = await operatorOf(db).createTenant({ name: required(values, 'name'), slug: required(values, 'slug') }, { platform: values.platform });
        console.log(`tenant ${tenant.slug} created (id ${tenant.id}${tenant.isPlatform ? ', platform' : ''})`);
      });
    case 'create-admin': {
      const tenantSlug = required(values, 'tenant');
      const email = required(values, 'email');
      const password = values.password ?? (await readStandardInput());
      return withDatabase(config, command, async (db) => {
        const admin = await operatorOf(db).createAdmin({ tenantSlug, email, username: values.username, password });
        console.log(`admin ${admin.username} <${admin.email}> created in tenant ${tenantSlug} (id ${admin.id})`);
      });
    }
    case 'create-api-key':
      return withDatabase(config, command, async (db) => {
        const { apiKey, secret } = await operatorOf(db).createApiKey({
          email: required(values, 'email'),
          name: required(values, 'name'),
          environment: values.environment,
          scopes: values.scopes?.split(',').map((scope) => scope.trim()),
        });
        console.error(`API key ${apiKey.keyPrefix} (id ${apiKey.id}) created with scopes ${apiKey.scopes.join(', ')}; its secret is shown once, below:`);
        console.log(secret);
      });
    case 'backup': {
      if (positionals.length !== 1) throw new UsageError(USAGE);
      const result = await backupDatabase(targetOf(config), positionals[0]!);
      console.log(`backed up to ${result.file} (${result.format}, ${megabytes(result.bytes)}) in ${seconds(result.ms)}`);
      const note = secretsNote(result.secrets);
      if (note) console.log(note);
      return;
    }
    case 'restore': {
      if (positionals.length !== 1) throw new UsageError(USAGE);
      const result = await restoreDatabase(targetOf(config), positionals[0]!, { force: values.force, encryption: config.encryption });
      console.log(`restored ${result.file} (${result.format}, ${megabytes(result.bytes)}) in ${seconds(result.ms)}`);
      if (result.replacedDataKeptIn) console.log(`the database it replaced is kept in ${result.replacedDataKeptIn}`);
      return;
    }
    case 'move': {
      const target = targetOf(config);
      if (!values.to) throw new UsageError(USAGE);
      if (target.kind !== 'embedded') throw new OperatorError('move copies the embedded database: unset DATABASE_URL (DATA_DIR names the folder to copy)');
      await moveDatabase(target.dataDir, values.to, (line) => console.log(line));
      return;
    }
    default:
      throw new UsageError(USAGE);
  }
}

try {
  await run(process.argv.slice(2));
} catch (error) {
  const known = [UsageError, OperatorError, ConfigError, NotFoundError, ConflictError, ValidationError].some((kind) => error instanceof kind);
  console.error(known ? `omega: ${(error as Error).message}` : `omega: unexpected failure: ${(error as Error).message}`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
}
