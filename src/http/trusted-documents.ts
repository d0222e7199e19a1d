import { readFileSync } from 'node:fs';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** A request names a trusted document as Apollo's persisted queries do. */
interface Extensions {
  persistedQuery?: { version?: unknown; sha256Hash?: unknown };
}

const refusal = (message: string, code: string) => ({ message, extensions: { code, http: { status: 400 } } });

const REFUSALS = {
  persistedQueryOnly: refusal('Only trusted documents run here: send the operation by its hash (extensions.persistedQuery.sha256Hash)', 'TRUSTED_DOCUMENT_REQUIRED'),
  notFound: refusal('No trusted document has this hash', 'PERSISTED_QUERY_NOT_IN_LIST'),
  keyNotFound: refusal('Send a query or the hash of a trusted document (extensions.persistedQuery.sha256Hash)', 'PERSISTED_QUERY_ID_REQUIRED'),
};

const refused = (reason: keyof typeof REFUSALS) => new GraphQLError(REFUSALS[reason].message, { extensions: REFUSALS[reason].extensions });

/** Reads a trusted-documents manifest: a JSON object of document hash -> operation text, as codegen writes it. */
function readManifest(file: string): Map<string, string> {
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest) || Object.values(manifest).some((text) => typeof text !== 'string')) {
    throw new Error(`TRUSTED_DOCUMENTS_FILE ${file} is not a JSON object of hash -> document`);
  }
  return new Map(Object.entries(manifest as Record<string, string>).map(([hash, text]) => [plainHash(hash), text]));
}

/** codegen writes `sha256:<hex>` (the GraphQL over HTTP form), Apollo clients send the bare hex: either names the document. */
const plainHash = (hash: string) => hash.replace(/^sha256:/, '');

function hashOf(extensions: unknown): string | undefined {
  const persisted = (extensions as Extensions | null | undefined)?.persistedQuery;
  return persisted?.version === 1 && typeof persisted.sha256Hash === 'string' ? plainHash(persisted.sha256Hash) : undefined;
}

/** The operations of a manifest, run by hash; with `only`, nothing else runs. */
export interface TrustedDocuments {
  /** graphql-yoga's persisted operations over HTTP. */
  plugin: Plugin;
  /** The text a graphql-ws subscribe message runs (its query, or the document its hash names), or why it may not run. */
  textOf(payload: { query: string; extensions?: unknown }): string | GraphQLError;
}

export function trustedDocuments(file: string, only: boolean): TrustedDocuments {
  const documents = readManifest(file);
  return {
    plugin: usePersistedOperations({
      extractPersistedOperationId: (params) => hashOf(params.extensions) ?? null,
      getPersistedOperation: (hash) => documents.get(hash) ?? null,
      allowArbitraryOperations: !only,
      customErrors: REFUSALS,
    }),
    textOf({ query, extensions }) {
      if (query) return only ? refused('persistedQueryOnly') : query;
      const hash = hashOf(extensions);
      if (hash === undefined) return refused('keyNotFound');
      return documents.get(hash) ?? refused('notFound');
    },
  };
}
