import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { createYoga, useErrorHandler, useReadinessCheck, type Plugin, type YogaLogger } from 'graphql-yoga';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { redactUrl, type Config } from './config.js';
import type { Context } from './context.js';
import { createDatabase, pingDatabase, type Database } from './infra/db.js';
import { startEmbeddedPostgres } from './infra/embedded-postgres.js';
import { createLogger, type Logger } from './infra/logger.js';
import { applyMigrations } from './infra/migrator.js';
import { createPubSubFor, type PubSub } from './infra/pubsub.js';
import type { Credentials } from './modules/identity/authentication.js';
import type { Principal } from './modules/identity/principal.js';
import { InvalidCredentialError, TokenService } from './modules/identity/tokens.js';
import { RateLimitedError } from './modules/identity/rate-limit.js';
import { runInTenant } from './infra/tenant-scope.js';
import { buildSchema } from './schema.js';
import { DEFAULT_TENANT, seedDemoData } from './seed.js';
import { createJobs, createServices, type Services } from './services.js';
import type { BackgroundJob } from './infra/jobs.js';

export interface RunningServer {
  /** The GraphQL endpoint, e.g. http://127.0.0.1:4000/graphql */
  url: string;
  /** Where the API's database is, with any password redacted. */
  databaseUrl: string;
  close(): Promise<void>;
}

/** A start-up failure with one line that names the problem; main prints it without a stack. */
export class StartupError extends Error {
  override name = 'StartupError';
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;
const READINESS_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function yogaLogger(log: Logger): YogaLogger {
  const text = (args: unknown[]) => args.map((arg) => (arg instanceof Error ? arg.message : String(arg))).join(' ');
  return {
    debug: (...args) => log.debug(text(args)),
    info: (...args) => log.info(text(args)),
    warn: (...args) => log.warn(text(args)),
    // Unexpected resolver errors are logged once, with the request id, by the error handler below.
    error: (...args) => log.debug(text(args)),
  };
}

async function openDatabase(config: Config, log: Logger): Promise<{ db: Database; url: string; stopEmbedded?: () => Promise<void> }> {
  let url = config.databaseUrl;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (url === undefined) {
    const embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir === ':memory:' ? undefined : config.dataDir,
      port: config.embeddedDbPort,
    }).catch((error: unknown) => {
      throw new StartupError(`embedded database could not start in ${config.dataDir}: ${(error as Error).message}`);
    });
    url = embedded.url;
    stopEmbedded = embedded.close;
    log.info('embedded database started', { dataDir: config.dataDir });
  }
  const db = createDatabase(url, config.dbPoolMax, { embedded: stopEmbedded !== undefined });
  try {
    await pingDatabase(db.pool);
  } catch (error) {
    await db.close().catch(() => undefined);
    await stopEmbedded?.();
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new StartupError(`database unreachable at ${redactUrl(url)}: ${(error as Error).message || reason}`);
  }
  return { db, url, stopEmbedded };
}

interface SocketExtra {
  socket: WebSocket;
  request: IncomingMessage;
  principal?: Principal | null;
  /** Stops tracking the socket for token expiry (4403) and revocation (4401). */
  release?: () => void;
}

/** Runs each operation inside its principal's tenant scope, which the tenant database client reads. */
function useTenantScope(): Plugin<Context> {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const tenantId = (args.contextValue as Context).principal?.tenantId;
      if (tenantId) setExecuteFn((execArgs) => runInTenant(tenantId, () => executeFn(execArgs)));
    },
    onSubscribe({ args, subscribeFn, setSubscribeFn }) {
      const tenantId = (args.contextValue as Context).principal?.tenantId;
      if (tenantId) setSubscribeFn((subArgs) => runInTenant(tenantId, () => subscribeFn(subArgs)));
    },
  };
}

