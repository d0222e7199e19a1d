import type { Context } from '../context.js';
import type { Database } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import type { Credentials } from '../modules/identity/authentication.js';
import type { Principal } from '../modules/identity/principal.js';
import { InvalidCredentialError, RateLimitedError } from '../modules/shared/errors.js';
import { toGraphQLError } from '../modules/shared/graphql-errors.js';
import type { Services } from '../services.js';
import { requestIdOf } from './request-id.js';

/** Turns a request's credentials into a principal, and a principal into the context resolvers get. */
export interface RequestContexts {
  /** The principal the credentials name (null without any); refused credentials throw UNAUTHENTICATED. */
  authenticate(credentials: Credentials): Promise<Principal | null>;
  /** Counts the request against the principal's rate limit; over it throws RATE_LIMITED. */
  admit(principal: Principal | null): Promise<void>;
  contextFor(principal: Principal | null, requestId: string | null | undefined, client: Context['client']): Context;
}

export function createRequestContexts(db: Database, services: Services, log: Logger): RequestContexts {
  return {
    async authenticate(credentials) {
      try {
        return await services.authenticator.authenticate(credentials);
      } catch (error) {
        if (!(error instanceof InvalidCredentialError)) throw error;
        log.debug('credentials refused', { reason: error.message });
        throw toGraphQLError(error);
      }
    },
    async admit(principal) {
      if (!principal) return;
      try {
        await services.rateLimiter.consume(principal);
      } catch (error) {
        throw error instanceof RateLimitedError ? toGraphQLError(error) : error;
      }
    },
    contextFor: (principal, requestId, client) => ({
      requestId: requestIdOf(requestId),
      principal,
      prisma: db.prisma,
      tenantRows: db.tenantRows,
      services,
      log,
      client,
    }),
  };
}
