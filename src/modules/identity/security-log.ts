import type { PrismaClient } from '../../generated/prisma/client.js';

export const SECURITY_EVENT = {
  LoginSucceeded: 'login_success',
  LoginFailed: 'login_failure',
  AccountLocked: 'account_locked',
  RefreshTokenReused: 'refresh_token_reused',
  Logout: 'logout',
  PasswordChanged: 'password_changed',
  PasswordResetRequested: 'password_reset_requested',
  PasswordReset: 'password_reset',
  TotpEnabled: 'totp_enabled',
  TotpDisabled: 'totp_disabled',
  ApiKeyCreated: 'api_key_created',
  ApiKeyRevoked: 'api_key_revoked',
  RoleChanged: 'role_changed',
  UserCreated: 'user_created',
  UserStatusChanged: 'user_status_changed',
} as const;
export type SecurityEventType = (typeof SECURITY_EVENT)[keyof typeof SECURITY_EVENT];

export interface ClientInfo {
  ip: string;
  userAgent: string | null;
}

/** Normalises what the socket reports into something the INET column accepts. */
function inet(ip: string): string {
  const unwrapped = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return /^[0-9a-fA-F:.]+$/.test(unwrapped) ? unwrapped : '0.0.0.0';
}

/** Writes the security schema's audit rows. Details never carry passwords, tokens or keys. */
export class SecurityLog {
  constructor(private readonly system: PrismaClient) {}

  async loginAttempt(input: { tenantId: string | null; userId: string | null; username: string; success: boolean; failureReason?: string; client: ClientInfo }) {
    await this.system.loginAttempt.create({
      data: {
        tenantId: input.tenantId,
        userId: input.userId,
        username: input.username.slice(0, 255),
        ipAddress: inet(input.client.ip),
        userAgent: input.client.userAgent?.slice(0, 1000) ?? null,
        success: input.success,
        failureReason: input.failureReason ?? null,
      },
    });
  }

  async event(input: {
    type: SecurityEventType;
    tenantId: string | null;
    userId: string | null;
    username?: string | null;
    client?: ClientInfo;
    details?: Record<string, unknown>;
  }) {
    await this.system.securityEvent.create({
      data: {
        eventType: input.type,
        tenantId: input.tenantId,
        userId: input.userId,
        username: input.username ?? null,
        ipAddress: input.client ? inet(input.client.ip) : null,
        userAgent: input.client?.userAgent?.slice(0, 1000) ?? null,
        details: (input.details ?? {}) as object,
      },
    });
  }
}
