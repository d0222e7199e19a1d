import { getOperationAST, GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';
import type { Logger } from '../infra/logger.js';

function errorCodes(errors: readonly GraphQLError[] | undefined): string[] {
  return [...new Set((errors ?? []).map((error) => String(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR')))];
}

/** One `operation` line per execution or subscription: name, type, duration, outcome and who asked; never variables. */
export function useAccessLog(log: Logger): Plugin<Context> {
  const line = (args: ExecutionArgs, started: number, errors: readonly GraphQLError[] | undefined) => {
    const operation = getOperationAST(args.document, args.operationName);
    const context = args.contextValue as Partial<Context>;
    const codes = errorCodes(errors);
    log.info('operation', {
      operationName: operation?.name?.value ?? null,
      operationType: operation?.operation ?? null,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      outcome: codes.length === 0 ? 'ok' : 'error',
      ...(codes.length > 0 ? { errorCodes: codes } : {}),
      principalId: context.principal?.userId ?? null,
      apiKeyId: context.principal?.apiKeyId ?? null,
      tenantId: context.principal?.tenantId ?? null,
    });
  };
  const resultErrors = (result: unknown) => (result && typeof result === 'object' && 'errors' in result ? (result as ExecutionResult).errors : undefined);
  return {
    onExecute({ args }) {
      const started = performance.now();
      return { onExecuteDone: ({ result }) => line(args, started, resultErrors(result)) };
    },
    onSubscribe({ args }) {
      const started = performance.now();
      return {
        onSubscribeResult: ({ result }) => line(args, started, resultErrors(result)),
        onSubscribeError: ({ error }) => line(args, started, [error instanceof GraphQLError ? error : new GraphQLError(String(error))]),
      };
    },
  };
}

/** Puts the request id into every error's extensions, so a user can quote it. */
export function useRequestIdInErrors(): Plugin {
  return {
    onResultProcess({ request, result, setResult }) {
      const requestId = request.headers.get('x-request-id');
      if (!requestId || Array.isArray(result) || !('errors' in result) || !result.errors?.length) return;
      setResult({
        ...result,
        errors: result.errors.map((error) =>
          error instanceof GraphQLError
            ? new GraphQLError(error.message, {
                nodes: error.nodes,
                source: error.source,
                positions: error.positions,
                path: error.path,
                originalError: error.originalError,
                extensions: { ...error.extensions, requestId },
              })
            : { ...(error as object), extensions: { ...(error as GraphQLError).extensions, requestId } },
        ),
      } as typeof result);
    },
  };
}
