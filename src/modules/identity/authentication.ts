import type { PrismaClient } from '../../generated/prisma/client.js';
import { apiKeyPrincipal, userPrincipal, type Principal } from './principal.js';
import type { Role } from './permissions.js';
import { hashSecret, parseApiKey, sameHash } from './secrets.js';
import { InvalidCredentialError, type TokenService } from './tokens.js';

export interface Credentials {
  authorization?: string | null;
  apiKey?: string | null;
}

const LAST_USED_WRITE_INTERVAL_MS = 60_000;
const USER_CHECK_CACHE_MS = 5_000;

/** Turns the credentials of a request or socket into a principal, or refuses them. */
export class Authenticator {
  private readonly recentUsers = new Map<string, { active: boolean; checkedAt: number }>();

  constructor(
    private readonly system: PrismaClient,
    private readonly tokens: TokenService,
  ) {}

  /** null for a caller that sent no credentials; InvalidCredentialError for bad ones. */
  async authenticate(credentials: Credentials): Promise<Principal | null> {
    const authorization = credentials.authorization?.trim();
    if (credentials.apiKey) return this.byApiKey(credentials.apiKey.trim());
    if (!authorization) return null;
    const [scheme, value] = authorization.split(/\s+/, 2);
    if (scheme?.toLowerCase() === 'bearer' && value) return this.byAccessToken(value);
    if (scheme?.toLowerCase() === 'apikey' && value) return this.byApiKey(value);
    throw new InvalidCredentialError('unsupported authorization scheme');
  }

  /** Forgets cached checks so a logout or suspension takes effect at once. */
  forgetUser(userId: string): void {
    for (const key of this.recentUsers.keys()) if (key.startsWith(`${userId}:`)) this.recentUsers.delete(key);
  }

  private async byAccessToken(token: string): Promise<Principal> {
    const claims = await this.tokens.verifyAccessToken(token);
    if (!(await this.userSessionIsLive(claims.userId, claims.sessionFamilyId))) {
      throw new InvalidCredentialError('user inactive or signed out');
    }
    return userPrincipal({ ...claims });
  }

  private async userSessionIsLive(userId: string, familyId: string | null): Promise<boolean> {
    const cacheKey = `${userId}:${familyId ?? ''}`;
    const cached = this.recentUsers.get(cacheKey);
    if (cached && Date.now() - cached.checkedAt < USER_CHECK_CACHE_MS) return cached.active;
    const user = await this.system.user.findUnique({ where: { id: userId }, select: { status: true } });
    let active = user?.status === 'active';
    if (active && familyId) {
      const live = await this.system.userSession.count({ where: { familyId, revokedAt: null, expiresAt: { gt: new Date() } } });
      active = live > 0;
    }
    this.recentUsers.set(cacheKey, { active, checkedAt: Date.now() });
    return active;
  }

  private async byApiKey(key: string): Promise<Principal> {
    const parsed = parseApiKey(key);
    if (!parsed) throw new InvalidCredentialError('malformed API key');
    const row = await this.system.apiKey.findUnique({
      where: { keyPrefix: parsed.prefix },
      include: { createdBy: { select: { role: true, status: true } } },
    });
    if (!row || !sameHash(row.keyHash, hashSecret(key))) throw new InvalidCredentialError('unknown API key');
    if (row.status !== 'active' || (row.expiresAt && row.expiresAt <= new Date())) throw new InvalidCredentialError('API key revoked or expired');
    if (row.createdBy && row.createdBy.status !== 'active') throw new InvalidCredentialError('API key owner inactive');
    if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > LAST_USED_WRITE_INTERVAL_MS) {
      // Coalesced: at most one write a minute per key, never on the request's critical path.
      void this.system.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch(() => undefined);
    }
    return apiKeyPrincipal({
      tenantId: row.tenantId,
      apiKeyId: row.id,
      environmentId: row.environmentId,
      creatorId: row.createdById,
      creatorRole: (row.createdBy?.role ?? 'readonly') as Role,
      scopes: row.scopes,
    });
  }
}
