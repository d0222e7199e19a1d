import type { PrismaClient } from '../../generated/prisma/client.js';
import { apiKeyPrincipal, userPrincipal, type Principal } from './principal.js';
import type { Role } from './permissions.js';
import { hashSecret, parseApiKey, sameHash } from './secrets.js';
import { InvalidCredentialError } from '../shared/errors.js';
import type { TokenService } from './tokens.js';

export interface Credentials {
  authorization?: string | null;
  apiKey?: string | null;
}

const LAST_USED_WRITE_INTERVAL_MS = 60_000;
const USER_CHECK_CACHE_MS = 5_000;

/** What the database said of a user and one of their sign-ins, kept a few seconds. */
interface UserRecord {
  status: string;
  role: Role;
  tenantId: string;
  /** The token's sign-in family is still open (true for tokens without one). */
  familyOpen: boolean;
  checkedAt: number;
}

/** Turns the credentials of a request or socket into a principal, or refuses them. */
export class Authenticator {
  private readonly recentUsers = new Map<string, UserRecord>();

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

  /** Forgets what a revocation (of this instance or another) made stale: a user's records, or one sign-in family's. */
  forget(revoked: { userId?: string | null; sessionFamilyId?: string | null }): void {
    if (revoked.userId) this.forgetUser(revoked.userId);
    if (revoked.sessionFamilyId) for (const key of this.recentUsers.keys()) if (key.endsWith(`:${revoked.sessionFamilyId}`)) this.recentUsers.delete(key);
  }

  private async byAccessToken(token: string): Promise<Principal> {
    const claims = await this.tokens.verifyAccessToken(token);
    const live = await this.liveUser(claims.userId, claims.tenantId, claims.sessionFamilyId);
    if (!live) throw new InvalidCredentialError('user inactive, moved or signed out');
    // The role is the user's current one, so a demotion takes effect before the token expires.
    return userPrincipal({ ...claims, role: live.role });
  }

  /**
   * The user's current role while the user is active, in the token's tenant, and still signed in.
   * The token's claims are compared with the record on every request, cached or not.
   */
  private async liveUser(userId: string, tenantId: string, familyId: string | null): Promise<{ role: Role } | null> {
    const record = await this.userRecord(userId, familyId);
    if (!record || record.status !== 'active' || record.tenantId !== tenantId || !record.familyOpen) return null;
    return { role: record.role };
  }

  private async userRecord(userId: string, familyId: string | null): Promise<UserRecord | null> {
    const cacheKey = `${userId}:${familyId ?? ''}`;
    const cached = this.recentUsers.get(cacheKey);
    if (cached && Date.now() - cached.checkedAt < USER_CHECK_CACHE_MS) return cached;
    const user = await this.system.user.findUnique({ where: { id: userId }, select: { status: true, role: true, tenantId: true } });
    if (!user) return null;
    const familyOpen = familyId ? (await this.system.userSession.count({ where: { familyId, userId, revokedAt: null, expiresAt: { gt: new Date() } } })) > 0 : true;
    const record: UserRecord = { status: user.status, role: user.role as Role, tenantId: user.tenantId, familyOpen, checkedAt: Date.now() };
    this.recentUsers.set(cacheKey, record);
    return record;
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
      rateLimitPerMinute: row.rateLimitPerMinute,
    });
  }
}
