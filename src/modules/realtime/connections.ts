import type { Logger } from '../../infra/logger.js';
import type { PubSub } from '../../infra/pubsub.js';
import { Topic, type PrincipalRevokedEvent } from '../../infra/topics.js';
import type { Principal } from '../identity/principal.js';

/** graphql-ws close codes: 4403 asks the client to refresh its token and reconnect; 4401 tells it to stop. */
export const CloseCode = {
  /** the access token expired, or the principal's permissions changed: reconnect with fresh credentials */
  Reauthenticate: 4403,
  /** the credentials were revoked (logout, key revocation, deactivation): do not retry */
  Revoked: 4401,
} as const;

export interface SocketLike {
  close(code: number, reason: string): void;
}

/** Whether a revocation applies to a principal: same tenant, and the key, the sign-in or the user it names. */
export function isRevokedBy(principal: Principal, event: PrincipalRevokedEvent): boolean {
  if (principal.tenantId !== event.tenantId) return false;
  if (event.apiKeyId) return principal.apiKeyId === event.apiKeyId;
  if (event.sessionFamilyId) return principal.sessionFamilyId === event.sessionFamilyId;
  if (event.userId) return principal.userId === event.userId;
  return false;
}

export const closeCodeFor = (event: PrincipalRevokedEvent) => (event.reason === 'role_changed' ? CloseCode.Reauthenticate : CloseCode.Revoked);

// setTimeout holds at most 2^31-1 ms (about 24.8 days); a longer wait is re-armed.
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The signed-in sockets of this instance: each is closed with 4403 when its access token expires,
 * and with 4401 when a revocation (published by any instance) names its principal.
 */
export class ConnectionRegistry {
  private readonly sockets = new Map<SocketLike, { principal: Principal; timer: NodeJS.Timeout | undefined }>();
  private readonly socketPrincipals = new WeakSet<Principal>();

  constructor(private readonly log: Logger) {}

  get size(): number {
    return this.sockets.size;
  }

  /** Tracks a socket from its accepted connection; returns what to call when it closes. */
  open(principal: Principal, socket: SocketLike): () => void {
    const entry = { principal, timer: undefined as NodeJS.Timeout | undefined };
    this.sockets.set(socket, entry);
    this.socketPrincipals.add(principal);
    const expiresAt = principal.expiresAt?.getTime();
    if (expiresAt !== undefined) {
      const arm = () => {
        const wait = expiresAt - Date.now();
        if (wait <= 0) {
          this.close(socket, CloseCode.Reauthenticate, 'Access token expired');
          return;
        }
        entry.timer = setTimeout(arm, Math.min(wait, MAX_TIMER_MS));
        entry.timer.unref();
      };
      arm();
    }
    return () => this.forget(socket);
  }

  /** Whether a socket of this instance carries this principal (it then handles expiry and revocation itself). */
  ownsPrincipal(principal: Principal): boolean {
    return this.socketPrincipals.has(principal);
  }

  /** Closes this instance's sockets the revocation names; returns how many. */
  revoke(event: PrincipalRevokedEvent): number {
    let closed = 0;
    for (const [socket, { principal }] of [...this.sockets]) {
      if (!isRevokedBy(principal, event)) continue;
      this.close(socket, closeCodeFor(event), event.reason === 'role_changed' ? 'Permissions changed' : 'Credentials revoked');
      closed += 1;
    }
    if (closed > 0) this.log.info('sockets closed on revocation', { reason: event.reason, sockets: closed });
    return closed;
  }

  private close(socket: SocketLike, code: number, reason: string): void {
    this.forget(socket);
    try {
      socket.close(code, reason);
    } catch (error) {
      this.log.debug('socket close failed', { error: (error as Error).message });
    }
  }

  private forget(socket: SocketLike): void {
    const entry = this.sockets.get(socket);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.sockets.delete(socket);
  }
}

/** What identity services call after they revoke credentials; every instance then closes the matching sockets. */
export type AnnounceRevocation = (event: Omit<PrincipalRevokedEvent, 'at'>) => Promise<void>;

export function revocationAnnouncer(pubsub: PubSub, log: Logger): AnnounceRevocation {
  return async (event) => {
    await pubsub
      .publish(Topic.PrincipalRevoked, { ...event, at: new Date().toISOString() })
      .catch((error: unknown) => log.warn('revocation not published', { reason: String(error) }));
  };
}
