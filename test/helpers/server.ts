import { print, type ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/infra/logger.js';
import { createServer, type RunningServer } from '../../src/server.js';
import { createScratchDatabase } from './services.js';

export type DatabaseKind = 'pglite' | 'postgres';

export interface TestServer extends RunningServer {
  kind: DatabaseKind;
  /** The unredacted URL of the server's database, for direct assertions. */
  rawDatabaseUrl: string;
  request<R, V>(document: TypedDocumentNode<R, V>, variables?: V, headers?: Record<string, string>): Promise<ExecutionResult<R>>;
  /** Runs one operation over graphql-ws and returns its first result. */
  requestOverWebSocket<R, V>(document: TypedDocumentNode<R, V>, variables?: V): Promise<ExecutionResult<R>>;
  get(path: string): Promise<Response>;
}

/** Starts the real server on a free port, on a fresh database of the given kind. */
export async function startTestServer(kind: DatabaseKind, overrides: Partial<Config> = {}): Promise<TestServer> {
  const scratch = kind === 'postgres' ? await createScratchDatabase() : undefined;
  const config: Config = {
    ...loadConfig({}),
    port: 0,
    databaseUrl: scratch?.url,
    dataDir: ':memory:',
    migrateOnStart: true,
    seedOnStart: false,
    graphiql: false,
    ...overrides,
  };
  const server = await createServer(config, createLogger(process.env.TEST_LOG_LEVEL === 'debug' ? 'debug' : 'error'));
  const base = new URL(server.url);

  return {
    ...server,
    kind,
    // The embedded database has no password, so its URL is never redacted.
    rawDatabaseUrl: scratch?.url ?? server.databaseUrl,
    async request(document, variables, headers = {}) {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body: JSON.stringify({ query: print(document), variables }),
      });
      return (await response.json()) as ExecutionResult<never>;
    },
    async requestOverWebSocket(document, variables) {
      const client = createClient({ url: server.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
      try {
        const iterator = client.iterate({ query: print(document), variables: variables as Record<string, unknown> });
        const first = await iterator.next();
        await iterator.return?.();
        return first.value as ExecutionResult<never>;
      } finally {
        await client.dispose();
      }
    },
    get: (path) => fetch(new URL(path, base)),
    async close() {
      await server.close();
      await scratch?.drop();
    },
  };
}
