import { GraphQLError, Kind, type ValueNode } from 'graphql';
import { builder } from '../../builder.js';

function parseDateTime(value: unknown): Date {
  if (typeof value !== 'string') throw new GraphQLError('DateTime must be an ISO-8601 string');
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new GraphQLError(`"${value}" is not an ISO-8601 date-time`);
  return date;
}

builder.scalarType('DateTime', {
  description: 'An ISO-8601 instant, always serialised in UTC',
  serialize: (value) => (value instanceof Date ? value.toISOString() : new Date(value as string).toISOString()),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

function literalToJson(ast: ValueNode): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map(literalToJson);
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((field) => [field.name.value, literalToJson(field.value)]));
    default:
      throw new GraphQLError('JSON literals cannot contain variables');
  }
}

builder.scalarType('JSON', {
  description: 'Any JSON value',
  serialize: (value) => value,
  parseValue: (value) => value as never,
  parseLiteral: (ast) => literalToJson(ast) as never,
});
