import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type DestinationStream } from 'pino';
import type { LogLevel } from '../config.js';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** Whether lines of this level are written (to skip building what would not be). */
  enabled(level: 'debug' | 'info' | 'warn' | 'error'): boolean;
  /** A logger whose every line also carries these fields. */
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** Extra field paths (pino redaction syntax) whose values are replaced. */
  redact?: readonly string[];
}

const SECRET_FIELDS = ['authorization', 'cookie', 'password', 'newPassword', 'currentPassword', 'token', 'accessToken', 'refreshToken', 'apiKey', 'secret', 'key', 'privateKey'];

/** Secret-looking fields at the top and up to two levels down, and request headers that carry credentials. */
const ALWAYS_REDACTED = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
  ...SECRET_FIELDS.map((field) => `*.*.${field}`),
  'headers["x-api-key"]',
  '*.headers["x-api-key"]',
];

interface RequestScope {
  requestId: string;
  /** The request's child of each logger used within it. */
  children: WeakMap<pino.Logger, pino.Logger>;
}

const requestScope = new AsyncLocalStorage<RequestScope>();

/** Runs `work` as one request: every logger used within it, by any service, writes through a child carrying the request id. */
export function inRequestScope<T>(requestId: string, work: () => T): T {
  return requestScope.run({ requestId, children: new WeakMap() }, work);
}

/** The request id of the request being served here, if any. */
export const currentRequestId = (): string | undefined => requestScope.getStore()?.requestId;

/** One JSON line per entry (on stderr unless a sink is given); secrets are redacted by field name. */
export function createLogger(level: LogLevel, sink?: (line: string) => void, options: LoggerOptions = {}): Logger {
  const destination: DestinationStream = sink ? { write: sink } : pino.destination({ fd: 2, sync: true });
  const root = pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...ALWAYS_REDACTED, ...(options.redact ?? [])], censor: '[redacted]' },
    },
    destination,
  );
  return wrap(root);
}

function forCurrentRequest(logger: pino.Logger): pino.Logger {
  const scope = requestScope.getStore();
  if (!scope) return logger;
  let child = scope.children.get(logger);
  if (!child) {
    child = logger.child({ requestId: scope.requestId });
    scope.children.set(logger, child);
  }
  return child;
}

function wrap(logger: pino.Logger): Logger {
  // A level that is off writes nothing, so it need not make the request's child logger either.
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) => {
    if (logger.isLevelEnabled(level)) forCurrentRequest(logger)[level](fields ?? {}, message);
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    enabled: (level) => logger.isLevelEnabled(level),
    child: (fields) => wrap(logger.child(fields)),
  };
}