export async function createServer(config: Config, log: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  const { db, url: databaseUrl, stopEmbedded } = await openDatabase(config, log);
  let pubsub: PubSub | undefined;
  try {
    if (config.migrateOnStart) {
      const { applied } = await applyMigrations(databaseUrl).catch((error: unknown) => {
        throw new StartupError(`migrations failed: ${(error as Error).message}`);
      });
      if (applied.length > 0) log.info('migrations applied', { applied });
    }
    pubsub = createPubSubFor(config.redisUrl, { log });
    if (config.auth.jwtAlgorithm === 'HS256' && !config.auth.jwtSecret) {
      log.warn('JWT_SECRET is not set: a random secret signs tokens, so they end with this process and other instances reject them');
    }
    const tokens = await TokenService.create(config.auth);
    const services = createServices({ config, db, pubsub, log, tokens });
    if (config.seedOnStart) {
      const seeded = await seedDemoData(db.system, { onlyIfEmpty: true, password: config.demoPassword });
      if (seeded) log.info('demo data seeded', { tenant: DEFAULT_TENANT.slug });
    }
    const jobs = config.jobsEnabled ? createJobs({ config, db, pubsub, log, tokens }, services) : [];
    return await listen(config, log, { db, pubsub, services, jobs, databaseUrl, stopEmbedded });
  } catch (error) {
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
}

async function listen(config: Config, log: Logger, running: Running): Promise<RunningServer> {
  const { db, pubsub, services } = running;
  const authenticate = async (credentials: Credentials): Promise<Principal | null> => {
    try {
      return await services.authenticator.authenticate(credentials);
    } catch (error) {
      if (!(error instanceof InvalidCredentialError)) throw error;
      log.debug('credentials refused', { reason: error.message });
      // One answer for every refusal, so a caller learns nothing about which part was wrong.
      throw new GraphQLError('Invalid or expired credentials', { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
    }
  };
  const admit = async (principal: Principal | null): Promise<void> => {
    if (!principal) return;
    try {
      await services.rateLimiter.consume(principal);
    } catch (error) {
      if (!(error instanceof RateLimitedError)) throw error;
      throw new GraphQLError('Rate limit exceeded', {
        extensions: {
          code: 'RATE_LIMITED',
          retryAfterSeconds: error.retryAfterSeconds,
          http: { status: 429, headers: { 'retry-after': String(error.retryAfterSeconds) } },
        },
      });
    }
  };
  const contextFor = (principal: Principal | null, requestId: string | null | undefined, client: Context['client']): Context => ({
    requestId: requestId && REQUEST_ID.test(requestId) ? requestId : randomUUID(),
    principal,
    prisma: db.prisma,
    services,
    log,
    client,
  });

  const yoga = createYoga<{ req?: IncomingMessage; wsContext?: Context }, Context>({
    schema: buildSchema(),
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/healthz',
    landingPage: false,
    graphiql: config.graphiql ? { title: 'Omega Control Plane', subscriptionsProtocol: 'WS' } : false,
    logging: yogaLogger(log),
    context: async ({ request, req, wsContext }) => {
      if (wsContext) return wsContext;
      const principal = await authenticate({ authorization: request.headers.get('authorization'), apiKey: request.headers.get('x-api-key') });
      await admit(principal);
      return contextFor(principal, request.headers.get('x-request-id'), {
        ip: req?.socket.remoteAddress ?? 'unknown',
        userAgent: request.headers.get('user-agent'),
      });
    },
    plugins: [
      useTenantScope(),
      useReadinessCheck({
        endpoint: '/readyz',
        check: async () => {
          await withTimeout(pingDatabase(db.pool), READINESS_TIMEOUT_MS, 'database');
          if (pubsub.backend === 'redis') await withTimeout(pubsub.ping(), READINESS_TIMEOUT_MS, 'redis');
        },
      }),
      useErrorHandler(({ errors, context }) => {
        for (const error of errors as GraphQLError[]) {
          const original = error.originalError;
          if (!original || original.name === 'GraphQLError') continue;
          log.error('unexpected error', {
            requestId: (context as Partial<Context>).requestId,
            path: error.path?.join('.'),
            error: original.message,
            stack: original.stack,
          });
        }
      }),
    ],
  });

  const httpServer: HttpServer = createHttpServer(yoga);
  const wsServer = new WebSocketServer({ server: httpServer, path: yoga.graphqlEndpoint });
  type RootValue = { execute(args: ExecutionArgs): unknown; subscribe(args: ExecutionArgs): unknown };
  const wsCleanup = useServer(
    {
      execute: (args) => (args.rootValue as RootValue).execute(args) as never,
      subscribe: (args) => (args.rootValue as RootValue).subscribe(args) as never,
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
        try {
          const principal = await authenticate({ authorization: text(params.authorization) ?? text(params.Authorization), apiKey: text(params.apiKey) });
          const extra = ctx.extra as SocketExtra;
          extra.principal = principal;
          if (principal) extra.release = services.realtime.connections.open(principal, extra.socket);
          return true;
        } catch (error) {
          // Refused credentials were logged by authenticate; anything else is ours to see.
          if (!(error instanceof GraphQLError)) log.error('socket not authenticated', { error: (error as Error).message });
          return false;
        }
      },
      onClose: (ctx) => (ctx.extra as SocketExtra).release?.(),
      onSubscribe: async (ctx, _id, params) => {
        const extra = ctx.extra as SocketExtra;
        try {
          await admit(extra.principal ?? null);
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const wsContext = contextFor(extra.principal ?? null, undefined, {
          ip: extra.request.socket.remoteAddress ?? 'unknown',
          userAgent: extra.request.headers['user-agent'] ?? null,
        });
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({ ...ctx, params, wsContext });
        const document = parse(params.query);
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        return {
          schema,
          document,
          operationName: params.operationName,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
      },
    },
    wsServer,
    services.realtime.settings.keepAliveMs,
  );

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

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await Promise.all(running.jobs.map((job) => job.stop()));
      await wsCleanup.dispose();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => httpServer.closeAllConnections(), config.shutdownTimeoutMs);
        httpServer.close(() => {
          clearTimeout(force);
          resolve();
        });
        httpServer.closeIdleConnections();
      });
      await pubsub.close().catch(() => undefined);
      await services.realtime.close().catch(() => undefined);
      await services.rateLimiter.close();
      await db.close().catch(() => undefined);
      await running.stopEmbedded?.();
      log.info('server stopped');
    })());
  return { url, databaseUrl: redactUrl(running.databaseUrl), close };
}
