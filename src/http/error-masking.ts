import { GraphQLError } from 'graphql';
import type { Logger } from '../infra/logger.js';
import { toGraphQLError } from '../modules/shared/graphql-errors.js';

/** How long a client is told to wait when a dependency is down. */
const RETRY_AFTER_SECONDS = 5;
/** One log line per kind of outage in this window, however many requests hit it. */
const OUTAGE_LOG_WINDOW_MS = 30_000;

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028']);
const CONNECTION_TEXT = /connection (terminated|is closed|refused|ended)|cannot use a pool after calling end|can't reach database|timed out fetching a new connection|max retries per request|stream isn't writeable|the database system is (starting up|shutting down)|terminating connection|unable to start a transaction in the given time/i;
/** Prisma codes for a value the column cannot hold. */
const BAD_VALUE_CODES = new Set(['P2000', 'P2006', 'P2007', 'P2009', 'P2019', 'P2020', 'P2023', 'P2033']);

export type Failure = { kind: 'bad-input'; detail: string } | { kind: 'outage'; dependency: 'database' | 'redis' } | undefined;

/** Walks an error, its causes and driver details, for the codes and texts that classify it. */
function* clues(error: unknown, seen = new Set<unknown>()): Generator<{ code?: string; text: string; name: string }> {
  if (!error || typeof error !== 'object' || seen.has(error) || seen.size > 20) return;
  seen.add(error);
  const record = error as Record<string, unknown>;
  const code = [record.code, record.originalCode, record.kind].find((value): value is string => typeof value === 'string');
  yield { code, text: typeof record.message === 'string' ? record.message : '', name: typeof record.name === 'string' ? record.name : '' };
  for (const inner of [record.originalError, record.cause, record.meta, (record.meta as Record<string, unknown> | undefined)?.driverAdapterError]) yield* clues(inner, seen);
}

/** What an unexpected error really is: a value the database refused, a dependency that is down, or a defect. */
export function classifyFailure(error: unknown): Failure {
  for (const clue of clues(error)) {
    // Pothos refuses a malformed cursor or global id itself: the caller's mistake, not a defect.
    if (clue.name === 'PothosValidationError') return { kind: 'bad-input', detail: clue.text };
    const redis = /redis|MaxRetriesPerRequest/i.test(clue.name + clue.text);
    if ((clue.code && CONNECTION_CODES.has(clue.code)) || /^(08|57P0|53300)/.test(clue.code ?? '') || CONNECTION_TEXT.test(clue.text)) {
      return { kind: 'outage', dependency: redis ? 'redis' : 'database' };
    }
    if ((clue.code && BAD_VALUE_CODES.has(clue.code)) || /^22[0-9A-Z]{3}$/.test(clue.code ?? '') || /^(InvalidInputValue|ValueOutOfRange|LengthMismatch|InvalidIsolationLevel|UnsupportedNativeDataType)$/.test(clue.code ?? '')) {
      return { kind: 'bad-input', detail: clue.code ?? 'invalid value' };
    }
  }
  return undefined;
}

export function serviceUnavailable(dependency: string): GraphQLError {
  return new GraphQLError(`The ${dependency} is unavailable; retry shortly`, {
    extensions: {
      code: 'SERVICE_UNAVAILABLE',
      dependency,
      retryable: true,
      retryAfterSeconds: RETRY_AFTER_SECONDS,
      http: { status: 503, headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } },
    },
  });
}

/** Logs the first outage of each dependency in a window, so an outage costs one line, not one per request. */
export function outageReporter(log: Logger) {
  const lastLogged = new Map<string, number>();
  return (dependency: string, error: unknown) => {
    const now = Date.now();
    if (now - (lastLogged.get(dependency) ?? 0) < OUTAGE_LOG_WINDOW_MS) return;
    lastLogged.set(dependency, now);
    log.warn('dependency unavailable', { dependency, error: (error as Error)?.message?.split('\n')[0] });
  };
}

/**
 * Replaces graphql-yoga's masking: typed errors pass, values the database refused become BAD_USER_INPUT,
 * outages SERVICE_UNAVAILABLE (503, Retry-After), malformed requests a 400 without the parser's internals,
 * and anything else the generic internal error, never with its original attached.
 */
export function createErrorMasker(reportOutage: (dependency: string, error: unknown) => void) {
  return (error: unknown, message: string): Error => {
    if (error instanceof GraphQLError && error.extensions?.originalError) {
      // graphql-yoga's request parser attaches the parser's own message; the client gets only ours.
      const status = (error.extensions.http as { status?: number } | undefined)?.status ?? 400;
      return new GraphQLError(error.message, { extensions: { code: error.extensions.code ?? 'BAD_REQUEST', http: { status } } });
    }
    const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
    const located = error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {};
    // Pothos refuses malformed cursors and global ids with its own GraphQLError, which carries no code.
    if (original instanceof Error && original.name === 'PothosValidationError') {
      return new GraphQLError(original.message, { ...located, extensions: { code: 'BAD_USER_INPUT' } });
    }
    if (error instanceof GraphQLError && !error.originalError) return error;
    if (original instanceof GraphQLError && !original.originalError) return error as GraphQLError;
    // A domain failure that reached here untranslated (a field without withGraphQLErrors) still gets its type.
    const typed = toGraphQLError(original);
    if (typed instanceof GraphQLError) return new GraphQLError(typed.message, { ...located, extensions: typed.extensions });
    const failure = classifyFailure(error);
    if (failure?.kind === 'outage') {
      reportOutage(failure.dependency, error);
      return serviceUnavailable(failure.dependency);
    }
    if (failure?.kind === 'bad-input') {
      return new GraphQLError('An argument holds a value that is not allowed here', { ...located, extensions: { code: 'BAD_USER_INPUT', reason: failure.detail } });
    }
    const http = error instanceof GraphQLError ? (error.extensions?.http as { status?: number } | undefined) : undefined;
    if (http?.status && http.status >= 400 && http.status < 500) {
      return new GraphQLError((error as GraphQLError).message, { extensions: { code: 'BAD_REQUEST', http: { status: http.status } } });
    }
    return new GraphQLError(message, { ...located, extensions: { code: 'INTERNAL_SERVER_ERROR', unexpected: true } });
  };
}
