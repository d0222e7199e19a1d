import type { IncomingMessage } from 'node:http';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { GraphQLError, NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Plugin, YogaServerOptions } from 'graphql-yoga';
import type { EdgeConfig } from '../config.js';
import type { Context } from '../context.js';
import type { Logger } from '../infra/logger.js';
import type { RequestCallers } from './callers.js';
import { clientAddressResolver } from './client-address.js';
import { inputRefusals, useEdgeValidation, variablesRefusal, type OperationArgs } from './edge-validation.js';
import { createErrorMasker, outageReporter } from './error-masking.js';
import { costErrors, operationLimitPlugins } from './operation-limits.js';
import { useSuggestionsForSignedInOnly, withoutSuggestions } from './suggestions.js';
import { trustedDocuments } from './trusted-documents.js';

/** The header a browser-less client may send instead of a JSON content type (CSRF prevention). */
export const CSRF_HEADER = 'x-graphql-csrf';

/** What the edge refuses before a resolver runs: limits, bad input, cross-site requests, unknown documents. */
export function hardeningPlugins(edge: EdgeConfig, callers: RequestCallers): Plugin[] {
  const plugins: Plugin[] = [
    callers.plugin,
    useCSRFPrevention({ requestHeaders: [CSRF_HEADER, 'authorization', 'x-api-key'] }),
    ...operationLimitPlugins(edge),
    useEdgeValidation(edge),
  ];
  if (!edge.anonymousIntrospection) {
    plugins.push(useDisableIntrospection({ isDisabled: (request) => callers.principalOf(request).then((principal) => !principal, () => true) }));
    plugins.push(noIntrospectionForAnonymousSockets());
  }
  if (!edge.fieldSuggestions) plugins.push(useSuggestionsForSignedInOnly((request) => callers.isAnonymous({ request })));
  if (edge.trustedDocumentsFile) plugins.push(trustedDocuments(edge.trustedDocumentsFile, edge.trustedDocumentsOnly).plugin);
  return plugins;
}

/** useDisableIntrospection decides per HTTP request; an anonymous socket's operations are refused introspection here. */
function noIntrospectionForAnonymousSockets(): Plugin {
  return {
    onValidate({ context, addValidationRule }) {
      const { wsContext } = context as { wsContext?: Context };
      if (wsContext && !wsContext.principal) addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

/** The server options the edge settles: body size, CORS and error masking. */
export function hardeningOptions(edge: EdgeConfig, log: Logger): Pick<YogaServerOptions<object, object>, 'maxRequestBodySize' | 'cors' | 'maskedErrors'> {
  const anyOrigin = edge.corsOrigins.includes('*');
  return {
    // Enforced by useRequestBodyLimit, which reads a body with a Content-Length without a stream.
    maxRequestBodySize: false,
    // No allow-list sends no CORS headers, so browsers keep to the same origin.
    cors: edge.corsOrigins.length === 0 ? false : anyOrigin ? { origin: '*', credentials: false } : { origin: edge.corsOrigins, credentials: true },
    maskedErrors: { maskError: createErrorMasker(outageReporter(log)) },
  };
}

/** The edge's rules for graphql-ws, whose messages do not pass graphql-yoga's request pipeline. */
export interface SocketEdge {
  /** The largest message a socket may send, as MAX_REQUEST_BODY_BYTES bounds a request body. */
  maxMessageBytes: number;
  /** The client's address, from X-Forwarded-For only when the peer is a trusted proxy. */
  clientAddress(request: IncomingMessage | undefined): string;
  /** The operation text a subscribe message runs (trusted documents), or why it may not run (variables nested too deep). */
  admit(payload: { query: string; variables?: Record<string, unknown> | null; extensions?: unknown }): string | GraphQLError;
  /** What the edge's plugins refuse when an operation executes, for operations that run outside them (grouped subscriptions). */
  refusals(args: OperationArgs): GraphQLError[];
  /** The errors an anonymous caller is answered with: without "Did you mean" hints unless FIELD_SUGGESTIONS allows them. */
  forCaller<E extends GraphQLError>(errors: readonly E[], anonymous: boolean): readonly GraphQLError[];
}

export function socketEdge(edge: EdgeConfig): SocketEdge {
  const address = clientAddressResolver(edge.trustedProxies);
  const trusted = edge.trustedDocumentsFile ? trustedDocuments(edge.trustedDocumentsFile, edge.trustedDocumentsOnly) : undefined;
  return {
    maxMessageBytes: edge.maxRequestBodyBytes,
    clientAddress: (request) => {
      const forwarded = request?.headers['x-forwarded-for'];
      return address(request, Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? null));
    },
    admit(payload) {
      const refused = variablesRefusal(payload.variables, edge);
      if (refused) return refused;
      return trusted ? trusted.textOf(payload) : payload.query;
    },
    refusals(args) {
      const cost = costErrors(args, edge);
      return cost.length > 0 ? cost : inputRefusals(args, edge);
    },
    forCaller: (errors, anonymous) => (anonymous && !edge.fieldSuggestions ? withoutSuggestions(errors) : errors),
  };
}
