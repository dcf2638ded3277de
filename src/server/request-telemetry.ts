// One log line per GraphQL request over HTTP (operation, key id — never the
// key —, HTTP status, duration, error id and code), and, with tracing on, one
// server span per request named after its operation ("mutation
// CreateFaceswapV4Job"), continuing the client's W3C traceparent when it sends
// one. Nothing here runs when LOG_LEVEL hides info and tracing is off: the
// HTTP handler then passes no telemetry record, and the plugin returns at once.
import type { ApolloServerPlugin, HTTPGraphQLRequest } from '@apollo/server';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { componentLogger } from '../util/logger.js';
import { SpanKind, spanFailed, tracingEnabled, withSpan, type Span } from '../util/tracing.js';

const log = componentLogger('http');

export interface RequestTelemetry {
  started: number;
  operation: string | null;
  type: string | null;
  keyId: string | null;
  errorId: string | null;
  errorCode: string | null;
  span: Span | undefined;
}

const TELEMETRY = Symbol('request telemetry');
type Carrier = HTTPGraphQLRequest & { [TELEMETRY]?: RequestTelemetry };

/** The request Apollo gets, carrying `t` for the plugin below. */
export function withTelemetry(request: HTTPGraphQLRequest, t: RequestTelemetry | null): HTTPGraphQLRequest {
  if (t) (request as Carrier)[TELEMETRY] = t;
  return request;
}

/** Reads the operation and the first error of each request into its telemetry record. */
export const requestTelemetryPlugin: ApolloServerPlugin = {
  async requestDidStart(rc) {
    const t = (rc.request.http as Carrier | undefined)?.[TELEMETRY];
    if (!t) return;
    return {
      async didResolveOperation({ operationName, operation }) {
        t.operation = operationName ?? null;
        t.type = operation?.operation ?? null;
        t.span?.updateName(`${t.type}${t.operation ? ` ${t.operation}` : ''}`);
        t.span?.setAttributes({ 'graphql.operation.type': t.type ?? 'unknown', ...(t.operation ? { 'graphql.operation.name': t.operation } : {}) });
      },
      async willSendResponse({ response }) {
        const body = response.body;
        const errors = body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors;
        const first = errors?.find((e) => e.extensions?.errorId) ?? errors?.[0];
        if (!first) return;
        t.errorCode = typeof first.extensions?.code === 'string' ? first.extensions.code : null;
        t.errorId = typeof first.extensions?.errorId === 'string' ? first.extensions.errorId : null;
      },
    };
  },
};

/**
 * Runs `handle` with a telemetry record when logs at info or traces are on
 * (else with null, at no cost), and logs the request when its response ends.
 */
export function observeRequest(
  req: IncomingMessage,
  res: ServerResponse,
  handle: (t: RequestTelemetry | null) => Promise<void>,
): Promise<void> {
  const logging = log.isLevelEnabled('info');
  if (!logging && !tracingEnabled()) return handle(null);
  const t: RequestTelemetry = {
    started: performance.now(), operation: null, type: null, keyId: null, errorId: null, errorCode: null, span: undefined,
  };
  if (logging) {
    res.once('close', () => {
      const fields = {
        operation: t.operation, type: t.type, keyId: t.keyId, status: res.statusCode,
        durationMs: Math.round((performance.now() - t.started) * 100) / 100,
        ...(t.errorCode ? { errorCode: t.errorCode } : {}), ...(t.errorId ? { errorId: t.errorId } : {}),
      };
      log.info(fields, 'graphql request');
    });
  }
  return withSpan('graphql', { kind: SpanKind.SERVER, headers: req.headers, attributes: { 'http.request.method': req.method ?? 'GET' } }, async (span) => {
    t.span = span;
    try {
      await handle(t);
    } finally {
      span?.setAttribute('http.response.status_code', res.statusCode);
      if (t.keyId) span?.setAttribute('swapyard.api_key.id', t.keyId);
      if (res.statusCode >= 500) spanFailed(span, `HTTP ${res.statusCode}`);
    }
  });
}
