// One node:http server: GraphQL over HTTP at /graphql (Apollo Server),
// GraphQL subscriptions over WebSocket on the same path (graphql-ws), stored
// outputs at /outputs/<job id> and inline inputs at /inputs/<job id>/<field>.
// Apollo runs without a framework: the handler below is the whole integration.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { subscribeSharingResults } from './shared-subscriptions.js';
import { subscriptionDocuments } from './subscription-documents.js';
import { useGraphQLWsServer } from './graphql-ws-server.js';
import { WebSocketServer } from 'ws';
import type { Db } from '../db/client.js';
import type { Context } from '../schema/context.js';
import { authenticateApiKey, bearerToken, type ApiKeyIdentity } from '../services/api-keys.js';
import { KeyContexts, type ConnectionState } from './key-contexts.js';
import type { ArtifactStore } from '../services/artifacts.js';
import { serveInput, serveOutput } from './outputs.js';
import { BodyTooLarge, readBody } from './read-body.js';

export interface HttpServerOptions {
  schema: GraphQLSchema;
  db: Db;
  artifacts: ArtifactStore;
  host: string;
  port: number;
  maxBodyBytes: number;
  /** Builds a resolver context for an authenticated key; `publicUrl` is known once the server listens. */
  context: (apiKey: ApiKeyIdentity, publicUrl: string) => Context;
  publicUrl?: string | null;
}

export interface RunningHttpServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'UNAUTHENTICATED', field: 'Authorization', rule: 'api-key', http: { status: 401 } },
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Reads the key from connection_init's payload: { authorization: "Bearer …" } (any case of the name). */
function keyFromConnectionParams(params: Readonly<Record<string, unknown>> | undefined): string | null {
  if (!params) return null;
  const entry = Object.entries(params).find(([k]) => k.toLowerCase() === 'authorization');
  return bearerToken(entry?.[1]);
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  let publicUrl = opts.publicUrl ?? '';
  const server = createServer();
  const wsServer = new WebSocketServer({ server, path: '/graphql', maxPayload: opts.maxBodyBytes });
  const keyContexts = new KeyContexts<Context>();
  const documents = subscriptionDocuments(opts.schema);
  const wsCleanup = useGraphQLWsServer<Record<string, unknown>, ConnectionState<Context>>(
    {
      schema: opts.schema,
      subscribe: subscribeSharingResults,
      // graphql-ws's own parse + validate, with one shared document per distinct text.
      // Validation errors go back to the client as graphql-ws sends its own; a syntax
      // error throws and closes the socket (4500), as it did when graphql-ws parsed.
      onSubscribe: (_ctx, _id, payload) => {
        const document = documents(payload.query);
        if (!('kind' in document)) return document;
        return { schema: opts.schema, document, operationName: payload.operationName, variableValues: payload.variables };
      },
      onConnect: async (ctx) => {
        const token = keyFromConnectionParams(ctx.connectionParams);
        // graphql-ws keeps connectionParams on ctx for the connection's life; nothing
        // reads them after this, and they hold the key's secret.
        (ctx as { connectionParams?: unknown }).connectionParams = undefined;
        // false closes the socket with 4403 Forbidden before any subscription starts.
        // The connection holds its key's shared entry (and through it the key's
        // identity), not an identity object of its own.
        return keyContexts.connect(
          ctx.extra,
          async () => (token ? authenticateApiKey(opts.db.pool, token) : null),
          (apiKey) => opts.context(apiKey, publicUrl),
        );
      },
      onClose: (ctx) => keyContexts.close(ctx.extra),
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
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      { async serverWillStart() { return { async drainServer() { await wsCleanup.dispose(); } }; } },
    ],
  });
  await apollo.start();

  async function handleGraphQL(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    // The key is looked up as the request arrives, so the query's round trip overlaps
    // reading, parsing and validating the request instead of following them.
    const token = bearerToken(req.headers.authorization);
    const lookup = token ? authenticateApiKey(opts.db.pool, token) : null;
    // Awaited by the context below; a request refused before then must not leave it unhandled.
    lookup?.catch(() => {});
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
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: async () => {
        if (!lookup) throw unauthenticated('Send your API key as "Authorization: Bearer <key>".');
        const apiKey = await lookup;
        if (!apiKey) throw unauthenticated('The API key is unknown or revoked.');
        return opts.context(apiKey, publicUrl);
      },
    });
    for (const [name, value] of response.headers) res.setHeader(name, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const handled = url.pathname === '/graphql'
      ? handleGraphQL(req, res, url)
      : url.pathname.startsWith('/outputs/')
        ? serveOutput(req, res, { db: opts.db, artifacts: opts.artifacts, id: decodeURIComponent(url.pathname.slice('/outputs/'.length)) })
        : url.pathname.startsWith('/inputs/')
          ? serveInput(req, res, { db: opts.db, artifacts: opts.artifacts, path: decodeURIComponent(url.pathname.slice('/inputs/'.length)) })
        : url.pathname === '/healthz'
          ? Promise.resolve(sendJson(res, 200, { ok: true }))
          : Promise.resolve(sendJson(res, 404, { error: 'not found; GraphQL is served at /graphql' }));
    handled.catch((err) => {
      console.error('[http] request failed:', err);
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error' }] });
      else res.destroy();
    });
  });

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
      await apollo.stop();
    },
  };
}
