/** Environment parsed and validated once, by one schema, into one typed object handed to every module. */
import { z } from 'zod';
import type { ClusterSettings } from './modules/cluster/settings.js';
import type { EmbeddingIndexSettings } from './modules/ai/embedding-index.settings.js';
import type { NotificationSettings } from './modules/notifications/notification.settings.js';
import type { RealtimeSettings } from './modules/realtime/realtime.settings.js';

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
  database: DatabaseSettings;
  pubsub: PubSubSettings;
  cluster: ClusterSettings;
  realtime: RealtimeSettings;
  telemetry: TelemetrySettings;
  billing: BillingSettings;
  notifications: NotificationSettings;
  tools: ToolSettings;
  observability: ObservabilitySettings;
  bootstrap: BootstrapSettings;
  retention: RetentionConfig;
  encryption: EncryptionConfig;
  edge: EdgeConfig;
  demoFleet: DemoFleetConfig;
  responseCache: ResponseCacheSettings;
}

/** Answers to repeated dashboard queries, kept per principal (see src/http/response-cache.ts). */
export interface ResponseCacheSettings {
  /** How long an answer may be served again to the same principal; 0 turns the cache off. */
  ttlMs: number;
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

export interface DatabaseSettings {
  /** Print the schema engine's own log lines while migrating. */
  migrateDebug: boolean;
  /**
   * Memory for collections' vectors held in process for the exact scan where PostgreSQL has no
   * pgvector, and for the chunks pgvector's index does not hold yet; a collection that does not fit
   * is scanned in SQL instead. 0 turns it off.
   */
  vectorScanMemoryBytes: number;
  /**
   * Read statement shapes each PostgreSQL connection keeps prepared (parsed and planned once); 0
   * prepares none, for a connection pooler in transaction mode that cannot keep them.
   */
  preparedStatements: number;
  embeddingIndex: EmbeddingIndexSettings;
}

export interface PubSubSettings {
  /** Prefix of every Redis channel and key, so several deployments can share one Redis. */
  namespace: string;
}

export interface TelemetrySettings {
  /** Raw metrics older than this many days are removed (TimescaleDB's own policy does it where present). */
  retentionDays: number;
  /** Finished days the summary job recomputes on each run: yesterday, and earlier days to catch late data. */
  summaryLookbackDays: number;
}

export interface BillingSettings {
  /** How often each instance tries the monthly close (idempotent, so every instance may). */
  closeIntervalMs: number;
}

export interface ToolSettings {
  /** The price a token saved is worth, per million tokens, as an exact decimal. */
  tokenPricePerMillion: string;
}

export interface ObservabilitySettings {
  /** Extra field paths (pino syntax) whose values are replaced in every log line. */
  logRedact: string[];
  metricsEnabled: boolean;
  /** When set, /metrics asks for `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  tracing: TracingSettings;
}

/** OpenTelemetry traces, from the standard OTEL_* variables; off unless an OTLP endpoint (or exporter) is named. */
export interface TracingSettings {
  enabled: boolean;
  /** The URL spans are posted to: the traces endpoint itself, or the base endpoint with /v1/traces. */
  endpoint: string;
  protocol: 'http/protobuf' | 'http/json';
  headers: Record<string, string>;
  timeoutMs: number;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  sampler: TraceSampler;
  /** The sampled share of traces, 0 to 1, for the traceidratio samplers. */
  samplerRatio: number;
  /** Which resolvers get a span: the operation's root fields, every field, or none. */
  resolverSpans: 'root' | 'all' | 'none';
}

export const TRACE_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type TraceSampler = (typeof TRACE_SAMPLERS)[number];

export interface BootstrapSettings {
  /** The first platform admin, created at start when the database has no user at all. */
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  /** Name of the tenant that admin belongs to. */
  tenantName: string;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const satisfies readonly LogLevel[];

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

/** A variable's text, trimmed; blank counts as unset. */
const raw = z.preprocess((value) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined), z.string().optional());

const text = (fallback: string) => raw.transform((value) => value ?? fallback);

const optionalText = raw;

/** A whole number within bounds; undefined when unset, so a more general variable can apply. */
function optionalWhole(min: number, max: number) {
  return raw.transform((value, ctx) => {
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value)) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number, got "${value}"` });
      return z.NEVER;
    }
    const parsed = Number(value);
    if (parsed < min || parsed > max) {
      ctx.addIssue({ code: 'custom', message: `must be between ${min} and ${max}, got ${parsed}` });
      return z.NEVER;
    }
    return parsed;
  });
}

const whole = (fallback: number, min: number, max: number) => optionalWhole(min, max).transform((value) => value ?? fallback);

/** true/false (or 1/0, yes/no, on/off); undefined when unset, so defaults may depend on other settings. */
const flag = raw.transform((value, ctx) => {
  if (value === undefined) return undefined;
  const lower = value.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
  if (['0', 'false', 'no', 'off'].includes(lower)) return false;
  ctx.addIssue({ code: 'custom', message: `must be true or false, got "${value}"` });
  return z.NEVER;
});

/** One of the given words; undefined when unset, so a more general variable can apply. */
function optionalOneOf<const T extends readonly string[]>(values: T) {
  return raw.transform((value, ctx) => {
    if (value === undefined) return undefined;
    if (!values.includes(value)) {
      ctx.addIssue({ code: 'custom', message: `must be one of ${values.join(', ')}, got "${value}"` });
      return z.NEVER;
    }
    return value as T[number];
  });
}

function oneOf<const T extends readonly string[]>(values: T, fallback: T[number]) {
  return optionalOneOf(values).transform((value) => value ?? fallback);
}

function url(protocols: readonly string[]) {
  return raw.transform((value, ctx) => {
    if (value === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not a valid URL' });
      return z.NEVER;
    }
    if (!protocols.includes(parsed.protocol)) {
      ctx.addIssue({ code: 'custom', message: `must start with ${protocols.map((p) => `${p}//`).join(' or ')}, got ${parsed.protocol}//` });
      return z.NEVER;
    }
    if (!parsed.hostname && !parsed.searchParams.get('host')) {
      ctx.addIssue({ code: 'custom', message: 'names no host' });
      return z.NEVER;
    }
    return value;
  });
}

