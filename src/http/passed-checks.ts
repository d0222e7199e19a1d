import type { DocumentNode, GraphQLError } from 'graphql';

/** What identifies an operation to such a check. */
interface Operation {
  document: DocumentNode;
  operationName?: string | null;
  variableValues?: Record<string, unknown> | null;
}

/** Variables longer than this as JSON are checked every time rather than kept as a key. */
const MAX_KEY_LENGTH = 2_048;
/** Distinct operation name and variables remembered per document; past it the document starts over. */
const MAX_KEYS_PER_DOCUMENT = 256;

/**
 * A check of an operation that depends only on its document, operation name and variables, run once
 * for each distinct three of them that passes: a dashboard sending the same query again is not
 * walked again. Refusals are never remembered (each is worded and counted afresh). The parser's cache
 * hands out the same document object for the same query text, which is what makes this a hit.
 */
export function rememberingPasses<Args extends Operation>(check: (args: Args) => GraphQLError[]): (args: Args) => GraphQLError[] {
  const passed = new WeakMap<DocumentNode, Set<string>>();
  return (args) => {
    const key = `${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}`;
    const known = passed.get(args.document);
    if (known?.has(key)) return [];
    const errors = check(args);
    if (errors.length === 0 && key.length <= MAX_KEY_LENGTH) {
      const keys = known && known.size < MAX_KEYS_PER_DOCUMENT ? known : new Set<string>();
      keys.add(key);
      passed.set(args.document, keys);
    }
    return errors;
  };
}
