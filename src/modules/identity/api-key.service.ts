import type { Prisma, PrismaClient } from '../../generated/prisma/client.js';
import type { PrincipalRevokedEvent } from '../../infra/topics.js';
import { NotFoundError, ValidationError } from '../shared/errors.js';
import { parseCreateApiKey } from './identity.validation.js';
import type { Principal } from './principal.js';
import { hashSecret, newApiKey } from './secrets.js';
import { SECURITY_EVENT, type ClientInfo, type SecurityLog } from './security-log.js';

/** API keys for automation: created within the caller's tenant, shown once, stored as a hash. */
export class ApiKeyService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly securityLog: SecurityLog,
    /** Tells every instance to close the sockets signed in with a revoked key. */
    private readonly announceRevocation: (event: Omit<PrincipalRevokedEvent, 'at'>) => Promise<void> = async () => undefined,
  ) {}

  async create(principal: Principal, rawInput: unknown, client: ClientInfo) {
    const input = parseCreateApiKey(rawInput);
    const beyond = input.scopes.filter((scope) => !principal.permissions.has(scope));
    if (beyond.length > 0) throw new ValidationError([{ path: 'scopes', message: `exceed your own permissions: ${beyond.join(', ')}` }]);
    const environment = await this.prisma.environment.findFirst({ where: { id: input.environmentId, tenantId: principal.tenantId }, select: { id: true } });
    if (!environment) throw new NotFoundError('Environment', input.environmentId);
    const { key, prefix } = newApiKey();
    const apiKey = await this.prisma.apiKey.create({
      data: {
        tenantId: principal.tenantId,
        environmentId: environment.id,
        createdById: principal.userId,
        name: input.name,
        keyPrefix: prefix,
        keyHash: hashSecret(key),
        scopes: input.scopes,
        rateLimitPerMinute: input.rateLimitPerMinute,
        expiresAt: input.expiresAt ?? null,
      },
    });
    await this.securityLog.event({ type: SECURITY_EVENT.ApiKeyCreated, tenantId: principal.tenantId, userId: principal.userId, client, details: { apiKeyId: apiKey.id, prefix, scopes: input.scopes } });
    return { apiKey, secret: key };
  }

  /** The keys a principal sees and may revoke: the tenant's for administrators, their own for everyone else. */
  visibleTo(principal: Principal): Prisma.ApiKeyWhereInput {
    if (principal.role === 'admin') return { tenantId: principal.tenantId };
    // A principal without a user (its creator was deleted) owns no keys.
    return principal.userId ? { tenantId: principal.tenantId, createdById: principal.userId } : { tenantId: principal.tenantId, id: { in: [] } };
  }

  async revoke(principal: Principal, apiKeyId: string, client: ClientInfo) {
    const apiKey = await this.prisma.apiKey.findFirst({ where: { AND: [this.visibleTo(principal), { id: apiKeyId }] } });
    if (!apiKey) throw new NotFoundError('ApiKey', apiKeyId);
    const revoked =
      apiKey.status === 'revoked'
        ? apiKey
        : await this.prisma.apiKey.update({ where: { id: apiKey.id }, data: { status: 'revoked', revokedAt: new Date() } });
    await this.securityLog.event({ type: SECURITY_EVENT.ApiKeyRevoked, tenantId: principal.tenantId, userId: principal.userId, client, details: { apiKeyId } });
    await this.announceRevocation({ tenantId: principal.tenantId, reason: 'api_key_revoked', apiKeyId });
    return revoked;
  }
}
