import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { getOperationAST, GraphQLError } from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import type { Plugin } from 'graphql-yoga';
import type { EdgeConfig } from '../config.js';
import type { OperationArgs } from './edge-validation.js';
import { rememberingPasses } from './passed-checks.js';

/** The one error every operation limit answers with: which setting refused it, and its value. */
export function limitExceeded(setting: string, max: number, found: number | undefined, what: string): GraphQLError {
  return new GraphQLError(`${what} exceeds ${setting} (${max}${found === undefined ? '' : `, found ${found}`})`, {
    extensions: { code: 'QUERY_LIMIT_EXCEEDED', limit: setting, max, ...(found === undefined ? {} : { found }), http: { status: 400 } },
  });
}

/** GraphQL Armor's rejection, retyped in place so the client reads which limit it hit. */
function naming(setting: string, max: number) {
  return {
    exposeLimits: true,
    propagateOnRejection: true,
    onReject: [
      (_context: unknown, error: GraphQLError) => {
        const found = /found (\d+)/.exec(error.message)?.[1];
        Object.assign(error.extensions as Record<string, unknown>, limitExceeded(setting, max, found === undefined ? undefined : Number(found), 'the operation').extensions);
      },
    ],
  };
}

interface PageSizeViolation {
  field: string;
  argument: string;
  value: number;
}

/**
 * Each field costs 1 plus its selections; a field taking `first` / `last` multiplies its selections
 * by the page it asks for (the default page when it names none), so aliases of wide lists add up.
 */
function pagedCost(defaultPageSize: number, maxPageSize: number, violations: PageSizeViolation[]): ComplexityEstimator {
  return ({ field, args, childComplexity }) => {
    const paged = field.args.some((arg) => arg.name === 'first' || arg.name === 'last');
    if (!paged) return 1 + childComplexity;
    let page = defaultPageSize;
    for (const argument of ['first', 'last'] as const) {
      const value = args[argument];
      if (typeof value !== 'number') continue;
      if (value < 0 || value > maxPageSize) violations.push({ field: field.name, argument, value });
      page = Math.max(0, Math.min(value, maxPageSize));
    }
    return 1 + childComplexity * Math.max(page, 1);
  };
}

/** An operation's cost and page sizes over the limits, as errors naming each limit. */
export function costErrors({ schema, document, operationName, variableValues }: OperationArgs, edge: EdgeConfig): GraphQLError[] {
  if (!getOperationAST(document, operationName)) return [];
  const violations: PageSizeViolation[] = [];
  let cost: number;
  try {
    cost = getComplexity({ schema, query: document, operationName: operationName ?? undefined, variables: variableValues ?? {}, estimators: [pagedCost(20, edge.maxPageSize, violations)] });
  } catch {
    // Variables that do not coerce are reported by execution itself.
    return [];
  }
  const errors = violations.map(({ field, argument, value }) => {
    const error = limitExceeded('MAX_PAGE_SIZE', edge.maxPageSize, value, `${field}(${argument}: ${value})`);
    if (value < 0) return new GraphQLError(`${field}(${argument}: ${value}) must not be negative`, { extensions: { ...error.extensions, code: 'BAD_USER_INPUT' } });
    return error;
  });
  if (cost > edge.maxQueryCost) errors.push(limitExceeded('MAX_QUERY_COST', edge.maxQueryCost, cost, 'the operation cost'));
  return errors;
}

/** Refuses an operation whose cost or page sizes exceed the limits before any resolver runs. */
function useCostLimit(edge: EdgeConfig): Plugin {
  const refusals = rememberingPasses((args: OperationArgs) => costErrors(args, edge));
  return {
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

/** Depth, aliases, tokens, directives (GraphQL Armor) and cost with page sizes, each from its setting. */
export function operationLimitPlugins(edge: EdgeConfig): Plugin[] {
  return [
    maxTokensPlugin({ n: edge.maxQueryTokens, ...naming('MAX_QUERY_TOKENS', edge.maxQueryTokens) }) as Plugin,
    maxDepthPlugin({ n: edge.maxQueryDepth, flattenFragments: true, ...naming('MAX_QUERY_DEPTH', edge.maxQueryDepth) }) as Plugin,
    maxAliasesPlugin({ n: edge.maxQueryAliases, ...naming('MAX_QUERY_ALIASES', edge.maxQueryAliases) }) as Plugin,
    maxDirectivesPlugin({ n: edge.maxQueryDirectives, ...naming('MAX_QUERY_DIRECTIVES', edge.maxQueryDirectives) }) as Plugin,
    useCostLimit(edge),
  ];
}
