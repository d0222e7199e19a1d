import { lexicographicSortSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.js';
import './modules/shared/scalars.js';
import './modules/shared/error-types.js';
import './modules/cluster/node.schema.js';

let schema: GraphQLSchema | undefined;

/** The one GraphQL schema, built once from every module's types and fields. */
export function buildSchema(): GraphQLSchema {
  schema ??= lexicographicSortSchema(builder.toSchema());
  return schema;
}
