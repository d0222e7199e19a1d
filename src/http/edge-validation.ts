import {
  getArgumentValues,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  isInputObjectType,
  isListType,
  isScalarType,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { EdgeConfig } from '../config.js';
import type { FieldIssue } from '../modules/shared/errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Nesting of a JSON value, counted without recursion and given up on past `limit`. */
export function jsonDepthExceeds(value: unknown, limit: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return false;
}

function stringIssue(value: string, edge: EdgeConfig): string | undefined {
  if (value.length > edge.maxStringLength) return `is longer than ${edge.maxStringLength} characters (MAX_STRING_LENGTH)`;
  if (value.includes('\0')) return 'must not contain a NUL character';
  if (LONE_SURROGATE.test(value)) return 'must be well-formed UTF-16 (it has a lone surrogate)';
  return undefined;
}

interface GlobalIdRule {
  isRelayGlobalID?: boolean;
  relayGlobalIDFor?: { typename: string }[] | null;
}

/** A Relay global id is base64 of `Typename:key`; the argument may name the types it accepts. */
function globalIdIssue(value: string, rule: GlobalIdRule, schema: GraphQLSchema): string | undefined {
  const decoded = BASE64.test(value) ? Buffer.from(value, 'base64').toString('utf8') : '';
  const separator = decoded.indexOf(':');
  const typename = decoded.slice(0, separator);
  if (separator <= 0 || !schema.getType(typename)) return 'is not a global id';
  const accepted = rule.relayGlobalIDFor?.map((type) => type.typename) ?? [];
  if (accepted.length > 0 && !accepted.includes(typename)) return `is a ${typename} id; expected ${accepted.join(' or ')}`;
  return isRecordKey(decoded.slice(separator + 1)) ? undefined : 'is not a global id';
}

/** A record's key: a UUID, or a compound key (a JSON array) that starts with one, as time-partitioned rows have. */
function isRecordKey(key: string): boolean {
  if (UUID.test(key)) return true;
  if (!key.startsWith('[')) return false;
  try {
    const parts: unknown = JSON.parse(key);
    return Array.isArray(parts) && typeof parts[0] === 'string' && UUID.test(parts[0]);
  } catch {
    return false;
  }
}

function checkValue(type: GraphQLInputType, value: unknown, path: string, rule: GlobalIdRule, schema: GraphQLSchema, edge: EdgeConfig, issues: FieldIssue[]): void {
  if (value === null || value === undefined) return;
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    if (Array.isArray(value)) value.forEach((item, index) => checkValue(nullable.ofType, item, `${path}.${index}`, rule, schema, edge, issues));
    return;
  }
  if (isInputObjectType(nullable)) {
    for (const field of Object.values(nullable.getFields())) {
      checkValue(field.type, (value as Record<string, unknown>)[field.name], `${path}.${field.name}`, field.extensions as GlobalIdRule, schema, edge, issues);
    }
    return;
  }
  if (!isScalarType(nullable)) return;
  if (nullable.name === 'JSON') {
    if (jsonDepthExceeds(value, edge.maxJsonDepth)) issues.push({ path, message: `is nested deeper than ${edge.maxJsonDepth} (MAX_JSON_DEPTH)` });
    else if (JSON.stringify(value).length > edge.maxStringLength) issues.push({ path, message: `is longer than ${edge.maxStringLength} characters (MAX_STRING_LENGTH)` });
    return;
  }
  if (typeof value !== 'string') return;
  const problem = stringIssue(value, edge) ?? (rule.isRelayGlobalID ? globalIdIssue(value, rule, schema) : undefined);
  if (problem) issues.push({ path, message: problem });
}

/** Every argument of the operation, with its variables, checked against the edge's input rules. */
export function inputIssues(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined, variables: Record<string, unknown> | undefined, edge: EdgeConfig): FieldIssue[] {
  const operation = getOperationAST(document, operationName);
  if (!operation) return [];
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {});
  // Variables that do not coerce are reported by execution itself.
  if (coerced.errors) return [];
  const issues: FieldIssue[] = [];
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const field = typeInfo.getFieldDef();
        if (!field || !node.arguments?.length) return;
        let values: Record<string, unknown>;
        try {
          values = getArgumentValues(field, node, coerced.coerced);
        } catch {
          return;
        }
        for (const arg of field.args) {
          checkValue(arg.type, values[arg.name], `${node.name.value}.${arg.name}`, arg.extensions as GlobalIdRule, schema, edge, issues);
        }
      },
    }),
  );
  return issues;
}

export function invalidInput(issues: FieldIssue[]): GraphQLError {
  return new GraphQLError(issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '), { extensions: { code: 'BAD_USER_INPUT', issues, http: { status: 400 } } });
}

/** Refuses bad strings, ids and JSON in arguments and variables before any resolver (or the database) sees them. */
export function useEdgeValidation(edge: EdgeConfig): Plugin {
  const check = (args: { schema: GraphQLSchema; document: DocumentNode; operationName?: string | null; variableValues?: Record<string, unknown> | null }) =>
    inputIssues(args.schema, args.document, args.operationName ?? undefined, args.variableValues ?? undefined, edge);
  return {
    onParams({ params, setResult }) {
      if (params.variables && jsonDepthExceeds(params.variables, edge.maxJsonDepth + 2)) {
        setResult({ errors: [invalidInput([{ path: 'variables', message: `are nested deeper than ${edge.maxJsonDepth} (MAX_JSON_DEPTH)` }])] });
      }
    },
    onExecute({ args, setResultAndStopExecution }) {
      const issues = check(args);
      if (issues.length > 0) setResultAndStopExecution({ errors: [invalidInput(issues)] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const issues = check(args);
      if (issues.length > 0) setResultAndStopExecution({ errors: [invalidInput(issues)] });
    },
  };
}
