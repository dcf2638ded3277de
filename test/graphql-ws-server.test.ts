// The project's graphql-ws adapter for `ws` (src/server/graphql-ws-server.ts) on
// its own, with a short keep-alive: what use/ws did must still happen — pings,
// terminating a peer that stops answering them, closing a socket that never
// sends connection_init, refusing other subprotocols,
// answering operations, and closing everyone with 1001 on dispose. (The same
// tests pass against graphql-ws/use/ws's useServer, which takes the same arguments.)
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { useGraphQLWsServer } from '../src/server/graphql-ws-server.js';
import { pause, waitUntil } from './support/wait.js';

const KEEP_ALIVE_MS = 100;
let running: { server: Server; wss: WebSocketServer; dispose(): Promise<void> } | null = null;

async function start(options: { connectionInitWaitTimeout?: number } = {}): Promise<string> {
  const server = createServer();
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const schema = buildSchema(`type Query { hello: String }`);
  const ws = useGraphQLWsServer({ schema, roots: { query: { hello: () => 'world' } }, ...options }, wss, KEEP_ALIVE_MS);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  running = { server, wss, dispose: async () => ws.dispose() };
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}

afterEach(async () => {
  await running?.dispose();
  await new Promise((resolve) => running?.server.close(resolve));
  running = null;
});

function closeOf(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

function open(url: string, protocol: string, opts: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, protocol, opts);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

const messages = (ws: WebSocket) => {
  const seen: any[] = [];
  ws.on('message', (data) => seen.push(JSON.parse(String(data))));
  return seen;
};

/** connection_init, then waits for the ack (a subscribe sent before it is refused with 4401). */
async function init(ws: WebSocket): Promise<void> {
  const acked = new Promise<void>((resolve) => ws.once('message', () => resolve()));
  ws.send(JSON.stringify({ type: 'connection_init' }));
  await acked;
}

describe('graphql-ws adapter', () => {
  it('pings every keep-alive interval; a peer that answers stays connected', async () => {
    const url = await start();
    // When the server sent each ping, measured on the server: the client's arrival times
    // carry delivery delays (a late first arrival makes the gap look short on a busy machine).
    const sent: number[] = [];
    running!.wss.on('connection', (socket: WebSocket) => {
      const ping = socket.ping.bind(socket);
      socket.ping = (...args: Parameters<WebSocket['ping']>) => {
        sent.push(Date.now());
        return ping(...args);
      };
    });
    const ws = await open(url, 'graphql-transport-ws');
    let received = 0;
    ws.on('ping', () => received++);
    await waitUntil(() => received >= 4, () => `${received} pings received, ${sent.length} sent`);
    // Timers may fire late on a busy machine, never early: a lower bound on the spacing.
    expect(sent[3]! - sent[0]!).toBeGreaterThanOrEqual(KEEP_ALIVE_MS * 3 - 5);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });

  it('terminates a peer that does not answer a ping within the interval', async () => {
    const url = await start();
    // Measured on the server: when it sent the first ping and when the socket closed.
    // (The client's clock sees the ping late on a busy machine, so its gap can be short.)
    let pingSentAt = 0;
    let serverClosedAt = 0;
    running!.wss.on('connection', (socket: WebSocket) => {
      const ping = socket.ping.bind(socket);
      socket.ping = (...args: Parameters<WebSocket['ping']>) => {
        pingSentAt ||= Date.now();
        return ping(...args);
      };
      socket.on('close', () => (serverClosedAt = Date.now()));
    });
    const ws = await open(url, 'graphql-transport-ws', { autoPong: false });
    const closed = await closeOf(ws);
    expect(closed.code).toBe(1006); // terminated: no close frame
    await waitUntil(() => serverClosedAt > 0, () => 'server-side close');
    // Terminated only after a ping went unanswered for a whole interval (timers fire late, never early).
    expect(pingSentAt).toBeGreaterThan(0);
    expect(serverClosedAt - pingSentAt).toBeGreaterThanOrEqual(KEEP_ALIVE_MS - 5);
  });

  it('closes a socket that sends no connection_init in time with 4408; one that does stays open', async () => {
    const url = await start({ connectionInitWaitTimeout: 150 });
    const started = Date.now(); // before the socket: the server's clock starts when it opens
    const silent = await open(url, 'graphql-transport-ws');
    const polite = await open(url, 'graphql-transport-ws');
    await init(polite);
    expect(await closeOf(silent)).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    await pause(200); // nothing is to happen: the initialised socket outlives the timeout
    expect(polite.readyState).toBe(WebSocket.OPEN);
    polite.close();
  });

  it('refuses a socket without the graphql-transport-ws subprotocol with 4406', async () => {
    const ws = new WebSocket(await start());
    expect(await closeOf(ws)).toEqual({ code: 4406, reason: 'Subprotocol not acceptable' });
  });

  it('acknowledges, runs an operation and completes it', async () => {
    const ws = await open(await start(), 'graphql-transport-ws');
    const seen = messages(ws);
    await init(ws);
    ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ hello }' } }));
    await waitUntil(() => seen.some((m) => m.type === 'complete'), () => JSON.stringify(seen));
    expect(seen).toEqual([
      { type: 'connection_ack' },
      { id: '1', type: 'next', payload: { data: { hello: 'world' } } },
      { id: '1', type: 'complete' },
    ]);
    ws.close();
  });

  it('a message that fails to be handled closes the socket with 4500 and the error', async () => {
    const ws = await open(await start(), 'graphql-transport-ws');
    await init(ws);
    ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ hello' } }));
    expect(await closeOf(ws)).toEqual({ code: 4500, reason: 'Syntax Error: Expected Name, found <EOF>.' });
  });

  it('dispose closes open sockets with 1001', async () => {
    const ws = await open(await start(), 'graphql-transport-ws');
    const closed = closeOf(ws);
    await running!.dispose();
    expect(await closed).toEqual({ code: 1001, reason: 'Going away' });
    running!.dispose = async () => {};
  });
});
