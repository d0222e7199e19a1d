import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';
import type { Principal } from '../modules/identity/principal.js';
import type { RequestContexts } from './context.js';

/** What validation sees of a request: the HTTP request, or the context the WebSocket server built. */
interface ValidationContext {
  request?: Request;
  wsContext?: Context;
}

/** Who sends each request, known before validation, so rules that depend on the caller can apply there. */
export interface RequestCallers {
  /** Authenticates each HTTP request once, before its document is parsed and validated. */
  plugin: Plugin;
  /** The request's principal (null when anonymous); refused credentials reject with UNAUTHENTICATED. */
  principalOf(request: Request): Promise<Principal | null>;
  /** Whether the caller of an operation being validated is anonymous (refused credentials count as anonymous). */
  isAnonymous(context: ValidationContext): boolean;
}

export function requestCallers(contexts: RequestContexts): RequestCallers {
  const pending = new WeakMap<Request, Promise<Principal | null>>();
  const known = new WeakMap<Request, Principal | null>();
  const principalOf = (request: Request) => {
    let principal = pending.get(request);
    if (!principal) {
      principal = contexts.authenticate({ authorization: request.headers.get('authorization'), apiKey: request.headers.get('x-api-key') });
      pending.set(request, principal);
      // Refused credentials are answered when the context is built, after validation.
      principal.then((value) => known.set(request, value), () => known.set(request, null));
    }
    return principal;
  };
  return {
    plugin: {
      async onParams({ request }) {
        await principalOf(request).catch(() => undefined);
      },
    },
    principalOf,
    isAnonymous: (context) => (context.wsContext ? !context.wsContext.principal : !(context.request && known.get(context.request))),
  };
}
