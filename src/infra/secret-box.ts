import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, type EncryptionConfig } from '../config.js';

/** A sealed value reads enc:v1:<key id>:<base64url of IV, tag and ciphertext>; the key id names the key that opens it. */
const PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** The file the embedded default keeps its generated key in, inside its data folder. */
export const EMBEDDED_KEY_FILE = 'encryption.key';

export interface EncryptionKey {
  /** A short fingerprint of the key, stored beside every value sealed with it. */
  id: string;
  key: Buffer;
}

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

/** Reads a key given as base64 (standard or url-safe) of 32 random bytes. */
export function parseEncryptionKey(raw: string, variable = 'ENCRYPTION_KEY'): EncryptionKey {
  // Node's base64 decoder reads the url-safe alphabet too.
  const key = Buffer.from(raw.trim(), 'base64');
  if (key.length !== KEY_BYTES) throw new ConfigError(variable, `must be ${KEY_BYTES} random bytes in base64 (e.g. openssl rand -base64 32), got ${key.length} bytes`);
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 12), key };
}

export const newEncryptionKey = (): string => randomBytes(KEY_BYTES).toString('base64');

/**
 * AES-256-GCM under the current key; values sealed under earlier keys still open while those keys
 * are listed as previous, so keys rotate without downtime.
 */
export class SecretBox {
  private readonly keys: Map<string, Buffer>;

  constructor(
    private readonly current: EncryptionKey,
    previous: EncryptionKey[] = [],
  ) {
    this.keys = new Map([...previous, current].map((entry) => [entry.id, entry.key]));
  }

  static fromConfig(config: EncryptionConfig): SecretBox {
    if (!config.key) throw new ConfigError('ENCRYPTION_KEY', 'is required with DATABASE_URL (32 random bytes in base64, e.g. openssl rand -base64 32)');
    return new SecretBox(
      parseEncryptionKey(config.key),
      config.previousKeys.map((raw) => parseEncryptionKey(raw, 'ENCRYPTION_PREVIOUS_KEYS')),
    );
  }

  get currentKeyId(): string {
    return this.current.id;
  }

  static isSealed(value: string): boolean {
    return value.startsWith(PREFIX);
  }

  /** The id of the key a sealed value needs, or undefined for a value that is not sealed. */
  static keyIdOf(value: string): string | undefined {
    return SecretBox.isSealed(value) ? value.slice(PREFIX.length).split(':')[0] : undefined;
  }

  seal(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${PREFIX}${this.current.id}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  /** Opens a sealed value; a value written before encryption existed is returned as it is. */
  open(value: string): string {
    if (!SecretBox.isSealed(value)) return value;
    const [keyId, payload] = value.slice(PREFIX.length).split(':');
    const key = this.keys.get(keyId ?? '');
    if (!key || !payload) throw new SecretBoxError(`no encryption key with id ${keyId}: list the old key in ENCRYPTION_PREVIOUS_KEYS`);
    const bytes = Buffer.from(payload, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError(`a value sealed with key ${keyId} failed its integrity check`);
    }
  }

  /** Whether a value is plain or sealed under a key other than the current one. */
  needsResealing(value: string): boolean {
    return SecretBox.keyIdOf(value) !== this.current.id;
  }
}

/**
 * The key the server seals with: ENCRYPTION_KEY when set; otherwise, for the embedded database, one
 * generated once and kept in its data folder (a fresh one per process for an in-memory database).
 */
export async function encryptionKeyFor(config: { databaseUrl: string | undefined; dataDir: string; encryption: EncryptionConfig }): Promise<EncryptionConfig> {
  if (config.encryption.key || config.databaseUrl !== undefined) return config.encryption;
  if (config.dataDir === ':memory:') return { ...config.encryption, key: newEncryptionKey() };
  const file = path.join(config.dataDir, EMBEDDED_KEY_FILE);
  const existing = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing !== undefined) return { ...config.encryption, key: existing.trim() };
  const key = newEncryptionKey();
  await mkdir(config.dataDir, { recursive: true });
  await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  return { ...config.encryption, key };
}
