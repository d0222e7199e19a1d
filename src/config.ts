/** Environment parsed and validated once, into one typed object. */

export interface Config {
  host: string;
  port: number;
  /** PostgreSQL URL; undefined selects the embedded PGlite database. */
  databaseUrl: string | undefined;
  /** Folder for the embedded database's files. */
  dataDir: string;
  /** Port the embedded database listens on (loopback only); 0 picks a free one. */
  embeddedDbPort: number;
  redisUrl: string | undefined;
  dbPoolMax: number;
  /** Apply pending migrations at start (default: only for the embedded database). */
  migrateOnStart: boolean;
  /** Fill an empty database with demo data at start (default: only for the embedded database). */
  seedOnStart: boolean;
  graphiql: boolean;
  logLevel: LogLevel;
  shutdownTimeoutMs: number;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function present(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = present(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function url(env: Env, name: string, protocols: readonly string[]): string | undefined {
  const raw = present(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}, got ${parsed.protocol}//`);
  }
  if (!parsed.hostname && !parsed.searchParams.get('host')) throw new ConfigError(name, 'names no host');
  return raw;
}

export function loadConfig(env: Env = process.env): Config {
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const embedded = databaseUrl === undefined;
  const logLevel = (present(env, 'LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  return {
    host: present(env, 'HOST') ?? '127.0.0.1',
    port: integer(env, 'PORT', 4000, 0, 65535),
    databaseUrl,
    dataDir: present(env, 'DATA_DIR') ?? './data',
    embeddedDbPort: integer(env, 'EMBEDDED_DB_PORT', 0, 0, 65535),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    dbPoolMax: integer(env, 'DB_POOL_MAX', 10, 1, 500),
    migrateOnStart: boolean(env, 'MIGRATE_ON_START', embedded),
    seedOnStart: boolean(env, 'SEED_ON_START', embedded),
    graphiql: boolean(env, 'GRAPHIQL', env.NODE_ENV !== 'production'),
    logLevel,
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
  };
}

/** A URL safe to print: the password is replaced. */
export function redactUrl(raw: string): string {
  try {
    const parsed = new URL(raw);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}
