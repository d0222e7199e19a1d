import { randomUUID } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type { AuthConfig } from '../../config.js';
import type { PrismaClient } from '../../generated/prisma/client.js';
import type { PrincipalRevokedEvent } from '../../infra/topics.js';
import { InvalidCredentialError, TotpRequiredError, ValidationError } from '../shared/errors.js';
import type { RateLimiter } from './rate-limit.js';
import type { Authenticator } from './authentication.js';
import { decoyPasswordHash, hashPassword, verifyPassword } from './password.js';
import type { Role } from './permissions.js';
import type { Principal } from './principal.js';
import { hashSecret, randomToken } from './secrets.js';
import { SECURITY_EVENT, type ClientInfo, type SecurityLog } from './security-log.js';
import { parseChangePassword, parseLogin, parseResetPassword } from './identity.validation.js';
import type { TokenService } from './tokens.js';
import type { SecretBox } from '../../infra/secret-box.js';

export interface TokenPair {
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
}

const TOTP_ISSUER = 'Omega Control Plane';
const totpFor = (secret: string, label: string) => new TOTP({ issuer: TOTP_ISSUER, label, secret: Secret.fromBase32(secret), digits: 6, period: 30 });

/** Sign-in, token rotation, sign-out, passwords and TOTP: everything that proves who a user is. */
export class SignInSessionService {
  constructor(
    private readonly system: PrismaClient,
    private readonly tokens: TokenService,
    private readonly authenticator: Authenticator,
    private readonly securityLog: SecurityLog,
    private readonly config: AuthConfig,
    /** Tells every instance to close the sockets of a sign-in that ended. */
    private readonly announceRevocation: (event: Omit<PrincipalRevokedEvent, 'at'>) => Promise<void> = async () => undefined,
    /** TOTP secrets are kept sealed: codes are checked against the secret itself, so it must be recoverable. */
    private readonly totpSecrets: SecretBox,
    /** Throttles failed sign-ins per client address and remembers used TOTP codes; none in service-level tests. */
    private readonly signInGuard?: Pick<RateLimiter, 'admitSignIn' | 'countSignInFailure' | 'firstUseOfTotp'>,
  ) {}

  async login(rawInput: unknown, client: ClientInfo): Promise<TokenPair> {
    const input = parseLogin(rawInput);
    await this.signInGuard?.admitSignIn(client.ip);
    const user = await this.system.user.findFirst({
      where: { OR: [{ email: input.login.toLowerCase() }, { username: input.login }] },
      include: { credential: true },
    });
    const refuse = async (reason: string, error: InvalidCredentialError = new InvalidCredentialError(reason)): Promise<never> => {
      await this.securityLog.loginAttempt({ tenantId: user?.tenantId ?? null, userId: user?.id ?? null, username: input.login, success: false, failureReason: reason, client });
      await this.securityLog.event({ type: SECURITY_EVENT.LoginFailed, tenantId: user?.tenantId ?? null, userId: user?.id ?? null, username: input.login, client, details: { reason } });
      if (reason !== 'totp_required') await this.signInGuard?.countSignInFailure(client.ip);
      throw error;
    };

    if (!user?.credential || user.status !== 'active') {
      await verifyPassword(await decoyPasswordHash(), input.password);
      return refuse(user ? 'user_inactive' : 'unknown_user');
    }
    const credential = user.credential;
    if (credential.accountLockedUntil && credential.accountLockedUntil > new Date()) {
      await verifyPassword(await decoyPasswordHash(), input.password);
      return refuse('locked');
    }
    if (!(await verifyPassword(credential.passwordHash, input.password))) {
      await this.countFailure(user.id, user.tenantId, user.username, client);
      return refuse('bad_password');
    }
    if (credential.totpEnabled) {
      if (!input.totp) return refuse('totp_required', new TotpRequiredError('totp required'));
      if (!credential.totpSecret || totpFor(this.totpSecrets.open(credential.totpSecret), user.username).validate({ token: input.totp, window: 1 }) === null) {
        await this.countFailure(user.id, user.tenantId, user.username, client);
        return refuse('bad_totp', new TotpRequiredError('totp rejected'));
      }
      if (this.signInGuard && !(await this.signInGuard.firstUseOfTotp(user.id, input.totp))) {
        return refuse('totp_reused', new TotpRequiredError('totp already used'));
      }
    }

    await this.system.credential.update({ where: { userId: user.id }, data: { failedLoginAttempts: 0, accountLocked: false, accountLockedUntil: null } });
    await this.system.user.update({ where: { id: user.id }, data: { lastLogin: new Date(), lastActive: new Date() } });
    await this.securityLog.loginAttempt({ tenantId: user.tenantId, userId: user.id, username: input.login, success: true, client });
    await this.securityLog.event({ type: SECURITY_EVENT.LoginSucceeded, tenantId: user.tenantId, userId: user.id, username: user.username, client });
    return this.startSession({ userId: user.id, tenantId: user.tenantId, role: user.role as Role }, randomUUID(), client);
  }

