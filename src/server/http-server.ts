// One node:http server: GraphQL over HTTP at /graphql (Apollo Server),
// GraphQL subscriptions over WebSocket on the same path (graphql-ws), stored
// outputs at /outputs/<job id> and inline inputs at /inputs/<job id>/<field>,
// their thumbnails at /thumbnails/… (thumbnails.ts), and the web dashboard at /
// (dashboard.ts).
// Apollo runs without a framework: the handler below is the whole integration.
// What makes it safe to expose to any key lives in modules of its own: the
// operation limits, error masking, the response bound, authentication from the
// headers before the body, per-key limits and revocation, and CORS.
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import type { GraphQLSchema } from 'graphql';
import { subscribeSharingResults } from './shared-subscriptions.js';
import { subscriptionDocuments } from './subscription-documents.js';
import { useGraphQLWsServer, type Extra } from './graphql-ws-server.js';
import { WebSocketServer } from 'ws';
import type { Db } from '../db/client.js';
import type { Context } from '../resolvers/context.js';
import { authenticateApiKey, bearerToken, type ApiKeyIdentity } from '../services/api-keys.js';
import { corsHandler } from './cors.js';
import { artifactStoreUnavailable, logArtifactStoreUnavailable, logInternalError, maskError, maskErrors, RETRY_AFTER_SECONDS, serviceUnavailable, serviceUnavailablePlugin } from './error-masking.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { isArtifactStoreUnavailable } from '../services/artifact-store-unavailable.js';
import { httpRequestLimitError, persistedOperationLimitsPlugin, type OperationLimits } from './operation-limits.js';
import { authenticateHeaders, unauthenticated, type Refusal } from './request-auth.js';
import { boundedStringify, boundedWsResults } from './response-limit.js';
import { KeyContexts, type ConnectionState } from './key-contexts.js';
import { KeyLimits, rateLimitedRefusal } from './key-limits.js';
import { closeConnectionsOfDeadKeys, type NoticeSource } from './key-revocations.js';
import type { HttpServerLimits, KeyLimitsConfig, LabellingConfig } from '../config.js';
import type { ArtifactStore } from '../services/artifacts.js';
import { serveInput, serveOutput } from './outputs.js';
import { BodyTooLarge, readBody } from './read-body.js';
import { healthRoutes } from './health.js';
import type { Readiness } from '../services/readiness.js';
import { metricsHandler, type MetricsAccess } from './metrics-endpoint.js';
import { observeRequest, requestTelemetryPlugin, withTelemetry, type RequestTelemetry } from './request-telemetry.js';
import { componentLogger } from '../util/logger.js';
import { observeLive } from '../util/metrics.js';

const log = componentLogger('http');
import { Dashboard } from './dashboard.js';
import { serveThumbnail, Thumbnails } from './thumbnails.js';
import type { UrlSigner } from '../util/url-signing.js';

export interface HttpServerOptions {
  schema: GraphQLSchema;
  db: Db;
  artifacts: ArtifactStore;
  host: string;
  port: number;
  maxBodyBytes: number;
  maxResponseBytes: number;
  operations: OperationLimits;
  corsOrigins: string[];
  /** Builds a resolver context for an authenticated key; `publicUrl` is known once the server listens. */
  context: (apiKey: ApiKeyIdentity, publicUrl: string) => Context;
  publicUrl?: string | null;
  /** Per-key request rate, connections and operations per connection. */
  keyLimits: KeyLimitsConfig;
  /** Where revocation notices arrive (the event hub's LISTEN connection). */
  notices: NoticeSource;
  /** What /readyz reports: the database and the process's LISTEN connections. */
  readiness: Readiness;
  /** Timeouts and the connection cap (HTTP_* variables); Node's defaults when left out. */
  limits?: HttpServerLimits;
  /** Who may GET /metrics on this server; null: not served here (METRICS_ADDRESS has its own listener). */
  metrics: MetricsAccess | null;
  /** Synthetic-media labels of served outputs (labelled at completion, or at the first download of an older job). */
  labelling: LabellingConfig;
  /** Signs and checks links that need no Authorization header (thumbnails as plain <img src>). */
  urls: UrlSigner;
}

