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
  /** Password of the demo users the seed creates; a documented fallback when unset. */
  demoPassword: string | undefined;
  /** Run background jobs (schedulers, sweepers, workers) in this instance. */
  jobsEnabled: boolean;
  /**
   * Analyze tables after bulk writes and vacuum and analyze them on a schedule, as autovacuum would
   * (default: only for the embedded database, which has no autovacuum); undefined turns it off.
   */
  tableMaintenanceIntervalMs: number | undefined;
  auth: AuthConfig;
  retention: RetentionConfig;
  encryption: EncryptionConfig;
  edge: EdgeConfig;
  demoFleet: DemoFleetConfig;
}

/** Simulated agents for the demo tenant's nodes, so the demo cluster stays alive. */
export interface DemoFleetConfig {
  /** Default: on where demo data is seeded (the embedded database), off with DATABASE_URL. */
  enabled: boolean;
  /** How often every demo node sends a heartbeat and a sample of metrics. */
  intervalMs: number;
  /** How long a demo session runs before the simulated agent completes it. */
  sessionSeconds: number;
}

function loadDemoFleetConfig(env: Env, seeded: boolean): DemoFleetConfig {
  return {
    enabled: boolean(env, 'DEMO_FLEET', seeded),
    intervalMs: integer(env, 'DEMO_FLEET_INTERVAL_MS', 10_000, 100, 600_000),
    sessionSeconds: integer(env, 'DEMO_FLEET_SESSION_SECONDS', 120, 1, 86_400),
  };
}

