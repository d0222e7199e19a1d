import type { IncomingMessage } from 'node:http';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, useErrorHandler, type YogaLogger, type YogaServerOptions } from 'graphql-yoga';
import { type GraphQLError } from 'graphql';
import { useRequestBodyLimit } from './body-limit.js';
import { useCompiledQueries } from './compiled-execution.js';
import { useCursorErrors } from './cursor-errors.js';
import type { Config } from '../config.js';
import type { Context } from '../context.js';
import type { Database } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import type { ServerMetrics } from '../infra/metrics.js';
import type { PubSub } from '../infra/pubsub.js';
import { buildSchema } from '../schema.js';
import type { RequestContexts } from './context.js';
import { requestCallers } from './callers.js';
import { clientAddressResolver } from './client-address.js';
import { classifyFailure } from './error-masking.js';
import { hardeningOptions, hardeningPlugins } from './hardening.js';
import { useAccessLog, useRequestIdInErrors } from './access-log.js';
import { useServerMetrics } from './metrics.js';
import { useReadiness } from './readiness.js';
import { responseCachePlugins } from './response-cache.js';
import { useTenantScope } from './tenant-scope.js';

/** What a request brings: the Node request over HTTP, or the context the WebSocket server built. */
export interface ServerContext {
  req?: IncomingMessage;
  wsContext?: Context;
}

function yogaLogger(log: Logger): YogaLogger {
  const text = (args: unknown[]) => args.map((arg) => (arg instanceof Error ? arg.message : String(arg))).join(' ');
  return {
    // graphql-yoga reports every request's steps at debug: formatted only when debug is on.
    debug: (...args) => {
      if (log.enabled('debug')) log.debug(text(args));
    },
    info: (...args) => log.info(text(args)),
    warn: (...args) => log.warn(text(args)),
    // Unexpected resolver errors are logged once, with the request id, by the error handler below.
    error: (...args) => log.debug(text(args)),
  };
}

/**
 * The GraphQL endpoint over HTTP: credentials from headers, tenant scope, readiness, error logging.
 * `outermost` plugins go last, so they wrap the execution the others set up (tracing's spans).
 */
export function createGraphQLHandler(config: Config, log: Logger, db: Database, pubsub: PubSub, contexts: RequestContexts, metrics: ServerMetrics, outermost: NonNullable<YogaServerOptions<ServerContext, Context>['plugins']> = []) {
  const clientAddress = clientAddressResolver(config.edge.trustedProxies);
  const callers = requestCallers(contexts);
  return createYoga<ServerContext, Context>({
    schema: buildSchema(),
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/healthz',
    landingPage: false,
    graphiql: config.graphiql ? { title: 'Omega Control Plane', subscriptionsProtocol: 'WS' } : false,
    // GraphiQL's scripts, styles and editor workers inlined from the npm package: no CDN.
    renderGraphiQL,
    logging: yogaLogger(log),
    ...hardeningOptions(config.edge, log),
    context: async ({ request, req, wsContext }) => {
      if (wsContext) return wsContext;
      const principal = await callers.principalOf(request);
      await contexts.admit(principal);
      return contexts.contextFor(principal, request.headers.get('x-request-id'), {
        ip: clientAddress(req, request.headers.get('x-forwarded-for')),
        userAgent: request.headers.get('user-agent'),
      });
    },
    plugins: [
      ...hardeningPlugins(config.edge, callers),
      useCompiledQueries(),
      useCursorErrors(),
      useTenantScope(),
      ...(config.observability.metricsEnabled ? [useServerMetrics(metrics, config.observability)] : []),
      useAccessLog(log),
      useRequestIdInErrors(),
      useReadiness(db, pubsub),
      useErrorHandler(({ errors }) => {
        for (const error of errors as GraphQLError[]) {
          const original = error.originalError;
          if (!original || original.name === 'GraphQLError' || classifyFailure(original)) continue;
          log.error('unexpected error', {
            path: error.path?.join('.'),
            error: original.message,
            stack: original.stack,
          });
        }
      }),
      ...responseCachePlugins(config, log, pubsub, contexts, callers),
      ...outermost,
      // After every plugin that may register a request parser.
      useRequestBodyLimit(config.edge.maxRequestBodyBytes),
    ],
  });
}

export type GraphQLHandler = ReturnType<typeof createGraphQLHandler>;