  /** Rotates a refresh token; presenting one that was already rotated revokes its whole family. */
  async refresh(refreshToken: string, client: ClientInfo): Promise<TokenPair> {
    const row = await this.system.userSession.findUnique({
      where: { refreshTokenHash: hashSecret(refreshToken) },
      include: { user: { select: { id: true, tenantId: true, role: true, status: true, username: true } } },
    });
    if (!row) throw new InvalidCredentialError('unknown refresh token');
    if (row.revokedAt || row.replacedById) {
      await this.revokeFamily(row.familyId);
      await this.securityLog.event({ type: SECURITY_EVENT.RefreshTokenReused, tenantId: row.tenantId, userId: row.userId, username: row.user.username, client, details: { familyId: row.familyId } });
      throw new InvalidCredentialError('refresh token reused');
    }
    if (row.expiresAt <= new Date() || row.user.status !== 'active') throw new InvalidCredentialError('refresh token expired');

    const nextId = randomUUID();
    // Conditional on the row still being current, so two concurrent refreshes cannot both win.
    const rotated = await this.system.userSession.updateMany({
      where: { id: row.id, revokedAt: null, replacedById: null },
      data: { revokedAt: new Date(), replacedById: nextId, lastUsedAt: new Date() },
    });
    if (rotated.count !== 1) {
      await this.revokeFamily(row.familyId);
      throw new InvalidCredentialError('refresh token reused');
    }
    return this.startSession({ userId: row.userId, tenantId: row.tenantId, role: row.user.role as Role }, row.familyId, client, nextId);
  }

  /** Ends the caller's sign-in: its refresh-token family is revoked and its access token stops working. */
  async logout(principal: Principal, refreshToken: string | undefined, client: ClientInfo): Promise<void> {
    const families = new Set<string>();
    if (principal.sessionFamilyId) families.add(principal.sessionFamilyId);
    if (refreshToken) {
      const row = await this.system.userSession.findUnique({ where: { refreshTokenHash: hashSecret(refreshToken) }, select: { familyId: true, userId: true } });
      if (row && row.userId === principal.userId) families.add(row.familyId);
    }
    for (const familyId of families) await this.revokeFamily(familyId);
    if (principal.userId) this.authenticator.forgetUser(principal.userId);
    for (const familyId of families) await this.announceRevocation({ tenantId: principal.tenantId, reason: 'logout', sessionFamilyId: familyId });
    await this.securityLog.event({ type: SECURITY_EVENT.Logout, tenantId: principal.tenantId, userId: principal.userId, client });
  }

