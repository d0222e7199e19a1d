import { readFileSync } from 'node:fs';
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import type { Plugin, YogaServerOptions } from 'graphql-yoga';
import type { EdgeConfig } from '../config.js';
import type { Logger } from '../infra/logger.js';
import { useEdgeValidation } from './edge-validation.js';
import { createErrorMasker, outageReporter } from './error-masking.js';
import { operationLimitPlugins } from './operation-limits.js';

/** The header a browser-less client may send instead of a JSON content type (CSRF prevention). */
export const CSRF_HEADER = 'x-graphql-csrf';

const hasCredentials = (request: Request) => request.headers.has('authorization') || request.headers.has('x-api-key');

/** Reads the trusted-documents manifest: a JSON object of document hash -> operation text. */
function trustedDocuments(file: string): Record<string, string> {
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  if (!manifest || typeof manifest !== 'object' || Object.values(manifest).some((text) => typeof text !== 'string')) {
    throw new Error(`TRUSTED_DOCUMENTS_FILE ${file} is not a JSON object of hash -> document`);
  }
  return manifest as Record<string, string>;
}

/** What the edge refuses before a resolver runs: limits, bad input, cross-site requests, unknown documents. */
export function hardeningPlugins(edge: EdgeConfig): Plugin[] {
  const plugins: Plugin[] = [
    useCSRFPrevention({ requestHeaders: [CSRF_HEADER, 'authorization', 'x-api-key'] }),
    ...operationLimitPlugins(edge),
    useEdgeValidation(edge),
  ];
  if (!edge.anonymousIntrospection) plugins.push(useDisableIntrospection({ isDisabled: (request) => !hasCredentials(request) }));
  if (!edge.fieldSuggestions) plugins.push(blockFieldSuggestionsPlugin() as Plugin);
  if (edge.trustedDocumentsFile) {
    const documents = trustedDocuments(edge.trustedDocumentsFile);
    plugins.push(usePersistedOperations({ getPersistedOperation: (hash) => documents[hash] ?? null, allowArbitraryOperations: false }));
  }
  return plugins;
}

/** The server options the edge settles: body size, CORS and error masking. */
export function hardeningOptions(edge: EdgeConfig, log: Logger): Pick<YogaServerOptions<object, object>, 'maxRequestBodySize' | 'cors' | 'maskedErrors'> {
  const anyOrigin = edge.corsOrigins.includes('*');
  return {
    maxRequestBodySize: edge.maxRequestBodyBytes,
    // No allow-list sends no CORS headers, so browsers keep to the same origin.
    cors: edge.corsOrigins.length === 0 ? false : anyOrigin ? { origin: '*', credentials: false } : { origin: edge.corsOrigins, credentials: true },
    maskedErrors: { maskError: createErrorMasker(outageReporter(log)) },
  };
}
