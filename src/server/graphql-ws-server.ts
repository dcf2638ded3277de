// graphql-ws on a `ws` server: graphql-ws's own adapter (graphql-ws/use/ws,
// which its docs offer as a starter to copy), rewritten so an idle connection
// holds less: a plain message listener instead of one suspended async call per
// subscription, no upgrade request kept, one keep-alive timer for all sockets
// (same 12 s ping and pong deadline), the init timer dropped once init arrives.
// Protocol, close codes and error handling are graphql-ws's. What each change
// saves per connection: docs/PERFORMANCE.md.
import {
  CloseCode,
  DEPRECATED_GRAPHQL_WS_PROTOCOL,
  GRAPHQL_TRANSPORT_WS_PROTOCOL,
  handleProtocols,
  makeServer,
  type ConnectionInitMessage,
  type Disposable,
  type ServerOptions,
  type WebSocket as GraphQLWsSocket,
} from 'graphql-ws';
import type { WebSocket, WebSocketServer } from 'ws';
import { wsCloseFor } from './error-masking.js';
import { componentLogger } from '../util/logger.js';

const log = componentLogger('graphql-ws');

export interface Extra {
  readonly socket: WebSocket;
}

const KEEP_ALIVE_MS = 12_000;

/** The socket as graphql-ws sees it (use/ws passes the same three functions as closures). */
class Transport implements GraphQLWsSocket {
  readonly protocol: string;

  constructor(private readonly socket: WebSocket) {
    this.protocol = socket.protocol;
  }

  send(data: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.readyState !== this.socket.OPEN) return resolve();
      this.socket.send(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(code: number, reason: string): void {
    this.socket.close(code, reason);
  }

  onMessage(cb: (data: string) => Promise<void>): void {
    // Not an async function: it returns at once instead of awaiting cb, which for a
    // subscribe message only settles when the subscription ends. (Inline arrows, not
    // named consts: tsx's esbuild gives a named closure a `name` property, which costs
    // ~250 bytes per instance.)
    this.socket.on('message', (data) => {
      try {
        cb(String(data)).catch((err) => this.failed(err));
      } catch (err) {
        this.failed(err);
      }
    });
  }

  private failed(err: unknown): void {
    // A syntax error says so; anything else is masked (error-masking.ts), the database being down as 1013.
    const { code, reason } = wsCloseFor(err);
    this.socket.close(code, reason);
  }
}

export function useGraphQLWsServer<
  P extends ConnectionInitMessage['payload'] = ConnectionInitMessage['payload'],
  E extends Record<PropertyKey, unknown> = Record<PropertyKey, never>,
>(options: ServerOptions<P, Extra & Partial<E>>, ws: WebSocketServer, keepAliveMs = KEEP_ALIVE_MS): Disposable {
  const isProd = process.env.NODE_ENV === 'production';
  // The wait for connection_init (4408 when it does not come in time) is kept here
  // rather than in makeServer, whose timer stays referenced for the connection's
  // life even after init; this one is dropped once init arrives. makeServer calls
  // onConnect as soon as it reads connection_init, which is when its timer would
  // have stopped mattering.
  const initWaitMs = options.connectionInitWaitTimeout ?? 3_000;
  const waitingForInit = new Map<WebSocket, NodeJS.Timeout>();
  const initReceived = (socket: WebSocket) => {
    clearTimeout(waitingForInit.get(socket));
    waitingForInit.delete(socket);
  };
  const server = makeServer({
    ...options,
    connectionInitWaitTimeout: 0,
    onConnect: (ctx) => {
      initReceived(ctx.extra.socket);
      return options.onConnect?.(ctx);
    },
  });
  ws.options.handleProtocols = handleProtocols;
  const onServerError = (err: Error) => {
    // ws re-emits the HTTP server's own errors; a failed listen (port in use)
    // is reported by startHttpServer as a start-up failure, not as this.
    if ((err as NodeJS.ErrnoException).syscall === 'listen') {
      ws.once('error', onServerError);
      return;
    }
    log.error({ err }, 'internal error emitted on the WebSocket server');
    let firstErr: unknown = null;
    const { code, reason } = wsCloseFor(err);
    for (const client of ws.clients) {
      try {
        client.close(code, reason);
      } catch (err2) {
        firstErr = firstErr ?? err2;
      }
    }
    if (firstErr) throw firstErr;
  };
  ws.once('error', onServerError);

  // Sockets pinged on the last tick that have not answered yet.
  const awaitingPong = new Set<WebSocket>();
  const heartbeat = setInterval(() => {
    for (const socket of ws.clients) {
      if (awaitingPong.has(socket)) {
        awaitingPong.delete(socket);
        socket.terminate();
      } else if (socket.readyState === socket.OPEN) {
        awaitingPong.add(socket);
        socket.ping();
      }
    }
  }, keepAliveMs);
  heartbeat.unref();

  // Listeners shared by every socket (`this` is the socket), rather than closures per
  // socket. use/ws listens for the first error only; ws emits at most one per socket.
  function onPong(this: WebSocket): void {
    awaitingPong.delete(this);
  }
  function onError(this: WebSocket, err: Error): void {
    const { code, reason } = wsCloseFor(err);
    this.close(code, reason);
  }

  ws.on('connection', (socket) => {
    socket.on('error', onError);
    socket.on('pong', onPong);
    if (socket.protocol === GRAPHQL_TRANSPORT_WS_PROTOCOL && initWaitMs > 0 && Number.isFinite(initWaitMs)) {
      waitingForInit.set(socket, setTimeout(() => {
        waitingForInit.delete(socket);
        socket.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout');
      }, initWaitMs));
    }
    const closed = server.opened(new Transport(socket), { socket } as Extra & Partial<E>);
    // ws emits close once; on() spares the wrapper once() adds.
    socket.on('close', (code, reason) => {
      awaitingPong.delete(socket);
      initReceived(socket);
      if (!isProd && code === CloseCode.SubprotocolNotAcceptable && socket.protocol === DEPRECATED_GRAPHQL_WS_PROTOCOL) {
        log.warn(
          { protocol: socket.protocol },
          'a client asked for the deprecated subscriptions-transport-ws subprotocol; see https://www.apollographql.com/docs/apollo-server/data/subscriptions/#switching-from-subscriptions-transport-ws',
        );
      }
      void closed(code, String(reason));
    });
  });

  return {
    async dispose() {
      clearInterval(heartbeat);
      for (const client of ws.clients) client.close(1001, 'Going away');
      ws.removeAllListeners();
      await new Promise<void>((resolve, reject) => ws.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
