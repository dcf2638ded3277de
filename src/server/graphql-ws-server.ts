// graphql-ws on a `ws` server: graphql-ws's own adapter (graphql-ws/use/ws,
// useServer, 6.4), which its docs offer as a starter to copy, rewritten so an idle
// connection holds less. The protocol is graphql-ws's makeServer as before; the
// close codes, error handling and keep-alive are use/ws's. What changed is what
// stays alive per connection:
// - the message listener is a plain function. use/ws's async listener stays
//   suspended as long as the subscription its subscribe message started, holding
//   its frame, promises and the message's buffer (~0.9 KB per idle connection);
// - ctx.extra has no upgrade request (~1.3 KB; nothing reads it after the handshake);
// - one keep-alive timer for all sockets instead of an interval, a pong timeout and
//   closures per socket. As in use/ws, every socket is pinged every 12 s and one
//   that has not answered a ping 12 s later is terminated (only the phase of the
//   pings differs: one clock for all sockets, not one per socket);
// - the connection_init timer is dropped once init arrives;
// - graphql-ws's view of the socket is an object with methods, not three closures.
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
  ws.once('error', (err) => {
    console.error('Internal error emitted on the WebSocket server. Please check your implementation.', err);
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
  });

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
        console.warn(
          `Client provided the unsupported and deprecated subprotocol "${socket.protocol}" used by subscriptions-transport-ws.`
            + 'Please see https://www.apollographql.com/docs/apollo-server/data/subscriptions/#switching-from-subscriptions-transport-ws.',
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
