import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { print, type ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { checkConfig, loadConfig, type Config } from '../../src/config.js';
import { createDatabase, type Database } from '../../src/infra/db.js';
import { createLogger } from '../../src/infra/logger.js';
import type { Tracing } from '../../src/infra/tracing.js';
import { createMemoryPubSub } from '../../src/infra/pubsub.js';
import type { Role } from '../../src/modules/identity/permissions.js';
import { TokenService } from '../../src/modules/identity/tokens.js';
import { createServer, type RunningServer } from '../../src/server.js';
import { createServices, type Services } from '../../src/services.js';
import { createServerDatabase, embeddedTemplate } from './run-databases.js';

export type DatabaseKind = 'pglite' | 'postgres';

export const TEST_JWT_SECRET = 'test-secret-for-signing-access-tokens-0123456789';
/** The key test servers seal secrets with (32 bytes in base64), as a deployment's ENCRYPTION_KEY would. */
export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');

/** Sends operations as one caller: over HTTP, or over graphql-ws with the same credentials. */
export interface GraphQLClient {
  headers: Record<string, string>;
  request<R, V>(document: TypedDocumentNode<R, V>, variables?: V): Promise<ExecutionResult<R>>;
  /** Runs one operation over graphql-ws and returns its first result. */
  requestOverWebSocket<R, V>(document: TypedDocumentNode<R, V>, variables?: V): Promise<ExecutionResult<R>>;
}

export interface SignedInUser extends GraphQLClient {
  tenantId: string;
  userId: string;
  role: Role;
  token: string;
}

/** The payload of a mutation result union, asserting it is the expected member. */
export function expectResult<R extends { __typename?: string }, T extends NonNullable<R['__typename']>>(
  result: ExecutionResult<Record<string, R>>,
  typename: T,
): Extract<R, { __typename?: T }> {
  if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  const value = Object.values(result.data ?? {})[0];
  if (value?.__typename !== typename) throw new Error(`expected ${typename}, got ${JSON.stringify(value)}`);
  return value as Extract<R, { __typename?: T }>;
}

export interface TestServer extends RunningServer, GraphQLClient {
  kind: DatabaseKind;
  config: Config;
  /** The unredacted URL of the server's database, for direct assertions. */
  rawDatabaseUrl: string;
  /** The owner's connection to the server's database, for arranging data and asserting on it. */
  db: Database;
  get(path: string): Promise<Response>;
  /** A client that sends these headers. */
  withHeaders(headers: Record<string, string>): GraphQLClient;
  /** A new tenant (unless given) with a user of this role, signed in with an access token. */
  signIn(options?: { role?: Role; tenantId?: string }): Promise<SignedInUser>;
}

const serviceBuilders = new WeakMap<TestServer, (db: Database) => Services>();

/**
 * The domain services built as the server builds them, over the test's owner connection (or `db`,
 * a connection of the test's own), with an in-process bus: what they publish reaches no subscriber.
 */
export function servicesOf(server: TestServer, db: Database = server.db): Services {
  const build = serviceBuilders.get(server);
  if (!build) throw new Error('not a server started by startTestServer');
  return build(db);
}

/**
 * Starts the real server on a free port, on a fresh database of the given kind; with
 * `overrides.databaseUrl` it joins that existing database instead (a second API instance).
 * A fresh database is a copy of one this run migrated (helpers/run-databases.ts); the server
 * still runs its migrations on start, and finds none left to apply.
 */
export async function startTestServer(
  kind: DatabaseKind,
  overrides: Partial<Config> = {},
  options: {
    logLines?: string[];
    /** Environment variables as an operator would set them, parsed by loadConfig under the overrides. */
    env?: Record<string, string>;
    /** Tracing the test started (e.g. with an in-memory exporter); the test shuts it down. */
    tracing?: Tracing;
  } = {},
): Promise<TestServer> {
  const scratch = kind === 'postgres' && !overrides.databaseUrl ? await createServerDatabase() : undefined;
  const base = loadConfig(options.env ?? {});
  const config: Config = {
    ...base,
    port: 0,
    databaseUrl: scratch?.url,
    dataDir: ':memory:',
    migrateOnStart: true,
    seedOnStart: false,
    graphiql: false,
    demoFleet: { ...base.demoFleet, enabled: false },
    ...overrides,
    auth: { ...base.auth, jwtSecret: TEST_JWT_SECRET, ...overrides.auth },
    encryption: { key: TEST_ENCRYPTION_KEY, previousKeys: [], ...overrides.encryption },
  };
  const logger = options.logLines
    ? createLogger('debug', (line) => options.logLines!.push(line), { redact: config.observability.logRedact })
    : createLogger(process.env.TEST_LOG_LEVEL === 'debug' ? 'debug' : 'error');
  const freshEmbedded = config.databaseUrl === undefined && (config.dataDir === ':memory:' || !existsSync(path.join(config.dataDir, 'PG_VERSION')));
  const embeddedStartsFrom = freshEmbedded ? await embeddedTemplate() : undefined;
  const server = await createServer(checkConfig(config), logger, { tracing: options.tracing, embeddedStartsFrom });
  // The embedded database has no password, so its URL is never redacted.
  const rawDatabaseUrl = overrides.databaseUrl ?? scratch?.url ?? server.databaseUrl;
  const db = createDatabase(rawDatabaseUrl, 3, { embedded: kind === 'pglite' });
  const tokens = await TokenService.create(config.auth);

  const clientWith = (headers: Record<string, string>): GraphQLClient => ({
    headers,
    async request(document, variables) {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body: JSON.stringify({ query: print(document), variables }),
      });
      return (await response.json()) as ExecutionResult<never>;
    },
    async requestOverWebSocket(document, variables) {
      const connectionParams = {
        ...(headers.authorization ? { authorization: headers.authorization } : {}),
        ...(headers['x-api-key'] ? { apiKey: headers['x-api-key'] } : {}),
      };
      const client = createClient({ url: server.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams });
      try {
        const iterator = client.iterate({ query: print(document), variables: variables as Record<string, unknown> });
        const first = await iterator.next();
        await iterator.return?.();
        return first.value as ExecutionResult<never>;
      } finally {
        await client.dispose();
      }
    },
  });

  const testServer: TestServer = {
    ...server,
    ...clientWith({}),
    kind,
    config,
    rawDatabaseUrl,
    db,
    get: (path) => fetch(new URL(path, server.url)),
    withHeaders: clientWith,
    async signIn({ role = 'admin', tenantId } = {}) {
      const suffix = randomBytes(4).toString('hex');
      const tenant = tenantId ?? (await db.system.tenant.create({ data: { name: `Tenant ${suffix}`, slug: `tenant-${suffix}` } })).id;
      const user = await db.system.user.create({
        data: { tenantId: tenant, username: `${role}-${suffix}`, email: `${role}-${suffix}@example.test`, role },
      });
      const { token } = await tokens.issueAccessToken({ userId: user.id, tenantId: tenant, role, sessionFamilyId: null });
      return { ...clientWith({ authorization: `Bearer ${token}` }), tenantId: tenant, userId: user.id, role, token };
    },
    async close() {
      await db.close();
      await server.close();
      await scratch?.drop();
    },
  };
  const built = new Map<Database, Services>();
  const withoutRedis: Config = { ...config, redisUrl: undefined };
  serviceBuilders.set(testServer, (on) => {
    const services = built.get(on) ?? createServices({ config: withoutRedis, db: on, pubsub: createMemoryPubSub(), log: logger, tokens });
    built.set(on, services);
    return services;
  });
  return testServer;
}

/**
 * Two API instances on one fresh PostgreSQL database sharing Redis, as a scaled-out deployment runs;
 * `env` is both instances' environment, `first` and `second` override each one's configuration.
 */
export async function twoInstances(
  redisUrl: string,
  options: { env?: Record<string, string>; first?: Partial<Config>; second?: Partial<Config> } = {},
): Promise<{ first: TestServer; second: TestServer; close(): Promise<void> }> {
  const first = await startTestServer('postgres', { ...options.first, redisUrl }, { env: options.env });
  const second = await startTestServer('postgres', { ...options.second, redisUrl, databaseUrl: first.rawDatabaseUrl }, { env: options.env }).catch(async (error: unknown) => {
    await first.close();
    throw error;
  });
  return {
    first,
    second,
    async close() {
      await second.close();
      await first.close();
    },
  };
}