  async changePassword(principal: Principal, rawInput: unknown, client: ClientInfo): Promise<void> {
    const input = parseChangePassword(rawInput);
    const userId = principal.userId!;
    const credential = await this.system.credential.findUnique({ where: { userId } });
    if (!credential || !(await verifyPassword(credential.passwordHash, input.currentPassword))) {
      throw new ValidationError([{ path: 'currentPassword', message: 'is not the current password' }]);
    }
    await this.replacePassword(userId, principal.tenantId, credential.passwordHash, input.newPassword);
    // Every other sign-in ends; the caller keeps the access token it holds until it expires.
    await this.system.userSession.updateMany({ where: { userId, revokedAt: null, NOT: { familyId: principal.sessionFamilyId ?? undefined } }, data: { revokedAt: new Date() } });
    this.authenticator.forgetUser(userId);
    await this.securityLog.event({ type: SECURITY_EVENT.PasswordChanged, tenantId: principal.tenantId, userId, client });
  }

  /** A single-use reset token for a user of the admin's tenant, shown once; only its hash is kept. */
  async issuePasswordReset(admin: Principal, userId: string, client: ClientInfo): Promise<{ token: string; expiresAt: Date } | null> {
    const user = await this.system.user.findFirst({ where: { id: userId, tenantId: admin.tenantId }, select: { id: true } });
    if (!user) return null;
    const token = randomToken(32);
    const expiresAt = new Date(Date.now() + this.config.passwordResetTtlMinutes * 60_000);
    await this.system.credential.upsert({
      where: { userId },
      create: { userId, tenantId: admin.tenantId, passwordHash: await hashPassword(randomToken(32)), passwordResetTokenHash: hashSecret(token), passwordResetExpiresAt: expiresAt },
      update: { passwordResetTokenHash: hashSecret(token), passwordResetExpiresAt: expiresAt },
    });
    await this.securityLog.event({ type: SECURITY_EVENT.PasswordResetRequested, tenantId: admin.tenantId, userId, client, details: { by: admin.userId } });
    return { token, expiresAt };
  }

  async resetPassword(rawInput: unknown, client: ClientInfo): Promise<void> {
    const input = parseResetPassword(rawInput);
    const tokenHash = hashSecret(input.token);
    const credential = await this.system.credential.findUnique({ where: { passwordResetTokenHash: tokenHash } });
    if (!credential || !credential.passwordResetExpiresAt || credential.passwordResetExpiresAt <= new Date()) {
      throw new InvalidCredentialError('reset token unknown or expired');
    }
    // Consumed first and conditionally, so the token works once even under concurrent use.
    const consumed = await this.system.credential.updateMany({
      where: { userId: credential.userId, passwordResetTokenHash: tokenHash },
      data: { passwordResetTokenHash: null, passwordResetExpiresAt: null },
    });
    if (consumed.count !== 1) throw new InvalidCredentialError('reset token already used');
    await this.replacePassword(credential.userId, credential.tenantId, credential.passwordHash, input.newPassword);
    await this.system.credential.update({ where: { userId: credential.userId }, data: { failedLoginAttempts: 0, accountLocked: false, accountLockedUntil: null } });
    await this.system.userSession.updateMany({ where: { userId: credential.userId, revokedAt: null }, data: { revokedAt: new Date() } });
    this.authenticator.forgetUser(credential.userId);
    await this.securityLog.event({ type: SECURITY_EVENT.PasswordReset, tenantId: credential.tenantId, userId: credential.userId, client });
  }

  /** Starts TOTP enrolment: the secret is returned once, and takes effect after confirmTotp. */
  async enrollTotp(principal: Principal): Promise<{ secret: string; uri: string }> {
    const user = await this.system.user.findUniqueOrThrow({ where: { id: principal.userId! }, select: { username: true } });
    const secret = new Secret({ size: 20 }).base32;
    await this.system.credential.update({ where: { userId: principal.userId! }, data: { totpSecret: this.totpSecrets.seal(secret), totpEnabled: false } });
    return { secret, uri: totpFor(secret, user.username).toString() };
  }