/** PEM text, given inline or with literal \n escapes as environments often carry it. */
const pem = raw.transform((value, ctx) => {
  const key = value?.replace(/\\n/g, '\n');
  if (key !== undefined && !key.startsWith('-----BEGIN ')) {
    ctx.addIssue({ code: 'custom', message: 'must be a PEM-encoded key' });
    return z.NEVER;
  }
  return key;
});

function matching(pattern: RegExp, description: string, fallback: string) {
  return raw.transform((value, ctx) => {
    if (value === undefined) return fallback;
    if (!pattern.test(value)) {
      ctx.addIssue({ code: 'custom', message: `must be ${description}, got "${value}"` });
      return z.NEVER;
    }
    return value;
  });
}

/** `key=value` pairs separated by commas, values percent-decoded, as the OTEL_* variables write them. */
const keyValues = raw.transform((value, ctx) => {
  const pairs: Record<string, string> = {};
  for (const item of value?.split(',') ?? []) {
    if (item.trim() === '') continue;
    const at = item.indexOf('=');
    const key = item.slice(0, at).trim();
    if (at < 1 || key === '') {
      ctx.addIssue({ code: 'custom', message: `must be key=value pairs separated by commas, got "${item.trim()}"` });
      return z.NEVER;
    }
    try {
      pairs[key] = decodeURIComponent(item.slice(at + 1).trim());
    } catch {
      ctx.addIssue({ code: 'custom', message: `has a badly percent-encoded value for "${key}"` });
      return z.NEVER;
    }
  }
  return pairs;
});

/** A share between 0 and 1, such as 0.25. */
const ratio = raw.transform((value, ctx) => {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!/^\d*\.?\d+$/.test(value) || parsed > 1) {
    ctx.addIssue({ code: 'custom', message: `must be a number from 0 to 1, got "${value}"` });
    return z.NEVER;
  }
  return parsed;
});