export interface RunningHttpServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Refuses a request from its headers, its body unread: node discards a body of a
 * declared length within the limit once the answer is sent, so the client reads the
 * answer; any other body is cut off by closing the connection.
 */
function refuse(req: IncomingMessage, res: ServerResponse, refusal: Refusal, maxBodyBytes: number): void {
  const declared = Number(req.headers['content-length'] ?? 0);
  const close = req.headers['transfer-encoding'] !== undefined || !(declared <= maxBodyBytes);
  sendJson(res, refusal.status, { errors: [refusal.error] }, { ...refusal.headers, ...(close ? { connection: 'close' } : {}) });
}

/** Reads the key from connection_init's payload: { authorization: "Bearer …" } (any case of the name). */
function keyFromConnectionParams(params: Readonly<Record<string, unknown>> | undefined): string | null {
  if (!params) return null;
  const entry = Object.entries(params).find(([k]) => k.toLowerCase() === 'authorization');
  return bearerToken(entry?.[1]);
}

/**
 * How often Node checks requests against their headers and request timeouts:
 * its default 30 s would let a slow client overstay a short timeout by that
 * much, so a tenth of the shorter timeout (at least 100 ms, at most 30 s).
 */
function serverOptions(limits: HttpServerLimits | undefined): ServerOptions {
  if (!limits) return {};
  const shortest = [limits.headersTimeoutMs, limits.requestTimeoutMs].filter((ms) => ms > 0);
  if (shortest.length === 0) return { requestTimeout: 0 };
  return {
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(Math.min(...shortest) / 10))),
  };
}

