import { loadConfig } from '../src/config.js';
import { createDatabase } from '../src/infra/db.js';
import { startEmbeddedPostgres } from '../src/infra/embedded-postgres.js';
import { applyMigrations } from '../src/infra/migrator.js';
import { seedDemoData } from '../src/seed.js';

/** `npm run db:seed`: demo data into $DATABASE_URL, or into the embedded database in $DATA_DIR. */
async function run(): Promise<void> {
  const config = loadConfig();
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres({ dataDir: config.dataDir });
  const url = config.databaseUrl ?? embedded!.url;
  const db = createDatabase(url, 4);
  try {
    if (embedded) await applyMigrations(url);
    await seedDemoData(db.system, { password: config.demoPassword });
    process.stdout.write('demo data is in place (tenant "demo")\n');
  } finally {
    await db.close();
    await embedded?.close();
  }
}

run().catch((error: unknown) => {
  process.stderr.write(`db:seed failed: ${(error as Error).message}\n`);
  process.exit(1);
});
