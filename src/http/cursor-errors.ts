import { getOperationAST, GraphQLError, Kind, type DocumentNode, type FieldNode, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** The field an error path points at in the operation, fragments expanded (the first match). */
function fieldAt(document: DocumentNode, operationName: string | null | undefined, path: readonly (string | number)[]): FieldNode | undefined {
  const fragments = new Map(document.definitions.flatMap((definition) => (definition.kind === Kind.FRAGMENT_DEFINITION ? [[definition.name.value, definition] as const] : [])));
  const find = (set: SelectionSetNode | undefined, key: string, seen: Set<string>): FieldNode | undefined => {
    for (const selection of set?.selections ?? []) {
      if (selection.kind === Kind.FIELD && (selection.alias?.value ?? selection.name.value) === key) return selection;
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const found = find(selection.selectionSet, key, seen);
        if (found) return found;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD && !seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const found = find(fragments.get(selection.name.value)?.selectionSet, key, seen);
        if (found) return found;
      }
    }
    return undefined;
  };
  let field: FieldNode | undefined;
  let set: SelectionSetNode | undefined = getOperationAST(document, operationName)?.selectionSet;
  for (const segment of path) {
    if (typeof segment === 'number') continue;
    field = find(set, segment, new Set());
    if (!field) return undefined;
    set = field.selectionSet;
  }
  return field;
}

const isCursorRefusal = (error: GraphQLError) => error.originalError?.name === 'PothosValidationError' && /cursor/i.test(error.originalError.message);

/**
 * A cursor a list did not give (junk, another list's, truncated) is refused as BAD_USER_INPUT naming
 * the argument that held it (`after` or `before`), without echoing the text back.
 */
export function useCursorErrors(): Plugin {
  return {
    onExecute({ args }) {
      return {
        onExecuteDone({ result, setResult }) {
          if (!('errors' in result) || !result.errors?.some(isCursorRefusal)) return;
          setResult({
            ...result,
            errors: result.errors.map((error) => {
              if (!isCursorRefusal(error)) return error;
              const field = error.path ? fieldAt(args.document, args.operationName, error.path) : undefined;
              const names = (field?.arguments ?? []).map((argument) => argument.name.value).filter((name) => name === 'after' || name === 'before');
              const argument = names.length > 0 ? names.join(' or ') : 'after or before';
              return new GraphQLError(`${argument}: is not a cursor of this list`, { nodes: field, path: error.path, extensions: { code: 'BAD_USER_INPUT', argument } });
            }),
          });
        },
      };
    },
  };
}
