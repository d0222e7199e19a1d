import { randomBytes, randomUUID } from 'node:crypto';
import {
  SignJWT,
  createRemoteJWKSet,
  errors as joseErrors,
  importPKCS8,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { AuthConfig } from '../../config.js';
import { ROLES, type Role } from './permissions.js';
import { InvalidCredentialError } from '../shared/errors.js';

export interface AccessClaims {
  userId: string;
  tenantId: string;
  role: Role;
  sessionFamilyId: string | null;
  expiresAt: Date;
}

/** How many verified tokens are remembered; the oldest is forgotten first. */
const VERIFIED_TOKENS_KEPT = 10_000;

/** Issues and verifies access tokens: HS256 with a shared secret, or EdDSA / RS256 key pairs, or a JWKS. */
export class TokenService {
  /**
   * Tokens whose signature and claims were verified, until they expire: a token's text and the keys
   * decide its verification, so it answers the same until then. Who the token's user is now (active,
   * role, signed in) is checked on every request by the authenticator, not here.
   */
  private readonly verified = new Map<string, AccessClaims>();

  private constructor(
    private readonly config: AuthConfig,
    private readonly signingKey: Uint8Array | CryptoKey | undefined,
    private readonly verificationKey: Uint8Array | CryptoKey,
    private readonly jwks: JWTVerifyGetKey | undefined,
  ) {}

  static async create(config: AuthConfig): Promise<TokenService> {
    if (config.jwtAlgorithm === 'HS256') {
      // Without a configured secret tokens only live as long as this process: fine for a laptop.
      const bytes = new TextEncoder().encode(config.jwtSecret ?? randomBytes(48).toString('base64url'));
      // Imported once: given raw bytes, every verification would import the key again.
      const secret = await crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
      return new TokenService(config, secret, secret, config.jwksUrl ? createRemoteJWKSet(new URL(config.jwksUrl)) : undefined);
    }
    const publicKey = await importSPKI(config.jwtPublicKey!, config.jwtAlgorithm);
    const privateKey = config.jwtPrivateKey ? await importPKCS8(config.jwtPrivateKey, config.jwtAlgorithm) : undefined;
    return new TokenService(config, privateKey, publicKey, config.jwksUrl ? createRemoteJWKSet(new URL(config.jwksUrl)) : undefined);
  }

  get accessTokenTtlSeconds(): number {
    return this.config.accessTokenTtlSeconds;
  }

  async issueAccessToken(claims: Omit<AccessClaims, 'expiresAt'>): Promise<{ token: string; expiresAt: Date }> {
    if (!this.signingKey) throw new Error('this instance has no private key to issue tokens (JWT_PRIVATE_KEY)');
    const issuedAt = Math.floor(Date.now() / 1000);
    const expiresAt = new Date((issuedAt + this.config.accessTokenTtlSeconds) * 1000);
    const token = await new SignJWT({ tid: claims.tenantId, role: claims.role, ...(claims.sessionFamilyId ? { sfid: claims.sessionFamilyId } : {}) })
      .setProtectedHeader({ alg: this.config.jwtAlgorithm, typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(this.config.issuer)
      .setAudience(this.config.audience)
      .setIssuedAt(issuedAt)
      .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
      .setJti(randomUUID())
      .sign(this.signingKey);
    return { token, expiresAt };
  }

  /** Verifies signature, algorithm, issuer, audience and expiry; returns the claims the API uses. */
  async verifyAccessToken(token: string): Promise<AccessClaims> {
    const known = this.verified.get(token);
    if (known && known.expiresAt.getTime() > Date.now()) return known;
    if (known) this.verified.delete(token);
    const claims = await this.verifyOnce(token);
    if (this.verified.size >= VERIFIED_TOKENS_KEPT) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, claims);
    return claims;
  }

  private async verifyOnce(token: string): Promise<AccessClaims> {
    const options = { issuer: this.config.issuer, audience: this.config.audience, requiredClaims: ['sub', 'exp'] };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.verificationKey, { ...options, algorithms: [this.config.jwtAlgorithm] }));
    } catch (error) {
      if (!this.jwks || !(error instanceof joseErrors.JWSSignatureVerificationFailed || error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JOSEAlgNotAllowed)) {
        throw new InvalidCredentialError(`access token rejected: ${(error as Error).message}`);
      }
      try {
        ({ payload } = await jwtVerify(token, this.jwks, { ...options, algorithms: ['RS256', 'ES256', 'EdDSA', 'PS256'] }));
      } catch (jwksError) {
        throw new InvalidCredentialError(`access token rejected: ${(jwksError as Error).message}`);
      }
    }
    const role = payload.role;
    if (typeof payload.tid !== 'string' || typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
      throw new InvalidCredentialError('access token lacks tenant or role claims');
    }
    return {
      userId: payload.sub!,
      tenantId: payload.tid,
      role: role as Role,
      sessionFamilyId: typeof payload.sfid === 'string' ? payload.sfid : null,
      expiresAt: new Date(payload.exp! * 1000),
    };
  }
}
