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
  Kind,
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
import { isUuid } from '../modules/shared/validation.js';
import { rememberingPasses } from './passed-checks.js';

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
  if (isUuid(key)) return true;
  if (!key.startsWith('[')) return false;
  try {
    const parts: unknown = JSON.parse(key);
    return Array.isArray(parts) && isUuid(parts[0]);
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

/** The arguments of an operation, with its (coerced) variables, checked against the edge's input rules. */
function argumentIssues(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown>, edge: EdgeConfig): FieldIssue[] {
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
          values = getArgumentValues(field, node, variables);
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

/** graphql-js quotes the refused value in its message; a 1 MB value is not echoed back whole. */
const MAX_MESSAGE_LENGTH = 500;

/** A variable that does not coerce to its declared type (or a required one missing), typed and named. */
function invalidVariable(error: GraphQLError): GraphQLError {
  const definition = error.nodes?.find((node) => node.kind === Kind.VARIABLE_DEFINITION);
  const message = error.message.length > MAX_MESSAGE_LENGTH ? `${error.message.slice(0, MAX_MESSAGE_LENGTH)}…` : error.message;
  return new GraphQLError(message, {
    nodes: error.nodes,
    extensions: { code: 'BAD_USER_INPUT', ...(definition ? { variable: definition.variable.name.value } : {}), http: { status: 400 } },
  });
}

/** Variables nested deeper than a walk of them can afford, refused before anything (a hash, a coercion) walks them. */
export function variablesRefusal(variables: unknown, edge: EdgeConfig): GraphQLError | undefined {
  if (!variables || !jsonDepthExceeds(variables, edge.maxJsonDepth + 2)) return undefined;
  return invalidInput([{ path: 'variables', message: `are nested deeper than ${edge.maxJsonDepth} (MAX_JSON_DEPTH)` }]);
}

export interface OperationArgs {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName?: string | null;
  variableValues?: Record<string, unknown> | null;
}

/** What the edge refuses in an operation's variables and arguments: values that do not coerce, bad strings, ids and JSON. */
export function inputRefusals(args: OperationArgs, edge: EdgeConfig): GraphQLError[] {
  const operation = getOperationAST(args.document, args.operationName ?? undefined);
  if (!operation) return [];
  const coerced = getVariableValues(args.schema, operation.variableDefinitions ?? [], args.variableValues ?? {});
  if (coerced.errors) return coerced.errors.map(invalidVariable);
  const issues = argumentIssues(args.schema, args.document, coerced.coerced, edge);
  return issues.length > 0 ? [invalidInput(issues)] : [];
}

/** Refuses bad variables, strings, ids and JSON before any resolver (or the database) sees them. */
export function useEdgeValidation(edge: EdgeConfig): Plugin {
  const refusals = rememberingPasses((args: OperationArgs) => inputRefusals(args, edge));
  return {
    onParams({ params, setResult }) {
      const refused = variablesRefusal(params.variables, edge);
      if (refused) setResult({ errors: [refused] });
    },
    onExecute({ args, setResultAndStopExecution }) {
      const errors = refusals(args);
      if (errors.length > 0) setResultAndStopExecution({ errors });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const errors = refusals(args);
      if (errors.length > 0) setResultAndStopExecution({ errors });
    },
  };
}
