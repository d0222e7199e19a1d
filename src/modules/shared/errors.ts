/** Expected failures a client can act on; the GraphQL layer maps each to a typed result. */

export interface FieldIssue {
  path: string;
  message: string;
}

export class ValidationError extends Error {
  constructor(readonly issues: FieldIssue[]) {
    super(issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '));
    this.name = 'ValidationError';
  }
}

export class NotFoundError extends Error {
  constructor(
    readonly resource: string,
    readonly id: string,
  ) {
    super(`${resource} ${id} was not found`);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** The caller may not do this: a rule of the domain, not a missing permission. */
export class ForbiddenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenError';
  }
}

/** A state machine refused a move; names the state the thing is in now. */
export class IllegalTransitionError extends Error {
  constructor(
    readonly resource: string,
    readonly id: string,
    readonly currentStatus: string,
    readonly requestedStatus: string,
  ) {
    super(`${resource} ${id} is ${currentStatus} and cannot become ${requestedStatus}`);
    this.name = 'IllegalTransitionError';
  }
}

/** A request would take a user past one of their quotas. */
export class QuotaExceededError extends Error {
  constructor(
    readonly quota: string,
    readonly limit: number,
    readonly used: number,
    readonly requested: number,
  ) {
    super(`${quota}: ${used} in use + ${requested} requested exceeds the quota of ${limit}`);
    this.name = 'QuotaExceededError';
  }
}

/** No capacity satisfies the request now; `reasons` say what each candidate lacked. */
export class InsufficientCapacityError extends Error {
  constructor(
    message: string,
    readonly reasons: string[],
  ) {
    super(message);
    this.name = 'InsufficientCapacityError';
  }
}

/** The thing cannot be removed or changed while others depend on it. */
export class ResourceInUseError extends Error {
  constructor(
    readonly resource: string,
    readonly id: string,
    readonly usedBy: string,
    readonly count: number,
  ) {
    super(`${resource} ${id} is in use by ${count} ${usedBy}`);
    this.name = 'ResourceInUseError';
  }
}

/** A vector's length differs from the dimension the store holds (e.g. an embedding for another model). */
export class DimensionMismatchError extends Error {
  constructor(
    readonly path: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`${path}: expected ${expected} dimensions, got ${actual}`);
    this.name = 'DimensionMismatchError';
  }
}

/** A credential that is malformed, forged, expired, revoked or unknown. The reason is never shown to clients. */
export class InvalidCredentialError extends Error {
  override name = 'InvalidCredentialError';
}

/** The password was right but a TOTP code is needed (or was wrong); the client should ask for one. */
export class TotpRequiredError extends InvalidCredentialError {
  override name = 'TotpRequiredError';
}

/** Over the limit: the caller should wait `retryAfterSeconds`. */
export class RateLimitedError extends Error {
  override name = 'RateLimitedError';
  constructor(readonly retryAfterSeconds: number) {
    super(`rate limit exceeded; retry after ${retryAfterSeconds} s`);
  }
}

/** A subscriber that fell too far behind on events that may not be lost. */
export class SubscriberTooSlowError extends Error {
  override name = 'SubscriberTooSlowError';
  constructor(
    readonly limit: number,
    unit: 'events' | 'bytes' = 'events',
  ) {
    super(`subscription ended: more than ${limit} ${unit} were waiting for this subscriber; query the current state and subscribe again`);
  }
}

/** A subscription over SSE (or any transport without a socket here) ended because its credentials did. */
export class CredentialsEndedError extends Error {
  override name = 'CredentialsEndedError';
}
