// The service's one logger: pino, JSON lines on stdout (pretty ones when stdout
// is a terminal and pino-pretty is installed), level from LOG_LEVEL (default
// info; `silent` turns it off). Every module logs through `logger` or a child
// of it with a `component` field, never through console.
//
// What must never reach a log line: API keys, the upstream key, webhook
// secrets, Authorization headers, image bytes and data: URLs. Call sites log
// ids, names, statuses and durations only; as a second line of defence the
// fields below are censored down to two levels, and error messages and
// stacks (which can quote a driver's arguments) are scrubbed of bearer
// tokens, key- and secret-shaped strings, data: URLs and long base64 runs.
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { pino, stdSerializers, stdTimeFunctions, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Field names that hold a secret or image bytes: censored at the top level and one or two levels down. */
const SECRET_FIELDS = new Set(['authorization', 'apiKey', 'secret', 'token', 'password', 'image', 'images', 'params', 'body', 'base64', 'x-api-key']);
const CENSOR = '[redacted]';

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null || Array.isArray(value);
}

/**
 * `value` with every secret field at `depth` ≤ 2 censored; the same object when
 * there is none (the caller's object is never changed). What pino's `redact` did
 * with the paths f, *.f and *.*.f: its wildcards cost 40-45 µs of CPU per request
 * (two lines), this 0-4 µs (measured on pino 10). Errors are left to their
 * serializer, which scrubs their text.
 */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 2 || value === null || typeof value !== 'object' || !isPlain(value)) return value;
  let out: Record<string, unknown> | unknown[] | null = null;
  const source = value as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    const was = source[key];
    const now = SECRET_FIELDS.has(key) && !Array.isArray(value) ? CENSOR : redactSecrets(was, depth + 1);
    if (now === was) continue;
    out ??= Array.isArray(value) ? [...value] : { ...source };
    (out as Record<string, unknown>)[key] = now;
  }
  return out ?? value;
}

const SCRUBS: Array<[RegExp, string]> = [
  [/\b(bearer)\s+[^\s"',;]+/gi, '$1 [redacted]'],
  [/\bsy_[A-Za-z0-9_-]{8,}/g, 'sy_[redacted]'],
  [/\bwhsec_[A-Za-z0-9+/=]{8,}/g, 'whsec_[redacted]'],
  [/data:[a-z]+\/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]*/gi, 'data:[redacted]'],
  [/[A-Za-z0-9+/_-]{256,}={0,2}/g, '[base64 redacted]'],
];

/** Text with secret- and image-shaped parts replaced; for error messages and stacks. */
export function scrub(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SCRUBS) out = out.replace(pattern, replacement);
  return out;
}

function errSerializer(err: unknown): unknown {
  if (!(err instanceof Error)) return typeof err === 'string' ? scrub(err) : err;
  const s = stdSerializers.err(err) as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { type: s.type, message: scrub(String(s.message ?? '')) };
  if (typeof s.stack === 'string') out.stack = scrub(s.stack);
  if (typeof s.code === 'string') out.code = s.code;
  return out;
}

export function logLevel(env: Record<string, string | undefined> = process.env): (typeof LOG_LEVELS)[number] {
  const raw = (env.LOG_LEVEL || 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
    throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`);
  }
  return raw as (typeof LOG_LEVELS)[number];
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: { pid: process.pid },
    // "level":"info" and an ISO time: readable as they are, and what log shippers expect.
    timestamp: stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => redactSecrets(object) as Record<string, unknown>,
    },
    serializers: { err: errSerializer, error: errSerializer },
  };
}

/** pino-pretty for a terminal, when it loads; otherwise undefined (pino's JSON on stdout). */
function terminalStream(): DestinationStream | undefined {
  if (!process.stdout.isTTY || process.env.LOG_FORMAT === 'json') return undefined;
  try {
    const pretty = createRequire(import.meta.url)('pino-pretty') as (opts: object) => DestinationStream;
    return pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  } catch {
    return undefined;
  }
}

/**
 * stdout, written asynchronously on the main thread, instead of one blocking write
 * per line (a log reader that falls behind used to stall the event loop: 8 % of the
 * API's CPU in bench:submissions was spent in synchronous writes). Lines gather up
 * to 4 KB, or 100 ms, per write: one syscall for a dozen request lines instead of
 * one or two (7 % of the API's CPU). pino flushes what is left when the process
 * exits; a SIGKILL loses at most those 100 ms of lines.
 */
function stdoutStream(): DestinationStream {
  if (!isMainThread) return pino.destination({ dest: 1, sync: true });
  return pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 100 });
}

/** Builds a logger; `destination` for tests that read what was logged. */
export function createLogger(level: string = logLevel(), destination?: DestinationStream): Logger {
  return pino(loggerOptions(level), destination ?? terminalStream() ?? stdoutStream());
}

/** The process's logger. A bad LOG_LEVEL is reported by loadConfig; here it falls back to info. */
export const logger: Logger = createLogger((() => {
  try {
    return logLevel();
  } catch {
    return 'info';
  }
})());

/** A child of `parent` whose bindings are censored like log lines (pino formats a child's bindings without the formatters). */
export function childLogger(parent: Logger, bindings: Record<string, unknown>): Logger {
  return parent.child(redactSecrets(bindings) as Record<string, unknown>);
}

/** A child logger for one part of the service: every line carries `component`. */
export function componentLogger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return childLogger(logger, { component, ...bindings });
}
