// graphql-ws clients for the benches: the same library and options as test/support/app.ts.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export function wsClient(url: string, key: string, opts: { lazy?: boolean } = {}): Client {
  return createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    retryAttempts: 0,
    lazy: opts.lazy ?? true,
  });
}

/** Decodes a Relay global id (base64 of "<Type>:<uuid>") to the database id. */
export function jobUuid(globalId: string): string {
  return Buffer.from(globalId, 'base64').toString('utf8').split(':')[1]!;
}