  async confirmTotp(principal: Principal, code: string, client: ClientInfo): Promise<void> {
    const credential = await this.system.credential.findUnique({ where: { userId: principal.userId! }, include: { user: { select: { username: true } } } });
    if (!credential?.totpSecret || totpFor(this.totpSecrets.open(credential.totpSecret), credential.user.username).validate({ token: code, window: 1 }) === null) {
      throw new ValidationError([{ path: 'code', message: 'is not the current code of the enrolled authenticator' }]);
    }
    await this.system.credential.update({ where: { userId: principal.userId! }, data: { totpEnabled: true } });
    await this.securityLog.event({ type: SECURITY_EVENT.TotpEnabled, tenantId: principal.tenantId, userId: principal.userId, client });
  }

  private async startSession(user: { userId: string; tenantId: string; role: Role }, familyId: string, client: ClientInfo, id: string = randomUUID()): Promise<TokenPair> {
    const refreshToken = randomToken(32);
    const refreshTokenExpiresAt = new Date(Date.now() + this.config.refreshTokenTtlSeconds * 1000);
    await this.system.userSession.create({
      data: {
        id,
        tenantId: user.tenantId,
        userId: user.userId,
        refreshTokenHash: hashSecret(refreshToken),
        familyId,
        expiresAt: refreshTokenExpiresAt,
        clientIp: client.ip.startsWith('::ffff:') ? client.ip.slice(7) : /^[0-9a-fA-F:.]+$/.test(client.ip) ? client.ip : null,
        userAgent: client.userAgent?.slice(0, 1000) ?? null,
      },
    });
    const access = await this.tokens.issueAccessToken({ ...user, sessionFamilyId: familyId });
    return { accessToken: access.token, accessTokenExpiresAt: access.expiresAt, refreshToken, refreshTokenExpiresAt };
  }

  private async revokeFamily(familyId: string): Promise<void> {
    const rows = await this.system.userSession.findMany({ where: { familyId }, select: { userId: true }, take: 1 });
    await this.system.userSession.updateMany({ where: { familyId, revokedAt: null }, data: { revokedAt: new Date() } });
    if (rows[0]) this.authenticator.forgetUser(rows[0].userId);
  }

  private async countFailure(userId: string, tenantId: string, username: string, client: ClientInfo): Promise<void> {
    const updated = await this.system.credential.update({ where: { userId }, data: { failedLoginAttempts: { increment: 1 } } });
    if (updated.failedLoginAttempts >= this.config.lockoutThreshold) {
      const until = new Date(Date.now() + this.config.lockoutMinutes * 60_000);
      await this.system.credential.update({ where: { userId }, data: { accountLocked: true, accountLockedUntil: until, failedLoginAttempts: 0 } });
      await this.securityLog.event({ type: SECURITY_EVENT.AccountLocked, tenantId, userId, username, client, details: { until: until.toISOString() } });
    }
  }

  private async replacePassword(userId: string, tenantId: string, currentHash: string, newPassword: string): Promise<void> {
    const history = await this.system.passwordHistory.findMany({ where: { userId }, orderBy: { changedAt: 'desc' }, take: Math.max(this.config.passwordHistoryDepth - 1, 0) });
    const recent = this.config.passwordHistoryDepth > 0 ? [currentHash, ...history.map((entry) => entry.passwordHash)] : [];
    for (const previous of recent) {
      if (await verifyPassword(previous, newPassword)) {
        throw new ValidationError([{ path: 'newPassword', message: `must differ from the last ${this.config.passwordHistoryDepth} passwords` }]);
      }
    }
    const passwordHash = await hashPassword(newPassword);
    await this.system.$transaction([
      this.system.passwordHistory.create({ data: { userId, tenantId, passwordHash: currentHash } }),
      this.system.credential.update({ where: { userId }, data: { passwordHash, lastPasswordChange: new Date() } }),
    ]);
  }
}
