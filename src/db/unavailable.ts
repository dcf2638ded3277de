// Whether an error means the database cannot be reached right now (down, restarting,
// out of connections) rather than that a query is wrong: such requests are answered
// 503 with Retry-After, not as internal errors. The driver (pg), its pool and Prisma
// (through @prisma/adapter-pg) each report it their own way.

/** Socket errors pg throws as they are (the API's resolvers open no other connections). */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
/** PostgreSQL: admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections (class 08 is tested apart). */
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
/** Prisma: can't reach, timed out, server closed the connection, pool timeout, too many connections. */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2037']);
/** @prisma/adapter-pg's kinds for the same. */
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
/** pg and pg-pool throw these without a code. */
const PG_MESSAGES = [/^Connection terminated/, /^timeout exceeded when trying to connect/, /not queryable/];

function unavailableItself(err: object): boolean {
  const { code, message, meta } = err as { code?: unknown; message?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown } } } };
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || SQLSTATES.has(code) || PRISMA_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  if (ADAPTER_KINDS.has(String(meta?.driverAdapterError?.cause?.kind))) return true;
  return typeof message === 'string' && PG_MESSAGES.some((m) => m.test(message));
}

/**
 * True when `err`, or an error it wraps as GraphQL does (`originalError`) or as an
 * AggregateError (`errors`), says the database is unreachable. Not `cause`: fetch
 * puts its socket errors there, and those are about other servers.
 */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 5) return false;
  if (unavailableItself(err)) return true;
  const { originalError, errors } = err as { originalError?: unknown; errors?: unknown };
  return isDatabaseUnavailable(originalError, depth + 1)
    || (Array.isArray(errors) && errors.some((e) => isDatabaseUnavailable(e, depth + 1)));
}
