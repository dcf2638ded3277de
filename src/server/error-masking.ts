// No internal text reaches a client: no Prisma, SQL or driver message, stack, file
// path or address. An error is the client's to read when it is a GraphQLError all
// the way down (thrown on purpose: bad input, not found, a limit, graphql's own
// validation and coercion). One that wraps anything else (a Prisma error, a bug)
// reaches the client as INTERNAL_SERVER_ERROR with an error id, logged beside the
// detail; a database that cannot be reached as SERVICE_UNAVAILABLE (HTTP 503 with
// Retry-After, ws close 1013). Used by Apollo (formatError, the plugin below) and
// by graphql-ws (results and close reasons).
import { randomUUID } from 'node:crypto';
import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, type FormattedExecutionResult, type GraphQLFormattedError } from 'graphql';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { isArtifactStoreUnavailable } from '../services/artifact-store-unavailable.js';
import { componentLogger } from '../util/logger.js';

/** Where internal errors are logged, with their id (exported for the tests that read it). */
export const errorLog = componentLogger('errors');

/** What a client is told to wait before retrying while the database is unreachable. */
export const RETRY_AFTER_SECONDS = 5;
export const SERVICE_UNAVAILABLE = 'SERVICE_UNAVAILABLE';
/** WebSocket close code 1013 "Try Again Later" (RFC 6455 registry); graphql-ws clients retry it. */
export const WS_TRY_AGAIN_LATER = 1013;

export const serviceUnavailable: GraphQLFormattedError = {
  message: `The service cannot reach its database; retry in ${RETRY_AFTER_SECONDS} s.`,
  extensions: { code: SERVICE_UNAVAILABLE, retryAfterSeconds: RETRY_AFTER_SECONDS },
};

/** When the shared artifact store (S3) cannot be reached: a create with inline images, say. */
export const artifactStoreUnavailable: GraphQLFormattedError = {
  message: `The service cannot reach its artifact store; retry in ${RETRY_AFTER_SECONDS} s.`,
  extensions: { code: SERVICE_UNAVAILABLE, retryAfterSeconds: RETRY_AFTER_SECONDS },
};

/** The error a GraphQLError chain ends in when that is not a GraphQLError; null when it is the client's to read. */
function internalCause(error: unknown): unknown {
  let e = error;
  while (e instanceof GraphQLError) {
    if (!e.originalError) return null;
    e = e.originalError;
  }
  return e ?? null;
}

/** Logs an unexpected error with a fresh id, and returns the id for the client. */
export function logInternalError(err: unknown, where: string): string {
  const errorId = randomUUID();
  errorLog.error({ errorId, where, err }, 'internal error');
  return errorId;
}

/** The operator's line for an unreachable artifact store: which store and what failed (the client gets none of it). */
export function logArtifactStoreUnavailable(err: Error, where: string): void {
  errorLog.warn({ where, store: (err as { store?: string }).store }, err.message);
}

/** Apollo's formatError: `formatted` as it is, or masked. */
export function maskError(formatted: GraphQLFormattedError, error: unknown, where = 'graphql'): GraphQLFormattedError {
  const cause = internalCause(error);
  if (cause === null) return formatted;
  const place = { ...(formatted.locations ? { locations: formatted.locations } : {}), ...(formatted.path ? { path: formatted.path } : {}) };
  if (isDatabaseUnavailable(cause)) return { ...serviceUnavailable, ...place };
  if (isArtifactStoreUnavailable(cause)) {
    logArtifactStoreUnavailable(cause, where);
    return { ...artifactStoreUnavailable, ...place };
  }
  const errorId = logInternalError(cause, where);
  return { message: `Internal server error (error id ${errorId}).`, ...place, extensions: { code: 'INTERNAL_SERVER_ERROR', errorId } };
}

/** Errors as graphql-ws sends them (its onError: an operation that failed as a whole), masked. */
export function maskErrors(errors: readonly GraphQLError[]): GraphQLFormattedError[] {
  return errors.map((e) => maskError(e.toJSON(), e, 'graphql-ws'));
}

/** An execution result as graphql-ws sends it (its onNext), its errors masked. */
export function maskResult(result: { errors?: readonly GraphQLError[] }): FormattedExecutionResult {
  if (!result.errors?.length) return result as FormattedExecutionResult;
  return { ...result, errors: maskErrors(result.errors) } as FormattedExecutionResult;
}

/** How to close a socket after `err`: a GraphQL error (a syntax error) says what it is; anything else is masked. */
export function wsCloseFor(err: unknown): { code: number; reason: string } {
  const cause = internalCause(err);
  if (cause === null) {
    const message = (err as GraphQLError).message;
    // A close reason is at most 123 bytes.
    return { code: 4500, reason: Buffer.byteLength(message) < 124 ? message : 'Bad request' };
  }
  if (isDatabaseUnavailable(cause)) return { code: WS_TRY_AGAIN_LATER, reason: `Service unavailable: retry in ${RETRY_AFTER_SECONDS} s` };
  return { code: 4500, reason: `Internal server error (error id ${logInternalError(cause, 'graphql-ws')})` };
}

/** Answers 503 with Retry-After when a response carries SERVICE_UNAVAILABLE (the database went away mid-request). */
export const serviceUnavailablePlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async willSendResponse({ response }) {
        const body = response.body;
        const errors = body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors;
        if (!errors?.some((e) => e.extensions?.code === SERVICE_UNAVAILABLE)) return;
        response.http.status = 503;
        response.http.headers.set('retry-after', String(RETRY_AFTER_SECONDS));
      },
    };
  },
};
