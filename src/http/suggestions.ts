import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** graphql-js's hints: `Did you mean "a" or "b"?`, `Did you mean the enum value "X"?`, `Did you mean to use an inline fragment on "T"?`. */
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

/** The errors with graphql-js's "Did you mean" hints removed: copies, so cached validation results keep theirs. */
export function withoutSuggestions<E extends GraphQLError>(errors: readonly E[]): GraphQLError[] {
  return errors.map((error) => {
    if (!error.message.includes('Did you mean')) return error;
    return new GraphQLError(error.message.replace(SUGGESTION, ''), {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      originalError: error.originalError,
      extensions: error.extensions,
    });
  });
}

type Result = { errors?: readonly GraphQLError[] };

/**
 * Hides field, argument and enum suggestions from anonymous callers, as the answer leaves: validation
 * runs before the context is built and its results are cached for every caller alike, so it cannot
 * decide by caller itself.
 */
export function useSuggestionsForSignedInOnly(isAnonymous: (request: Request) => boolean): Plugin {
  const strip = (result: Result): Result => (result.errors?.length ? { ...result, errors: withoutSuggestions(result.errors) } : result);
  return {
    onResultProcess({ request, result, setResult }) {
      if (!isAnonymous(request) || Symbol.asyncIterator in Object(result)) return;
      setResult((Array.isArray(result) ? result.map(strip) : strip(result as Result)) as typeof result);
    },
  };
}