/** The limits that are properties of the server rather than options of createServer. */
function applyServerLimits(server: Server, limits: HttpServerLimits | undefined): void {
  if (!limits) return;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // Past the cap Node closes new sockets at once; WebSocket connections count too.
  if (limits.maxConnections > 0) server.maxConnections = limits.maxConnections;
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  let publicUrl = opts.publicUrl ?? '';
  const server = createServer(serverOptions(opts.limits));
  applyServerLimits(server, opts.limits);
  const wsServer = new WebSocketServer({ server, path: '/graphql', maxPayload: opts.maxBodyBytes });
  type Connection = ConnectionState<Context> & Extra;
  const keyContexts = new KeyContexts<Context, Connection>();
  const limits = new KeyLimits(opts.keyLimits, opts.db.pool);
  const revocations = await closeConnectionsOfDeadKeys({
    keyContexts,
    pool: opts.db.pool,
    notices: opts.notices,
    close: (connection, code, reason) => connection.socket.close(code, reason),
    log: (line) => log.warn(line),
  });
  const documents = subscriptionDocuments(opts.schema, opts.operations);
  const wsResults = boundedWsResults(opts.maxResponseBytes);
  const wsCleanup = useGraphQLWsServer<Record<string, unknown>, ConnectionState<Context>>(
    {
      schema: opts.schema,
      subscribe: subscribeSharingResults,
      // graphql-ws's own parse + validate, with one shared document per distinct text,
      // after the operation limits. Limit, syntax and validation errors go back as an
      // `error` message for that id alone, as do operations beyond the socket's cap or
      // the key's rate; the socket and its other subscriptions live on.
      onSubscribe: async (ctx, _id, payload) => {
        const refused = await limits.admitSubscribe(ctx.extra.shared!.apiKeyId, ctx.subscriptions);
        if (refused) return refused;
        if (log.isLevelEnabled('info')) log.info({ operation: payload.operationName ?? null, keyId: ctx.extra.shared!.apiKeyId }, 'graphql subscribe');
        const document = documents(payload.query, payload);
        if (!('kind' in document)) return document;
        return { schema: opts.schema, document, operationName: payload.operationName, variableValues: payload.variables };
      },
      onConnect: async (ctx) => {
        const token = keyFromConnectionParams(ctx.connectionParams);
        // graphql-ws keeps connectionParams on ctx for the connection's life; nothing
        // reads them after this, and they hold the key's secret.
        (ctx as { connectionParams?: unknown }).connectionParams = undefined;
        // false closes the socket with 4403 Forbidden before any subscription starts;
        // a refusal (the key's connection cap, a revocation racing this lookup)
        // closes it first with its own code and reason. The connection holds its
        // key's shared entry (and through it the key's identity), not an identity
        // object of its own.
        const outcome = await keyContexts.connect(
          ctx.extra as Connection,
          async () => (token ? authenticateApiKey(opts.db.pool, token) : null),
          (apiKey) => opts.context(apiKey, publicUrl),
          (apiKey, open) => revocations.refusal(apiKey.id) ?? limits.socketRefusal(open),
        );
        if (!outcome.connected && outcome.refusal) ctx.extra.socket.close(outcome.refusal.code, outcome.refusal.reason);
        return outcome.connected;
      },
      onClose: (ctx) => keyContexts.close(ctx.extra as Connection),
      // Errors masked (no internals), results bounded by MAX_RESPONSE_BYTES, as over HTTP.
      onNext: (_ctx, _id, _payload, _args, result) => wsResults(result),
      onError: (_ctx, _id, _payload, errors) => maskErrors(errors),
      // Only acknowledged connections subscribe, and those hold their shared entry
      // (graphql-ws asks for the context right after a subscribe message, before any close).
      context: (ctx) => ctx.extra.shared!.context,
    },
    wsServer,
  );

  const apollo = new ApolloServer<Context>({
    schema: opts.schema,
    introspection: true,
    includeStacktraceInErrorResponses: false,
    formatError: (formatted, error) => maskError(formatted, error),
    stringifyResult: boundedStringify(opts.maxResponseBytes),
    // CSRF prevention guards cookie-authenticated APIs: a browser attaches cookies to a
    // forged cross-site request on its own, but never an Authorization header, and this
    // API reads nothing else. Off, so GET queries (urql's default) work.
    csrfPrevention: false,
    // The entry points own SIGINT/SIGTERM (main.ts stops the whole app, this server
    // included). Apollo's own handler, installed unless NODE_ENV=test, would start a
    // second stop and re-raise the signal into ours: the process never exited.
    stopOnTerminationSignals: false,
    plugins: [
      // Apollo's cache-control plugin hooks every resolved field to work out cache
      // hints this API never sets; its one visible effect, `cache-control: no-store`
      // on every answer, is set in handleGraphQL instead.
      ApolloServerPluginCacheControlDisabled(),
      persistedOperationLimitsPlugin(opts.operations),
      serviceUnavailablePlugin,
      requestTelemetryPlugin,
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      { async serverWillStart() { return { async drainServer() { revocations.stop(); await wsCleanup.dispose(); } }; } },
    ],
  });
  await apollo.start();

  async function handleGraphQL(req: IncomingMessage, res: ServerResponse, url: URL, t: RequestTelemetry | null): Promise<void> {
    // The key is checked before the body is read. A GET has no body: one without a key
    // goes on to Apollo, whose landing page a browser may be asking for.
    const auth = await authenticateHeaders(opts.db.pool, req.headers.authorization);
    const refusal = 'refusal' in auth ? auth.refusal : null;
    if (refusal && (req.method !== 'GET' || refusal.status !== 401)) return refuse(req, res, refusal, opts.maxBodyBytes);
    // Over its rate, a key's request is refused from its headers too: no body read, nothing parsed.
    if (!refusal) {
      if (t) t.keyId = (auth as { apiKey: ApiKeyIdentity }).apiKey.id;
      const limited = await limits.admit((auth as { apiKey: ApiKeyIdentity }).apiKey.id);
      if (limited) return refuse(req, res, rateLimitedRefusal(limited), opts.maxBodyBytes);
    }
    if (/100-continue/i.test(String(req.headers.expect ?? ''))) res.writeContinue();
    let body: unknown = undefined;
    if (req.method === 'POST') {
      let raw: Buffer;
      try {
        raw = await readBody(req, opts.maxBodyBytes);
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          sendJson(res, 413, {
            errors: [{
              message: `The request body is larger than ${opts.maxBodyBytes} bytes.`,
              extensions: { code: 'PAYLOAD_TOO_LARGE', field: 'body', rule: 'max-bytes' },
            }],
          });
          return;
        }
        throw err;
      }
      const type = req.headers['content-type'] ?? '';
      if (type.includes('json')) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          sendJson(res, 400, {
            errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_REQUEST', field: 'body', rule: 'json' } }],
          });
          return;
        }
      } else {
        body = raw.toString('utf8');
      }
    }
    const exceeded = httpRequestLimitError(opts.schema, opts.operations, body, url.searchParams);
    if (exceeded) return sendJson(res, 400, { errors: [exceeded.toJSON()] });
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: withTelemetry({ method: req.method ?? 'GET', headers, search: url.search, body }, t),
      context: async () => {
        if (refusal) throw unauthenticated(refusal.error.message);
        return opts.context((auth as { apiKey: ApiKeyIdentity }).apiKey, publicUrl);
      },
    });
    // Answers are the key's own data: no cache along the way may keep them.
    res.setHeader('cache-control', 'no-store');
    for (const [name, value] of response.headers) res.setHeader(name, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  }

  const cors = corsHandler(opts.corsOrigins);
  const health = healthRoutes(opts.readiness);
  const metrics = opts.metrics ? metricsHandler(opts.metrics) : null;
  const stopObserving = observeLive({ sockets: () => wsServer.clients.size });
  const dashboard = new Dashboard();
  const thumbnails = new Thumbnails();
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    if (cors?.(req, res)) return;
    const url = new URL(req.url ?? '/', 'http://localhost');
    // A client that waits for 100 Continue before sending its body gets it only
    // once its key is accepted (handleGraphQL); elsewhere at once, as node would.
    if (url.pathname !== '/graphql' && /100-continue/i.test(String(req.headers.expect ?? ''))) res.writeContinue();
    const handled = url.pathname === '/graphql'
      ? observeRequest(req, res, (t) => handleGraphQL(req, res, url, t))
      : url.pathname.startsWith('/outputs/')
        ? serveOutput(req, res, { db: opts.db, artifacts: opts.artifacts, limits, labelling: opts.labelling, urls: opts.urls, url, id: decodeURIComponent(url.pathname.slice('/outputs/'.length)) })
        : url.pathname.startsWith('/inputs/')
          ? serveInput(req, res, { db: opts.db, artifacts: opts.artifacts, limits, labelling: opts.labelling, urls: opts.urls, url, path: decodeURIComponent(url.pathname.slice('/inputs/'.length)) })
        : url.pathname.startsWith('/thumbnails/')
          ? serveThumbnail(req, res, { db: opts.db, artifacts: opts.artifacts, limits, labelling: opts.labelling, urls: opts.urls, url, thumbnails, path: decodeURIComponent(url.pathname.slice('/thumbnails/'.length)) })
        : dashboard.handles(url.pathname)
          ? Promise.resolve(dashboard.serve(req, res, url.pathname))
        : url.pathname === '/healthz' || url.pathname === '/readyz'
          ? Promise.resolve(health[url.pathname]!(req, res))
        : url.pathname === '/metrics' && metrics
          ? Promise.resolve(metrics(req, res))
          : Promise.resolve(sendJson(res, 404, { error: 'not found; GraphQL is served at /graphql' }));
    handled.catch((err) => {
      if (res.headersSent) {
        logInternalError(err, 'http');
        res.destroy();
      } else if (isDatabaseUnavailable(err)) {
        sendJson(res, 503, { errors: [serviceUnavailable] }, { 'retry-after': String(RETRY_AFTER_SECONDS) });
      } else if (isArtifactStoreUnavailable(err)) {
        logArtifactStoreUnavailable(err, 'http');
        sendJson(res, 503, { errors: [artifactStoreUnavailable] }, { 'retry-after': String(RETRY_AFTER_SECONDS) });
      } else {
        const errorId = logInternalError(err, 'http');
        sendJson(res, 500, { errors: [{ message: `Internal server error (error id ${errorId}).`, extensions: { code: 'INTERNAL_SERVER_ERROR', errorId } }] });
      }
    });
  };
  server.on('request', onRequest);
  server.on('checkContinue', onRequest);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
  publicUrl = opts.publicUrl ?? url;

  return {
    url,
    server,
    async close() {
      stopObserving();
      await apollo.stop();
    },
  };
}
