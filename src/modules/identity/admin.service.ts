import type { PrismaClient } from '../../generated/prisma/client.js';
import type { PrincipalRevokedEvent } from '../../infra/topics.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../shared/errors.js';
import { isUniqueViolation } from '../shared/prisma-errors.js';
import { hashPassword } from './password.js';
import type { Principal } from './principal.js';
import { SECURITY_EVENT, type ClientInfo, type SecurityLog } from './security-log.js';
import { parseCreateTenant, parseCreateUser, parseEnvironmentName, parseUpdateTenant, parseUpdateUser } from './identity.validation.js';

/** Tenants, environments and users: administration within a tenant, and across tenants for the platform's admins. */
export class IdentityAdminService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly system: PrismaClient,
    private readonly securityLog: SecurityLog,
    /** Tells every instance to close the sockets of a user who lost access. */
    private readonly announceRevocation: (event: Omit<PrincipalRevokedEvent, 'at'>) => Promise<void> = async () => undefined,
  ) {}

  async isPlatformAdmin(principal: Principal): Promise<boolean> {
    if (principal.role !== 'admin' || principal.kind !== 'user') return false;
    const tenant = await this.system.tenant.findUnique({ where: { id: principal.tenantId }, select: { isPlatform: true } });
    return tenant?.isPlatform === true;
  }

  /** A new tenant with its three environments and its first admin. */
  async createTenant(principal: Principal, rawInput: unknown, client: ClientInfo) {
    if (!(await this.isPlatformAdmin(principal))) throw new ForbiddenError('only administrators of the platform tenant create tenants');
    const input = parseCreateTenant(rawInput);
    const passwordHash = await hashPassword(input.admin.password);
    try {
      const tenant = await this.system.tenant.create({
        data: {
          name: input.name,
          slug: input.slug,
          billingEmail: input.billingEmail ?? null,
          environments: { create: [{ name: 'dev' }, { name: 'staging' }, { name: 'prod' }] },
        },
        include: { environments: { orderBy: { name: 'asc' }, select: { id: true, name: true } } },
      });
      const admin = await this.system.user.create({
        data: {
          tenantId: tenant.id,
          username: input.admin.username,
          email: input.admin.email,
          fullName: input.admin.fullName ?? null,
          role: 'admin',
          credential: { create: { tenantId: tenant.id, passwordHash } },
        },
      });
      await this.securityLog.event({ type: SECURITY_EVENT.UserCreated, tenantId: tenant.id, userId: admin.id, username: admin.username, client, details: { by: principal.userId, role: 'admin' } });
      return { ...tenant, admin: { id: admin.id, username: admin.username, email: admin.email } };
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError('a tenant with this slug, or a user with this username or email, already exists', 'slug');
      throw error;
    }
  }

  async updateTenant(principal: Principal, tenantId: string, rawInput: unknown) {
    const input = parseUpdateTenant(rawInput);
    const platform = await this.isPlatformAdmin(principal);
    if (tenantId !== principal.tenantId && !platform) throw new NotFoundError('Tenant', tenantId);
    if (input.status !== undefined && !platform) throw new ForbiddenError('only administrators of the platform tenant change a tenant status');
    const client = platform ? this.system : this.prisma;
    const existing = await client.tenant.findUnique({ where: { id: tenantId }, select: { id: true } });
    if (!existing) throw new NotFoundError('Tenant', tenantId);
    return client.tenant.update({ where: { id: tenantId }, data: { name: input.name, billingEmail: input.billingEmail, status: input.status } });
  }

  async createEnvironment(principal: Principal, name: unknown) {
    const environmentName = parseEnvironmentName(name);
    try {
      return await this.prisma.environment.create({ data: { tenantId: principal.tenantId, name: environmentName } });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`the tenant already has a ${environmentName} environment`, 'name');
      throw error;
    }
  }

  async createUser(principal: Principal, rawInput: unknown, client: ClientInfo) {
    const input = parseCreateUser(rawInput);
    const passwordHash = input.password ? await hashPassword(input.password) : undefined;
    try {
      const user = await this.prisma.user.create({
        data: {
          tenantId: principal.tenantId,
          username: input.username,
          email: input.email,
          fullName: input.fullName ?? null,
          role: input.role,
          preferences: (input.preferences ?? {}) as object,
          quotaCpuHours: input.quotaCpuHours,
          quotaMemoryGbHours: input.quotaMemoryGbHours,
          quotaStorageGb: input.quotaStorageGb,
        },
      });
      if (passwordHash) await this.system.credential.create({ data: { tenantId: principal.tenantId, userId: user.id, passwordHash } });
      await this.securityLog.event({ type: SECURITY_EVENT.UserCreated, tenantId: principal.tenantId, userId: user.id, username: user.username, client, details: { by: principal.userId, role: input.role } });
      return user;
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError('a user with this username or email already exists', 'username');
      throw error;
    }
  }

  async updateUser(principal: Principal, userId: string, rawInput: unknown, client: ClientInfo) {
    const input = parseUpdateUser(rawInput);
    const user = await this.prisma.user.findFirst({ where: { id: userId, tenantId: principal.tenantId } });
    if (!user) throw new NotFoundError('User', userId);
    if (userId === principal.userId && (input.role !== undefined && input.role !== 'admin' || (input.status !== undefined && input.status !== 'active'))) {
      throw new ForbiddenError('administrators cannot demote or deactivate themselves');
    }
    const updated = await this.prisma.user.update({
      where: { id: userId },
      data: {
        fullName: input.fullName,
        role: input.role,
        status: input.status,
        preferences: input.preferences as object | undefined,
        quotaCpuHours: input.quotaCpuHours,
        quotaMemoryGbHours: input.quotaMemoryGbHours,
        quotaStorageGb: input.quotaStorageGb,
      },
    });
    if (input.role !== undefined && input.role !== user.role) {
      await this.securityLog.event({ type: SECURITY_EVENT.RoleChanged, tenantId: principal.tenantId, userId, username: user.username, client, details: { by: principal.userId, from: user.role, to: input.role } });
    }
    if (input.status !== undefined && input.status !== user.status) {
      await this.securityLog.event({ type: SECURITY_EVENT.UserStatusChanged, tenantId: principal.tenantId, userId, username: user.username, client, details: { by: principal.userId, from: user.status, to: input.status } });
    }
    if (updated.status !== 'active' && user.status === 'active') {
      await this.announceRevocation({ tenantId: principal.tenantId, reason: 'user_deactivated', userId });
    } else if (updated.role !== user.role) {
      await this.announceRevocation({ tenantId: principal.tenantId, reason: 'role_changed', userId });
    }
    return updated;
  }
}
