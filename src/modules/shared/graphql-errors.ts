import { GraphQLError } from 'graphql';
import {
  ConflictError,
  CredentialsEndedError,
  InvalidCredentialError,
  RateLimitedError,
  SubscriberTooSlowError,
  TotpRequiredError,
  DimensionMismatchError,
  ForbiddenError,
  IllegalTransitionError,
  InsufficientCapacityError,
  NotFoundError,
  QuotaExceededError,
  ResourceInUseError,
  ValidationError,
} from './errors.js';

/**
 * The one translation of expected failures into GraphQL errors with a stable `extensions.code`, for
 * fields without a result union (queries, subscriptions) and for the server's credential and rate
 * limit checks. Anything else is returned as it is, for the server to mask.
 */
export function toGraphQLError(error: unknown): unknown {
  const as = (code: string, extensions: Record<string, unknown> = {}) =>
    new GraphQLError((error as Error).message, { extensions: { code, ...extensions } });
  // One answer for every refused credential, so a caller learns nothing about which part was wrong.
  if (error instanceof InvalidCredentialError) {
    return new GraphQLError('Invalid credentials', {
      extensions: { code: 'UNAUTHENTICATED', ...(error instanceof TotpRequiredError ? { totpRequired: true } : {}), http: { status: 401 } },
    });
  }
  if (error instanceof RateLimitedError) {
    return new GraphQLError('Rate limit exceeded', {
      extensions: {
        code: 'RATE_LIMITED',
        retryAfterSeconds: error.retryAfterSeconds,
        http: { status: 429, headers: { 'retry-after': String(error.retryAfterSeconds) } },
      },
    });
  }
  if (error instanceof CredentialsEndedError) return as('UNAUTHENTICATED');
  if (error instanceof ValidationError) return as('BAD_USER_INPUT', { issues: error.issues });
  if (error instanceof NotFoundError) return as('NOT_FOUND', { resource: error.resource });
  if (error instanceof ConflictError) return as('CONFLICT', { field: error.field });
  if (error instanceof ForbiddenError) return as('FORBIDDEN');
  if (error instanceof IllegalTransitionError) return as('ILLEGAL_TRANSITION', { currentStatus: error.currentStatus, requestedStatus: error.requestedStatus });
  if (error instanceof QuotaExceededError) return as('QUOTA_EXCEEDED', { quota: error.quota, limit: error.limit, used: error.used, requested: error.requested });
  if (error instanceof InsufficientCapacityError) return as('INSUFFICIENT_CAPACITY', { reasons: error.reasons });
  if (error instanceof ResourceInUseError) return as('RESOURCE_IN_USE', { resource: error.resource, usedBy: error.usedBy, count: error.count });
  if (error instanceof DimensionMismatchError) return as('DIMENSION_MISMATCH', { path: error.path, expected: error.expected, actual: error.actual });
  if (error instanceof SubscriberTooSlowError) return as('SUBSCRIBER_TOO_SLOW', { limit: error.limit });
  return error;
}

/** Runs a query resolver (or any step outside a result union) with its expected failures translated. */
export async function withGraphQLErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toGraphQLError(error);
  }
}

/** Opens a subscription feed, translating the errors that refuse or end it so they reach the subscriber unmasked. */
export async function subscriptionErrors<T>(open: () => Promise<AsyncIterableIterator<T>> | AsyncIterableIterator<T>): Promise<AsyncIterableIterator<T>> {
  const feed = await withGraphQLErrors(async () => open());
  const wrapped: AsyncIterableIterator<T> = {
    next: () =>
      feed.next().catch((error: unknown) => {
        throw toGraphQLError(error);
      }),
    return: () => feed.return?.() ?? Promise.resolve({ value: undefined, done: true }),
    throw: (error?: unknown) => feed.throw?.(error) ?? Promise.reject(error),
    [Symbol.asyncIterator]: () => wrapped,
  };
  // A feed's rule for slow sockets (`slowReader`) stays visible to the transport that writes it.
  return Object.assign(wrapped, { slowReader: (feed as { slowReader?: unknown }).slowReader });
}

/**
 * A mutation's typed result, declared the same way everywhere: the union `<name>Result` of
 * `<name>Success { <dataField> }` and the errors its service can throw (anything else is unexpected).
 */
export function mutationErrors(name: string, dataField: string, types: (new (...args: never[]) => Error)[]) {
  return { types, union: { name: `${name}Result` }, result: { name: `${name}Success` }, dataField: { name: dataField } };
}