export interface AuthConfig {
  /** HS256 secret; when absent and no key pair is given, a random one is made per process. */
  jwtSecret: string | undefined;
  /** PEM keys for EdDSA or RS256 tokens; the private key is needed only to issue tokens. */
  jwtPrivateKey: string | undefined;
  jwtPublicKey: string | undefined;
  jwtAlgorithm: 'HS256' | 'EdDSA' | 'RS256';
  /** A JWKS URL whose keys also verify tokens, e.g. those of an external identity provider. */
  jwksUrl: string | undefined;
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  lockoutThreshold: number;
  lockoutMinutes: number;
  passwordHistoryDepth: number;
  passwordResetTtlMinutes: number;
  userRateLimitPerMinute: number;
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

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T {
  const raw = present(env, name) ?? fallback;
  if (!(values as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${values.join(', ')}, got "${raw}"`);
  return raw as T;
}

/** PEM text, given inline or with literal \n escapes as environments often carry it. */
function pem(env: Env, name: string): string | undefined {
  const raw = present(env, name)?.replace(/\\n/g, '\n');
  if (raw !== undefined && !raw.startsWith('-----BEGIN ')) throw new ConfigError(name, 'must be a PEM-encoded key');
  return raw;
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
    jobsEnabled: boolean(env, 'JOBS_ENABLED', true),
    tableMaintenanceIntervalMs: boolean(env, 'TABLE_MAINTENANCE', embedded)
      ? integer(env, 'TABLE_MAINTENANCE_INTERVAL_SECONDS', 60, 1, 86_400) * 1000
      : undefined,
    demoPassword: present(env, 'DEMO_PASSWORD'),
    auth: loadAuthConfig(env),
    retention: loadRetentionConfig(env),
    encryption: loadEncryptionConfig(env),
    edge: loadEdgeConfig(env),
    demoFleet: loadDemoFleetConfig(env, boolean(env, 'SEED_ON_START', embedded)),
  };
}

function loadAuthConfig(env: Env): AuthConfig {
  const jwtSecret = present(env, 'JWT_SECRET');
  if (jwtSecret !== undefined && jwtSecret.length < 32) throw new ConfigError('JWT_SECRET', 'must be at least 32 characters');
  const jwtAlgorithm = oneOf(env, 'JWT_ALGORITHM', ['HS256', 'EdDSA', 'RS256'] as const, 'HS256');
  const jwtPrivateKey = pem(env, 'JWT_PRIVATE_KEY');
  const jwtPublicKey = pem(env, 'JWT_PUBLIC_KEY');
  if (jwtAlgorithm !== 'HS256' && !jwtPublicKey) throw new ConfigError('JWT_PUBLIC_KEY', `is required when JWT_ALGORITHM is ${jwtAlgorithm}`);
  return {
    jwtSecret,
    jwtPrivateKey,
    jwtPublicKey,
    jwtAlgorithm,
    jwksUrl: url(env, 'JWT_JWKS_URL', ['https:', 'http:']),
    issuer: present(env, 'JWT_ISSUER') ?? 'omega-control-plane',
    audience: present(env, 'JWT_AUDIENCE') ?? 'omega-api',
    accessTokenTtlSeconds: integer(env, 'ACCESS_TOKEN_TTL_SECONDS', 900, 10, 86_400),
    refreshTokenTtlSeconds: integer(env, 'REFRESH_TOKEN_TTL_SECONDS', 30 * 86_400, 60, 365 * 86_400),
    lockoutThreshold: integer(env, 'LOGIN_LOCKOUT_THRESHOLD', 5, 1, 100),
    lockoutMinutes: integer(env, 'LOGIN_LOCKOUT_MINUTES', 15, 1, 10_080),
    passwordHistoryDepth: integer(env, 'PASSWORD_HISTORY_DEPTH', 5, 0, 50),
    passwordResetTtlMinutes: integer(env, 'PASSWORD_RESET_TTL_MINUTES', 30, 1, 1_440),
    userRateLimitPerMinute: integer(env, 'USER_RATE_LIMIT_PER_MINUTE', 600, 1, 1_000_000),
  };
}

/** How long rows of the growing tables are kept; sessions and system events are archived, the rest deleted. */
export interface RetentionConfig {
  toolOperationsDays: number;
  loginAttemptsDays: number;
  securityEventsDays: number;
  /** Counted from a delivery's final state (delivered or dead). */
  notificationDeliveriesDays: number;
  /** Counted from a refresh token's expiry or revocation. */
  userSessionsDays: number;
  /** Sessions completed, failed or cancelled longer ago move to sessions_archive. */
  sessionsArchiveDays: number;
  systemEventsArchiveDays: number;
  /** Rows removed or moved per transaction. */
  batchSize: number;
}

function loadRetentionConfig(env: Env): RetentionConfig {
  const days = (name: string, fallback: number) => integer(env, name, fallback, 1, 36_500);
  return {
    toolOperationsDays: days('TOOL_OPERATIONS_RETENTION_DAYS', 30),
    loginAttemptsDays: days('LOGIN_ATTEMPTS_RETENTION_DAYS', 365),
    securityEventsDays: days('SECURITY_EVENTS_RETENTION_DAYS', 365),
    notificationDeliveriesDays: days('NOTIFICATION_DELIVERIES_RETENTION_DAYS', 90),
    userSessionsDays: days('USER_SESSIONS_RETENTION_DAYS', 30),
    sessionsArchiveDays: days('SESSIONS_ARCHIVE_AFTER_DAYS', 90),
    systemEventsArchiveDays: days('SYSTEM_EVENTS_ARCHIVE_AFTER_DAYS', 183),
    batchSize: integer(env, 'RETENTION_BATCH_SIZE', 1_000, 1, 100_000),
  };
}

/** Keys that seal secrets at rest (webhook signing secrets, TOTP secrets, secret session variables). */
export interface EncryptionConfig {
  /** Base64 of 32 bytes; required with DATABASE_URL, generated into the data folder for the embedded database. */
  key: string | undefined;
  /** Earlier keys, still accepted to open values until `npm run secrets:rotate` reseals them. */
  previousKeys: string[];
}

function loadEncryptionConfig(env: Env): EncryptionConfig {
  const key = present(env, 'ENCRYPTION_KEY');
  const previousKeys = (present(env, 'ENCRYPTION_PREVIOUS_KEYS') ?? '').split(',').map((part) => part.trim()).filter((part) => part !== '');
  for (const [name, value] of [['ENCRYPTION_KEY', key], ...previousKeys.map((part) => ['ENCRYPTION_PREVIOUS_KEYS', part])] as const) {
    if (value !== undefined && Buffer.from(value, 'base64').length !== 32) throw new ConfigError(name, 'must be 32 random bytes in base64 (e.g. openssl rand -base64 32)');
  }
  return { key, previousKeys };
}

/** What the HTTP edge accepts before anything runs: operation limits, input bounds, browser and client rules. */
export interface EdgeConfig {
  maxQueryDepth: number;
  maxQueryAliases: number;
  maxQueryTokens: number;
  maxQueryDirectives: number;
  /** Fields an operation may select, each list multiplied by its `first` / `last`. */
  maxQueryCost: number;
  /** The largest `first` / `last` any list accepts. */
  maxPageSize: number;
  maxRequestBodyBytes: number;
  /** Characters in any one string argument. */
  maxStringLength: number;
  /** Nesting of JSON variables and JSON arguments. */
  maxJsonDepth: number;
  /** Anonymous callers may introspect and get "did you mean" suggestions. */
  anonymousIntrospection: boolean;
  fieldSuggestions: boolean;
  /** Origins a browser may call from; empty means same-origin only, '*' any origin without credentials. */
  corsOrigins: string[];
  /** Accept only the operations of the trusted-documents manifest (a JSON object of hash -> document). */
  trustedDocumentsFile: string | undefined;
  /** Addresses (or CIDR ranges) of proxies whose X-Forwarded-For names the client. */
  trustedProxies: string[];
  /** Failed sign-ins per client address per 15 minutes before that address is throttled. */
  signInFailuresPerAddress: number;
}

function list(env: Env, name: string, fallback: string[] = []): string[] {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  return raw.split(',').map((item) => item.trim()).filter(Boolean);
}

function loadEdgeConfig(env: Env): EdgeConfig {
  const production = env.NODE_ENV === 'production';
  return {
    maxQueryDepth: integer(env, 'MAX_QUERY_DEPTH', 12, 1, 1_000),
    maxQueryAliases: integer(env, 'MAX_QUERY_ALIASES', 30, 0, 10_000),
    maxQueryTokens: integer(env, 'MAX_QUERY_TOKENS', 3_000, 10, 1_000_000),
    maxQueryDirectives: integer(env, 'MAX_QUERY_DIRECTIVES', 20, 0, 10_000),
    maxQueryCost: integer(env, 'MAX_QUERY_COST', 50_000, 1, 100_000_000),
    maxPageSize: integer(env, 'MAX_PAGE_SIZE', 100, 1, 10_000),
    maxRequestBodyBytes: integer(env, 'MAX_REQUEST_BODY_BYTES', 2_000_000, 1_000, 1_000_000_000),
    maxStringLength: integer(env, 'MAX_STRING_LENGTH', 100_000, 1, 100_000_000),
    maxJsonDepth: integer(env, 'MAX_JSON_DEPTH', 32, 1, 1_000),
    anonymousIntrospection: boolean(env, 'ANONYMOUS_INTROSPECTION', !production),
    fieldSuggestions: boolean(env, 'FIELD_SUGGESTIONS', !production),
    corsOrigins: list(env, 'CORS_ORIGINS', production ? [] : ['*']),
    trustedDocumentsFile: present(env, 'TRUSTED_DOCUMENTS_FILE'),
    trustedProxies: list(env, 'TRUSTED_PROXIES'),
    signInFailuresPerAddress: integer(env, 'SIGN_IN_FAILURES_PER_ADDRESS', 30, 1, 1_000_000),
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
