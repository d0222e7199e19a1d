import { useGraphQlJit } from '@envelop/graphql-jit';
import { getNamedType, getOperationAST, getVariableValues, isInputObjectType, typeFromAST, type GraphQLInputObjectType, type GraphQLSchema } from 'graphql';

const recursiveInputs = new WeakMap<GraphQLSchema, Set<string>>();

/** Input types that contain themselves (filters composed with and / or / not). */
function recursiveInputTypes(schema: GraphQLSchema): Set<string> {
  let found = recursiveInputs.get(schema);
  if (found) return found;
  found = new Set();
  const reaches = (from: GraphQLInputObjectType, target: string, seen: Set<string>): boolean =>
    Object.values(from.getFields()).some((field) => {
      const type = getNamedType(field.type);
      if (!isInputObjectType(type)) return false;
      if (type.name === target) return true;
      if (seen.has(type.name)) return false;
      seen.add(type.name);
      return reaches(type, target, seen);
    });
  for (const type of Object.values(schema.getTypeMap())) {
    if (isInputObjectType(type) && reaches(type, type.name, new Set())) found.add(type.name);
  }
  recursiveInputs.set(schema, found);
  return found;
}

/**
 * Queries run as compiled JavaScript per document (cached). Mutations, subscriptions, queries with
 * invalid variables (whose errors the usual executor words better) and queries with a variable of a
 * recursive input type (graphql-jit's variable coercion recurses without end on those) run as before.
 */
export function useCompiledQueries() {
  return useGraphQlJit(
    {},
    {
      enableIf: ({ schema, document, operationName, variableValues }) => {
        const operation = getOperationAST(document, operationName);
        if (operation?.operation !== 'query') return false;
        const definitions = operation.variableDefinitions ?? [];
        const recursive = recursiveInputTypes(schema);
        if (definitions.some((definition) => recursive.has(getNamedType(typeFromAST(schema, definition.type as never))?.name ?? ''))) return false;
        return !getVariableValues(schema, definitions, variableValues ?? {}).errors;
      },
    },
  );
}