const list = raw.transform((value) => (value === undefined ? [] : value.split(',').map((item) => item.trim()).filter(Boolean)));

const HOUR_MS = 3_600_000;

const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;

/** Where an OTLP/HTTP collector listens when only the exporter is named. */
const DEFAULT_OTLP_ENDPOINT = 'http://localhost:4318';

const isKey = (value: string) => Buffer.from(value, 'base64').length === 32;
const KEY_FORMAT = 'must be 32 random bytes in base64 (e.g. openssl rand -base64 32)';

/** Every variable the server reads, by name; README's table lists the same names. */
const ENVIRONMENT = z.object({
  // server
  HOST: text('127.0.0.1'),
  PORT: whole(4000, 0, 65535),
  NODE_ENV: optionalText,
  GRAPHIQL: flag,
  SHUTDOWN_TIMEOUT_MS: whole(10_000, 0, 600_000),
  JOBS_ENABLED: flag,
  // database
  DATABASE_URL: url(['postgres:', 'postgresql:']),
  DATA_DIR: text('./data'),
  EMBEDDED_DB_PORT: whole(0, 0, 65535),
  DB_POOL_MAX: whole(10, 1, 500),
  DB_PREPARED_STATEMENTS: whole(100, 0, 10_000),
  VECTOR_SCAN_MEMORY_MB: whole(256, 0, 1_000_000),
  VECTOR_INDEX_DEFERRED: flag,
  VECTOR_INDEX_BACKLOG_MB: whole(128, 0, 1_000_000),
  VECTOR_INDEX_INTERVAL_MS: whole(1_000, 10, 3_600_000),
  MIGRATE_ON_START: flag,
  SEED_ON_START: flag,
  DEMO_PASSWORD: optionalText,
  MIGRATE_DEBUG: flag,
  // redis
  REDIS_URL: url(['redis:', 'rediss:']),
  PUBSUB_NAMESPACE: matching(/^[A-Za-z0-9._-]{1,64}$/, '1 to 64 letters, digits, dots, dashes or underscores', 'omega'),
  // auth
  JWT_SECRET: raw.refine((value) => value === undefined || value.length >= 32, 'must be at least 32 characters'),
  JWT_ALGORITHM: oneOf(['HS256', 'EdDSA', 'RS256'] as const, 'HS256'),
  JWT_PRIVATE_KEY: pem,
  JWT_PUBLIC_KEY: pem,
  JWT_JWKS_URL: url(['https:', 'http:']),
  JWT_ISSUER: text('omega-control-plane'),
  JWT_AUDIENCE: text('omega-api'),
  ACCESS_TOKEN_TTL_SECONDS: whole(900, 10, 86_400),
  REFRESH_TOKEN_TTL_SECONDS: whole(30 * 86_400, 60, 365 * 86_400),
  LOGIN_LOCKOUT_THRESHOLD: whole(5, 1, 100),
  LOGIN_LOCKOUT_MINUTES: whole(15, 1, 10_080),
  PASSWORD_HISTORY_DEPTH: whole(5, 0, 50),
  PASSWORD_RESET_TTL_MINUTES: whole(30, 1, 1_440),
  USER_RATE_LIMIT_PER_MINUTE: whole(600, 1, 1_000_000),
  // cluster and workloads
  HEARTBEAT_TIMEOUT_SECONDS: whole(60, 1, 86_400),
  NODE_HEARTBEAT_TIMEOUT_SECONDS: raw.refine((value) => value === undefined, 'is replaced by HEARTBEAT_TIMEOUT_SECONDS; rename it'),
  SCHEDULER_PASS_INTERVAL_MS: whole(5_000, 100, HOUR_MS),
  SCHEDULER_BATCH_SIZE: whole(200, 1, 10_000),
  DEPLOYMENT_RECONCILE_INTERVAL_MS: whole(15_000, 100, HOUR_MS),
  CLUSTER_VIEWS_REFRESH_INTERVAL_MS: whole(60_000, 1_000, 24 * HOUR_MS),
  SESSION_DEFAULT_MAX_RUNTIME_MINUTES: whole(60, 1, 525_600),
  // realtime
  LIVENESS_SWEEP_INTERVAL_MS: whole(10_000, 100, HOUR_MS),
  HEARTBEAT_FLUSH_INTERVAL_MS: whole(5_000, 10, 60_000),
  HEARTBEAT_KEY_TTL_SECONDS: whole(30, 1, 86_400),
  METRIC_KEY_TTL_SECONDS: whole(300, 1, 86_400),
  SESSION_STATE_TTL_SECONDS: whole(86_400, 60, 2_592_000),
  ENDED_SESSION_STATE_TTL_SECONDS: whole(3_600, 1, 2_592_000),
  CLUSTER_STATE_INTERVAL_MS: whole(1_000, 100, 600_000),
  SUBSCRIBER_QUEUE_LIMIT: whole(1_000, 10, 1_000_000),
  LIVE_METRICS_QUEUE_LIMIT: whole(500, 10, 1_000_000),
  WS_KEEPALIVE_MS: whole(15_000, 1_000, 600_000),
  WS_SUBSCRIBER_BUFFER_LIMIT_BYTES: whole(262_144, 1_024, 1_073_741_824),
  // telemetry
  METRICS_RETENTION_DAYS: whole(30, 1, 3_650),
  // billing
  BILLING_CLOSE_INTERVAL_MS: whole(HOUR_MS, 1_000, 24 * HOUR_MS),
  // notifications
  NOTIFICATIONS_ALLOW_PRIVATE_TARGETS: flag,
  NOTIFICATIONS_BACKOFF_BASE_MS: whole(30_000, 10, 86_400_000),
  NOTIFICATIONS_BACKOFF_CAP_MS: whole(HOUR_MS, 10, 7 * 86_400_000),
  NOTIFICATIONS_TIMEOUT_MS: whole(10_000, 100, 300_000),
  NOTIFICATIONS_LEASE_MS: whole(60_000, 200, HOUR_MS),
  NOTIFICATIONS_BATCH_SIZE: whole(20, 1, 500),
  NOTIFICATIONS_POLL_INTERVAL_MS: whole(5_000, 10, HOUR_MS),
  // tools
  TOOL_TOKEN_PRICE_PER_MILLION: matching(/^\d{1,6}(\.\d{1,6})?$/, 'a decimal amount such as "15" or "0.25", at most 6 decimals', '15'),
  // observability
  LOG_LEVEL: oneOf(LOG_LEVELS, 'info'),
  LOG_REDACT: list,
  METRICS_ENABLED: flag,
  METRICS_TOKEN: raw.refine((value) => value === undefined || value.length >= 16, 'must be at least 16 characters'),
  // traces (the OpenTelemetry SDK's standard names)
  OTEL_SDK_DISABLED: flag,
  OTEL_TRACES_EXPORTER: optionalOneOf(['otlp', 'none'] as const),
  OTEL_EXPORTER_OTLP_ENDPOINT: url(['http:', 'https:']),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url(['http:', 'https:']),
  OTEL_EXPORTER_OTLP_PROTOCOL: oneOf(OTLP_PROTOCOLS, 'http/protobuf'),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: optionalOneOf(OTLP_PROTOCOLS),
  OTEL_EXPORTER_OTLP_HEADERS: keyValues,
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: keyValues,
  OTEL_EXPORTER_OTLP_TIMEOUT: whole(10_000, 1, 600_000),
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: optionalWhole(1, 600_000),
  OTEL_SERVICE_NAME: text('omega-control-plane'),
  OTEL_RESOURCE_ATTRIBUTES: keyValues,
  OTEL_TRACES_SAMPLER: oneOf(TRACE_SAMPLERS, 'parentbased_always_on'),
  OTEL_TRACES_SAMPLER_ARG: ratio,
  TRACE_RESOLVERS: oneOf(['root', 'all', 'none'] as const, 'root'),
  // bootstrap
  BOOTSTRAP_ADMIN_EMAIL: raw.refine((value) => value === undefined || /^[^\s@]+@[^\s@]+$/.test(value), 'must be an email address'),
  BOOTSTRAP_ADMIN_PASSWORD: raw.refine((value) => value === undefined || value.length >= 12, 'must be at least 12 characters'),
  BOOTSTRAP_TENANT_NAME: text('Operations'),
  // embedded database upkeep
  TABLE_MAINTENANCE: flag,
  TABLE_MAINTENANCE_INTERVAL_SECONDS: whole(60, 1, 86_400),
  // retention and archives
  TOOL_OPERATIONS_RETENTION_DAYS: whole(30, 1, 36_500),
  LOGIN_ATTEMPTS_RETENTION_DAYS: whole(365, 1, 36_500),
  SECURITY_EVENTS_RETENTION_DAYS: whole(365, 1, 36_500),
  NOTIFICATION_DELIVERIES_RETENTION_DAYS: whole(90, 1, 36_500),
  USER_SESSIONS_RETENTION_DAYS: whole(30, 1, 36_500),
  SESSIONS_ARCHIVE_AFTER_DAYS: whole(90, 1, 36_500),
  SYSTEM_EVENTS_ARCHIVE_AFTER_DAYS: whole(183, 1, 36_500),
  RETENTION_BATCH_SIZE: whole(1_000, 1, 100_000),
  // secrets at rest
  ENCRYPTION_KEY: raw.refine((value) => value === undefined || isKey(value), KEY_FORMAT),
  ENCRYPTION_PREVIOUS_KEYS: list.refine((keys) => keys.every(isKey), KEY_FORMAT),
  // the HTTP edge
  MAX_QUERY_DEPTH: whole(12, 1, 1_000),
  MAX_QUERY_ALIASES: whole(30, 0, 10_000),
  MAX_QUERY_TOKENS: whole(3_000, 10, 1_000_000),
  MAX_QUERY_DIRECTIVES: whole(20, 0, 10_000),
  MAX_QUERY_COST: whole(50_000, 1, 100_000_000),
  MAX_PAGE_SIZE: whole(100, 1, 10_000),
  MAX_REQUEST_BODY_BYTES: whole(2_000_000, 1_000, 1_000_000_000),
  MAX_STRING_LENGTH: whole(100_000, 1, 100_000_000),
  MAX_JSON_DEPTH: whole(32, 1, 1_000),
  ANONYMOUS_INTROSPECTION: flag,
  FIELD_SUGGESTIONS: flag,
  CORS_ORIGINS: raw.transform((value) => value?.split(',').map((item) => item.trim()).filter(Boolean)),
  TRUSTED_DOCUMENTS_FILE: optionalText,
  TRUSTED_DOCUMENTS_ONLY: flag,
  TRUSTED_PROXIES: list,
  SIGN_IN_FAILURES_PER_ADDRESS: whole(30, 1, 1_000_000),
  // demo fleet
  DEMO_FLEET: flag,
  DEMO_FLEET_INTERVAL_MS: whole(10_000, 100, 600_000),
  DEMO_FLEET_SESSION_SECONDS: whole(120, 1, 86_400),
  // response cache
  RESPONSE_CACHE_TTL_MS: whole(0, 0, HOUR_MS),
});

