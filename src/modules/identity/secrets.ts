import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Tokens and keys are random and long, so a fast hash is enough to store them; passwords use argon2id. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

const API_KEY = /^omk_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

/** An API key reads omk_<12-character public prefix>_<secret>; only the prefix is ever shown again. */
export function newApiKey(): { key: string; prefix: string } {
  const prefix = randomBytes(9).toString('base64url').replace(/[-_]/g, 'x').slice(0, 12);
  return { key: `omk_${prefix}_${randomToken(32)}`, prefix };
}

export function parseApiKey(key: string): { prefix: string } | null {
  const match = API_KEY.exec(key);
  return match ? { prefix: match[1]! } : null;
}
