import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { getOperationAST, GraphQLError, type DocumentNode, type ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { EdgeConfig } from '../config.js';
import type { Context } from '../context.js';
import { inRequestScope, type Logger } from '../infra/logger.js';
import type { ServerMetrics } from '../infra/metrics.js';
import type { Principal } from '../modules/identity/principal.js';
import type { Services } from '../services.js';
import type { RequestContexts } from './context.js';
import { socketEdge } from './hardening.js';
import { groupKey, SubscriptionGroups, type GroupOperation } from './subscription-groups.js';
import type { GraphQLHandler } from './yoga.js';

interface SocketExtra {
  socket: WebSocket;
  /** The upgrade request, until the connection is accepted: then only `client` is kept of it. */
  request?: IncomingMessage;
  client?: Context['client'];
  /** The connection under `socket`, kept when grouped frames may be written to it directly (see MemberStream). */
  stream?: Duplex;
  principal?: Principal | null;
  /** Stops tracking the socket for token expiry (4403) and revocation (4401). */
  release?: () => void;
}

type RootValue = { execute(args: ExecutionArgs): unknown; subscribe(args: ExecutionArgs): unknown };

/** What graphql-ws holds for a grouped subscriber: the group's document, and a subscribe that joins the group. */
function memberArgs(operation: GroupOperation, join: () => Promise<unknown>): ExecutionArgs {
  const { schema, document, operationName, variableValues } = operation;
  return { schema, document, operationName, variableValues, contextValue: null, rootValue: { subscribe: join } };
}

/** Runs an operation in its request's log scope; a grouped subscriber has no context of its own. */
function inOperationScope<T>(args: ExecutionArgs, run: () => T): T {
  const requestId = (args.contextValue as Context | null)?.requestId;
  return requestId ? inRequestScope(requestId, run) : run();
}

/**
 * graphql-ws on the GraphQL endpoint: credentials from the connection parameters once per socket,
 * the rate limit per operation, and every operation run through the HTTP handler's envelop.
 * Subscriptions are grouped: equal operations under an equal authorization scope share one execution.
 */
export function serveWebSockets(httpServer: HttpServer, yoga: GraphQLHandler, contexts: RequestContexts, services: Services, log: Logger, metrics: ServerMetrics, edgeConfig: EdgeConfig) {
  const edge = socketEdge(edgeConfig);
  // No compression: a grouped event's frames are built once around shared bytes and written to the connection as they are.
  const wsServer = new WebSocketServer({ server: httpServer, path: yoga.graphqlEndpoint, maxPayload: edge.maxMessageBytes, perMessageDeflate: false });
  const groups = new SubscriptionGroups(
    services.realtime.settings.subscriberBufferLimitBytes,
    (operationName, delta) => metrics.activeSubscriptions.inc({ operationName }, delta),
    (operationName, seconds) => metrics.fanOutSeconds.observe({ operationName }, seconds),
  );
  return useServer(
    {
      execute: (args) => inOperationScope(args, () => (args.rootValue as RootValue).execute(args)) as never,
      subscribe: (args) => inOperationScope(args, () => (args.rootValue as RootValue).subscribe(args)) as never,
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
        try {
          const principal = await contexts.authenticate({ authorization: text(params.authorization) ?? text(params.Authorization), apiKey: text(params.apiKey) });
          const extra = ctx.extra as SocketExtra;
          // A socket lives for hours: of its upgrade request only the client's address and agent stay with it.
          extra.client = { ip: edge.clientAddress(extra.request), userAgent: extra.request?.headers['user-agent'] ?? null };
          if (extra.socket.extensions === '') extra.stream = extra.request?.socket;
          // Cleared, not deleted: a deleted property would turn every socket's extra into a larger dictionary object.
          extra.request = undefined;
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
      onSubscribe: async (ctx, id, params) => {
        const extra = ctx.extra as SocketExtra;
        let principal = extra.principal ?? null;
        try {
          // GraphiQL sends an empty connection_init and the headers with each subscribe message instead.
          const headers = params.extensions?.headers as Record<string, unknown> | undefined;
          if (!principal && headers) {
            const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
            principal = await contexts.authenticate({ authorization: text(headers.authorization) ?? text(headers.Authorization), apiKey: text(headers['x-api-key']) });
            if (principal && !extra.release) extra.release = services.realtime.connections.open(principal, extra.socket);
          }
          await contexts.admit(principal);
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        // The checks graphql-yoga's request pipeline makes over HTTP: trusted documents, variables nested too deep.
        const query = edge.admit(params);
        if (query instanceof GraphQLError) return [query];
        const key = groupKey(query, params.operationName, params.variables, principal);
        const join = (operation: GroupOperation) => memberArgs(operation, () => groups.join(key, extra.socket, extra.stream, id, operation));
        // A subscriber like one already served: its operation was parsed, validated and checked when the group began.
        const grouped = groups.operationOf(key);
        if (grouped) return join(grouped);
        const wsContext = contexts.contextFor(principal, undefined, extra.client ?? { ip: 'unknown', userAgent: null });
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({ ...ctx, params: { ...params, query }, wsContext });
        let document: DocumentNode;
        try {
          document = parse(query);
        } catch (error) {
          if (!(error instanceof GraphQLError)) throw error;
          return [new GraphQLError(error.message, { source: error.source, positions: error.positions, extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return [...edge.forCaller(errors, !principal)];
        // Grouped subscriptions run outside the envelop's execute and subscribe hooks, so the edge's checks run here for every operation.
        const refused = edge.refusals({ schema, document, operationName: params.operationName, variableValues: params.variables });
        if (refused.length > 0) return [...edge.forCaller(refused, !principal)];
        const args = { schema, document, operationName: params.operationName, variableValues: params.variables, contextValue: await contextFactory() };
        if (getOperationAST(document, params.operationName)?.operation === 'subscription') return join(args);
        return { ...args, rootValue: { execute, subscribe } };
      },
    },
    wsServer,
    services.realtime.settings.keepAliveMs,
  );
}