type Environment = z.infer<typeof ENVIRONMENT>;

/** The names of every variable the server reads. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(ENVIRONMENT.shape);

function parseEnvironment(env: Env): Environment {
  const result = ENVIRONMENT.safeParse(env);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new ConfigError(String(issue.path[0]), issue.message);
}

// Connections beyond the API's pool that the embedded database keeps for locks, jobs and operator tools.
const EMBEDDED_SPARE_CONNECTIONS = 8;

export function loadConfig(env: Env = process.env): Config {
  const e = parseEnvironment(env);
  const embedded = e.DATABASE_URL === undefined;
  const config: Config = {
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    embeddedDbPort: e.EMBEDDED_DB_PORT,
    redisUrl: e.REDIS_URL,
    dbPoolMax: e.DB_POOL_MAX,
    migrateOnStart: e.MIGRATE_ON_START ?? embedded,
    seedOnStart: e.SEED_ON_START ?? embedded,
    graphiql: e.GRAPHIQL ?? e.NODE_ENV !== 'production',
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    jobsEnabled: e.JOBS_ENABLED ?? true,
    demoPassword: e.DEMO_PASSWORD,
    auth: {
      jwtSecret: e.JWT_SECRET,
      jwtPrivateKey: e.JWT_PRIVATE_KEY,
      jwtPublicKey: e.JWT_PUBLIC_KEY,
      jwtAlgorithm: e.JWT_ALGORITHM,
      jwksUrl: e.JWT_JWKS_URL,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: e.REFRESH_TOKEN_TTL_SECONDS,
      lockoutThreshold: e.LOGIN_LOCKOUT_THRESHOLD,
      lockoutMinutes: e.LOGIN_LOCKOUT_MINUTES,
      passwordHistoryDepth: e.PASSWORD_HISTORY_DEPTH,
      passwordResetTtlMinutes: e.PASSWORD_RESET_TTL_MINUTES,
      userRateLimitPerMinute: e.USER_RATE_LIMIT_PER_MINUTE,
    },
    database: {
      migrateDebug: e.MIGRATE_DEBUG ?? false,
      vectorScanMemoryBytes: e.VECTOR_SCAN_MEMORY_MB * 1024 * 1024,
      preparedStatements: e.DB_PREPARED_STATEMENTS,
      embeddingIndex: {
        // The HNSW insert costs the embedded database's single WebAssembly thread several milliseconds per chunk.
        deferred: e.VECTOR_INDEX_DEFERRED ?? embedded,
        backlogBytes: e.VECTOR_INDEX_BACKLOG_MB * 1024 * 1024,
        intervalMs: e.VECTOR_INDEX_INTERVAL_MS,
      },
    },
    pubsub: { namespace: e.PUBSUB_NAMESPACE },
    cluster: {
      heartbeatTimeoutSeconds: e.HEARTBEAT_TIMEOUT_SECONDS,
      schedulerPassIntervalMs: e.SCHEDULER_PASS_INTERVAL_MS,
      schedulerBatchSize: e.SCHEDULER_BATCH_SIZE,
      deploymentReconcileIntervalMs: e.DEPLOYMENT_RECONCILE_INTERVAL_MS,
      clusterViewsRefreshIntervalMs: e.CLUSTER_VIEWS_REFRESH_INTERVAL_MS,
      defaultMaxRuntimeMinutes: e.SESSION_DEFAULT_MAX_RUNTIME_MINUTES,
    },
    realtime: {
      heartbeatTimeoutSeconds: e.HEARTBEAT_TIMEOUT_SECONDS,
      livenessSweepIntervalMs: e.LIVENESS_SWEEP_INTERVAL_MS,
      heartbeatFlushIntervalMs: e.HEARTBEAT_FLUSH_INTERVAL_MS,
      heartbeatKeyTtlSeconds: e.HEARTBEAT_KEY_TTL_SECONDS,
      metricKeyTtlSeconds: e.METRIC_KEY_TTL_SECONDS,
      liveSessionStateTtlSeconds: e.SESSION_STATE_TTL_SECONDS,
      endedSessionStateTtlSeconds: e.ENDED_SESSION_STATE_TTL_SECONDS,
      clusterStateIntervalMs: e.CLUSTER_STATE_INTERVAL_MS,
      subscriberQueueLimit: e.SUBSCRIBER_QUEUE_LIMIT,
      metricsQueueLimit: e.LIVE_METRICS_QUEUE_LIMIT,
      keepAliveMs: e.WS_KEEPALIVE_MS,
      subscriberBufferLimitBytes: e.WS_SUBSCRIBER_BUFFER_LIMIT_BYTES,
    },
    telemetry: { retentionDays: e.METRICS_RETENTION_DAYS, summaryLookbackDays: 2 },
    billing: { closeIntervalMs: e.BILLING_CLOSE_INTERVAL_MS },
    notifications: {
      allowPrivateTargets: e.NOTIFICATIONS_ALLOW_PRIVATE_TARGETS ?? false,
      backoffBaseMs: e.NOTIFICATIONS_BACKOFF_BASE_MS,
      backoffCapMs: e.NOTIFICATIONS_BACKOFF_CAP_MS,
      timeoutMs: e.NOTIFICATIONS_TIMEOUT_MS,
      leaseMs: e.NOTIFICATIONS_LEASE_MS,
      batchSize: e.NOTIFICATIONS_BATCH_SIZE,
      pollIntervalMs: e.NOTIFICATIONS_POLL_INTERVAL_MS,
    },
    tools: { tokenPricePerMillion: e.TOOL_TOKEN_PRICE_PER_MILLION },
    observability: {
      logRedact: e.LOG_REDACT,
      metricsEnabled: e.METRICS_ENABLED ?? true,
      metricsToken: e.METRICS_TOKEN,
      tracing: tracingSettings(e),
    },
    bootstrap: {
      adminEmail: e.BOOTSTRAP_ADMIN_EMAIL,
      adminPassword: e.BOOTSTRAP_ADMIN_PASSWORD,
      tenantName: e.BOOTSTRAP_TENANT_NAME,
    },
    tableMaintenanceIntervalMs: (e.TABLE_MAINTENANCE ?? embedded) ? e.TABLE_MAINTENANCE_INTERVAL_SECONDS * 1000 : undefined,
    retention: {
      toolOperationsDays: e.TOOL_OPERATIONS_RETENTION_DAYS,
      loginAttemptsDays: e.LOGIN_ATTEMPTS_RETENTION_DAYS,
      securityEventsDays: e.SECURITY_EVENTS_RETENTION_DAYS,
      notificationDeliveriesDays: e.NOTIFICATION_DELIVERIES_RETENTION_DAYS,
      userSessionsDays: e.USER_SESSIONS_RETENTION_DAYS,
      sessionsArchiveDays: e.SESSIONS_ARCHIVE_AFTER_DAYS,
      systemEventsArchiveDays: e.SYSTEM_EVENTS_ARCHIVE_AFTER_DAYS,
      batchSize: e.RETENTION_BATCH_SIZE,
    },
    encryption: { key: e.ENCRYPTION_KEY, previousKeys: e.ENCRYPTION_PREVIOUS_KEYS },
    edge: {
      maxQueryDepth: e.MAX_QUERY_DEPTH,
      maxQueryAliases: e.MAX_QUERY_ALIASES,
      maxQueryTokens: e.MAX_QUERY_TOKENS,
      maxQueryDirectives: e.MAX_QUERY_DIRECTIVES,
      maxQueryCost: e.MAX_QUERY_COST,
      maxPageSize: e.MAX_PAGE_SIZE,
      maxRequestBodyBytes: e.MAX_REQUEST_BODY_BYTES,
      maxStringLength: e.MAX_STRING_LENGTH,
      maxJsonDepth: e.MAX_JSON_DEPTH,
      anonymousIntrospection: e.ANONYMOUS_INTROSPECTION ?? e.NODE_ENV !== 'production',
      fieldSuggestions: e.FIELD_SUGGESTIONS ?? e.NODE_ENV !== 'production',
      corsOrigins: e.CORS_ORIGINS ?? (e.NODE_ENV === 'production' ? [] : ['*']),
      trustedDocumentsFile: e.TRUSTED_DOCUMENTS_FILE,
      trustedDocumentsOnly: e.TRUSTED_DOCUMENTS_ONLY ?? e.TRUSTED_DOCUMENTS_FILE !== undefined,
      trustedProxies: e.TRUSTED_PROXIES,
      signInFailuresPerAddress: e.SIGN_IN_FAILURES_PER_ADDRESS,
    },
    demoFleet: {
      enabled: e.DEMO_FLEET ?? e.SEED_ON_START ?? embedded,
      intervalMs: e.DEMO_FLEET_INTERVAL_MS,
      sessionSeconds: e.DEMO_FLEET_SESSION_SECONDS,
    },
    responseCache: { ttlMs: e.RESPONSE_CACHE_TTL_MS },
  };
  return checkConfig(config);
}

/** Spans are exported when an endpoint is given or the OTLP exporter is asked for by name, unless the SDK is disabled. */
function tracingSettings(e: Environment): TracingSettings {
  const asked = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined || e.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || e.OTEL_TRACES_EXPORTER === 'otlp';
  return {
    enabled: asked && e.OTEL_SDK_DISABLED !== true && e.OTEL_TRACES_EXPORTER !== 'none',
    endpoint: e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${(e.OTEL_EXPORTER_OTLP_ENDPOINT ?? DEFAULT_OTLP_ENDPOINT).replace(/\/+$/, '')}/v1/traces`,
    protocol: e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL,
    headers: { ...e.OTEL_EXPORTER_OTLP_HEADERS, ...e.OTEL_EXPORTER_OTLP_TRACES_HEADERS },
    timeoutMs: e.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? e.OTEL_EXPORTER_OTLP_TIMEOUT,
    serviceName: e.OTEL_SERVICE_NAME,
    resourceAttributes: e.OTEL_RESOURCE_ATTRIBUTES,
    sampler: e.OTEL_TRACES_SAMPLER,
    samplerRatio: e.OTEL_TRACES_SAMPLER_ARG ?? 1,
    resolverSpans: e.TRACE_RESOLVERS,
  };
}

/** The embedded database's socket server is sized from DB_POOL_MAX: the whole pool and spare room, never fewer than 16. */
export function embeddedConnectionCap(poolMax: number): number {
  return Math.max(16, poolMax + EMBEDDED_SPARE_CONNECTIONS);
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

/** Keys that seal secrets at rest (webhook signing secrets, TOTP secrets, secret session variables). */
export interface EncryptionConfig {
  /** Base64 of 32 bytes; required with DATABASE_URL, generated into the data folder for the embedded database. */
  key: string | undefined;
  /** Earlier keys, still accepted to open values until `npm run secrets:rotate` reseals them. */
  previousKeys: string[];
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
  /** The trusted-documents manifest (a JSON object of hash -> document): its operations run by hash. */
  trustedDocumentsFile: string | undefined;
  /** Only the manifest's operations run; any other document is refused. */
  trustedDocumentsOnly: boolean;
  /** Addresses (or CIDR ranges) of proxies whose X-Forwarded-For names the client. */
  trustedProxies: string[];
  /** Failed sign-ins per client address per 15 minutes before that address is throttled. */
  signInFailuresPerAddress: number;
}

/** Rules between settings, checked however a config was made (environment or test overrides). */
export function checkConfig(config: Config): Config {
  const { auth, notifications, bootstrap, edge } = config;
  if (auth.jwtAlgorithm !== 'HS256' && !auth.jwtPublicKey) throw new ConfigError('JWT_PUBLIC_KEY', `is required when JWT_ALGORITHM is ${auth.jwtAlgorithm}`);
  if (notifications.backoffCapMs < notifications.backoffBaseMs) {
    throw new ConfigError('NOTIFICATIONS_BACKOFF_CAP_MS', 'must not be below NOTIFICATIONS_BACKOFF_BASE_MS');
  }
  // The lease must outlast an attempt, or a slow send could be taken over and repeated.
  if (notifications.leaseMs <= notifications.timeoutMs) throw new ConfigError('NOTIFICATIONS_LEASE_MS', 'must be longer than NOTIFICATIONS_TIMEOUT_MS');
  if ((bootstrap.adminEmail === undefined) !== (bootstrap.adminPassword === undefined)) {
    throw new ConfigError(bootstrap.adminEmail ? 'BOOTSTRAP_ADMIN_PASSWORD' : 'BOOTSTRAP_ADMIN_EMAIL', 'must be set together with the other BOOTSTRAP_ADMIN_* variable');
  }
  if (edge.trustedDocumentsOnly && !edge.trustedDocumentsFile) throw new ConfigError('TRUSTED_DOCUMENTS_ONLY', 'requires TRUSTED_DOCUMENTS_FILE');
  return config;
}

/** Whether the process runs as a production deployment (NODE_ENV=production), for build-time library options. */
export const runsInProduction = (): boolean => process.env.NODE_ENV === 'production';

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
