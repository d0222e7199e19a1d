import { createServer as createHttpServer } from 'node:http';
import { redactUrl, type Config } from './config.js';
import type { Database } from './infra/db.js';
import type { BackgroundJob } from './infra/jobs.js';
import type { Tracing } from './infra/tracing.js';
import { createLogger, type Logger } from './infra/logger.js';
import { applyMigrations } from './infra/migrator.js';
import { encryptionKeyFor } from './infra/secret-box.js';
import { openDatabase } from './infra/open-database.js';
import { ServerMetrics } from './infra/metrics.js';
import { createPubSubFor, type PubSub } from './infra/pubsub.js';
import { TokenService } from './modules/identity/tokens.js';
import { createRequestContexts } from './http/context.js';
import { RequestDrain } from './http/drain.js';
import { shutdownOnce } from './http/shutdown.js';
import { withRequestIds } from './http/request-id.js';
import { serveWebSockets } from './http/websocket.js';
import { createGraphQLHandler } from './http/yoga.js';
import { DEFAULT_TENANT, seedDemoData } from './seed.js';
import { createJobs, createServices, type Services } from './services.js';
import { StartupError } from './startup-error.js';

export { StartupError };

export interface RunningServer {
  /** The GraphQL endpoint, e.g. http://127.0.0.1:4000/graphql */
  url: string;
  /** Where the API's database is, with any password redacted. */
  databaseUrl: string;
  close(): Promise<void>;
}

export interface ServerOptions {
  /** Tracing already started (main starts it before loading the server, tests with an in-memory exporter). */
  tracing?: Tracing;
  /**
   * A data folder archive (as dumpDataDir makes) an embedded database on an empty folder starts
   * from instead of an empty cluster; tests start from one already migrated.
   */
  embeddedStartsFrom?: Blob;
}

export async function createServer(
  given: Config,
  log: Logger = createLogger(given.logLevel, undefined, { redact: given.observability.logRedact }),
  options: ServerOptions = {},
): Promise<RunningServer> {
  if (given.databaseUrl !== undefined && !given.encryption.key) {
    throw new StartupError('invalid configuration: ENCRYPTION_KEY is required with DATABASE_URL (32 random bytes in base64, e.g. openssl rand -base64 32)');
  }
  const config: Config = { ...given, encryption: await encryptionKeyFor(given) };
  const { db, url: databaseUrl, stopEmbedded } = await openDatabase(config, log, { loadDataDir: options.embeddedStartsFrom });
  const metrics = new ServerMetrics();
  let pubsub: PubSub | undefined;
  try {
    if (config.migrateOnStart) {
      const { applied } = await applyMigrations(databaseUrl, { debug: config.database.migrateDebug }).catch((error: unknown) => {
        throw new StartupError(`migrations failed: ${(error as Error).message}`);
      });
      if (applied.length > 0) log.info('migrations applied', { applied });
    }
    pubsub = createPubSubFor(config.redisUrl, { log, namespace: config.pubsub.namespace, observer: metrics.events });
    if (config.auth.jwtAlgorithm === 'HS256' && !config.auth.jwtSecret) {
      log.warn('JWT_SECRET is not set: a random secret signs tokens, so they end with this process and other instances reject them');
    }
    const tokens = await TokenService.create(config.auth);
    const services = createServices({ config, db, pubsub, log, tokens });
    const { adminEmail, adminPassword, tenantName } = config.bootstrap;
    if (adminEmail && adminPassword && (await services.operator.bootstrapAdmin({ tenantName, email: adminEmail, password: adminPassword }))) {
      log.info('first platform admin created', { tenant: tenantName, email: adminEmail });
    }
    if (config.seedOnStart) {
      const seeded = await seedDemoData(db.system, { onlyIfEmpty: true, password: config.demoPassword });
      if (seeded) log.info('demo data seeded', { tenant: DEFAULT_TENANT.slug });
    }
    const jobs = createJobs({ config, db, pubsub, log, tokens }, services).filter((job) => config.jobsEnabled || job.servesRequests);
    metrics.observe({ system: db.system, poolStats: db.poolStats, pubsub, vectorScanBytes: () => services.documents.exactScanBytes() });
    for (const job of jobs) job.observe?.(metrics.jobs);
    return await listen(config, log, { db, pubsub, services, jobs, databaseUrl, stopEmbedded, metrics, tracing: options.tracing });
  } catch (error) {
    metrics.close();
    await pubsub?.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    await stopEmbedded?.().catch(() => undefined);
    throw error;
  }
}

interface Running {
  db: Database;
  pubsub: PubSub;
  services: Services;
  jobs: BackgroundJob[];
  databaseUrl: string;
  stopEmbedded?: () => Promise<void>;
  metrics: ServerMetrics;
  tracing?: Tracing;
}

async function listen(config: Config, log: Logger, running: Running): Promise<RunningServer> {
  const { db, pubsub, services } = running;
  const contexts = createRequestContexts(db, services, log);
  const yoga = createGraphQLHandler(config, log, db, pubsub, contexts, running.metrics, running.tracing ? [running.tracing.graphqlPlugin] : []);
  const drain = new RequestDrain();
  const httpServer = createHttpServer(withRequestIds(drain.wrap(yoga)));
  const sockets = serveWebSockets(httpServer, yoga, contexts, services, log, running.metrics, config.edge);

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', (error: NodeJS.ErrnoException) =>
      reject(new StartupError(`cannot listen on ${config.host}:${config.port}: ${error.code ?? error.message}`)),
    );
    httpServer.listen(config.port, config.host, () => resolve());
  });
  const address = httpServer.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}${yoga.graphqlEndpoint}`;
  for (const job of running.jobs) job.start();
  log.info('server listening', { url, database: redactUrl(running.databaseUrl), pubsub: pubsub.backend });

  const close = shutdownOnce({
    jobs: running.jobs,
    sockets,
    graphql: yoga,
    httpServer,
    drain,
    timeoutMs: config.shutdownTimeoutMs,
    pubsub,
    services,
    db,
    stopEmbedded: running.stopEmbedded,
    log,
  });
  const closeAndStopMetrics = async () => {
    running.metrics.close();
    await close();
  };
  return { url, databaseUrl: redactUrl(running.databaseUrl), close: closeAndStopMetrics };
}
