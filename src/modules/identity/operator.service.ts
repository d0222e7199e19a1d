import type { PrismaClient } from '../../generated/prisma/client.js';
import { ConflictError, NotFoundError } from '../shared/errors.js';
import { isUniqueViolation } from '../shared/prisma-errors.js';
import type { ApiKeyService } from './api-key.service.js';
import { parseCreateUser, parseOperatorTenant } from './identity.validation.js';
import { hashPassword } from './password.js';
import { PERMISSIONS } from './permissions.js';
import { userPrincipal } from './principal.js';
import { SECURITY_EVENT, type ClientInfo, type SecurityLog } from './security-log.js';

/** Commands of whoever runs the deployment (the operator CLI, the first start): no principal, the owner's connection. */
export class OperatorService {
  private readonly client: ClientInfo = { ip: 'operator', userAgent: 'omega-cli' };

  constructor(
    private readonly system: PrismaClient,
    private readonly securityLog: SecurityLog,
    private readonly apiKeys: ApiKeyService,
  ) {}

  /** A tenant with its three environments; `platform` makes its admins administrators of every tenant. */
  async createTenant(rawInput: { name: string; slug: string }, options: { platform?: boolean } = {}) {
    const input = parseOperatorTenant(rawInput);
    try {
      return await this.system.tenant.create({
        data: { name: input.name, slug: input.slug, isPlatform: options.platform ?? false, environments: { create: [{ name: 'dev' }, { name: 'staging' }, { name: 'prod' }] } },
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`a tenant with slug ${input.slug} already exists`, 'slug');
      throw error;
    }
  }

  /** An admin of the tenant with this slug, signing in with the password. */
  async createAdmin(input: { tenantSlug: string; email: string; username?: string; password: string }) {
    const tenant = await this.system.tenant.findUnique({ where: { slug: input.tenantSlug }, select: { id: true } });
    if (!tenant) throw new NotFoundError('Tenant', input.tenantSlug);
    const user = parseCreateUser({ username: input.username ?? input.email.split('@')[0], email: input.email, role: 'admin', password: input.password });
    const passwordHash = await hashPassword(input.password);
    try {
      const admin = await this.system.user.create({
        data: { tenantId: tenant.id, username: user.username, email: user.email, role: 'admin', credential: { create: { tenantId: tenant.id, passwordHash } } },
        select: { id: true, username: true, email: true, tenantId: true },
      });
      await this.securityLog.event({ type: SECURITY_EVENT.UserCreated, tenantId: tenant.id, userId: admin.id, username: admin.username, client: this.client, details: { by: 'operator', role: 'admin' } });
      return admin;
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError('a user with this username or email already exists', 'email');
      throw error;
    }
  }

  /** An API key of the user with this email, with the given scopes (default: all the user's permissions); the secret is returned once. */
  async createApiKey(input: { email: string; name: string; environment?: string; scopes?: string[] }) {
    const user = await this.system.user.findFirst({ where: { email: input.email.trim().toLowerCase() }, select: { id: true, tenantId: true, role: true } });
    if (!user) throw new NotFoundError('User', input.email);
    const environment = await this.system.environment.findFirst({ where: { tenantId: user.tenantId, name: input.environment ?? 'prod' }, select: { id: true } });
    if (!environment) throw new NotFoundError('Environment', input.environment ?? 'prod');
    const principal = userPrincipal({ userId: user.id, tenantId: user.tenantId, role: user.role as never, expiresAt: null });
    const scopes = input.scopes ?? PERMISSIONS.filter((permission) => principal.permissions.has(permission));
    return this.apiKeys.create(principal, { name: input.name, environmentId: environment.id, scopes }, this.client);
  }

  /** The first platform admin, when the database has no user at all; false when users exist. */
  async bootstrapAdmin(input: { tenantName: string; email: string; password: string }): Promise<boolean> {
    if ((await this.system.user.count()) > 0) return false;
    const slug = input.tenantName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'operations';
    const tenant = (await this.system.tenant.findUnique({ where: { slug } })) ?? (await this.createTenant({ name: input.tenantName, slug }, { platform: true }));
    await this.createAdmin({ tenantSlug: tenant.slug, email: input.email, password: input.password });
    return true;
  }
}
