// The WebSocket connections of one API key share one resolver context. The
// context holds nothing per request (the key, the pool, the hub, the config),
// and sharing it lets Pothos' per-context model loader batch what the
// subscribers of one event load: without it, each of N subscribers reloaded
// the event's job on its own (N queries per event; 1,000 subscribers took
// ~250 ms before the first one heard of it). An entry lives while the key has
// an open connection, and knows those connections: the per-key cap counts them
// and a revocation closes them.

export interface SharedContext<C, S = unknown> {
  readonly apiKeyId: string;
  readonly context: C;
  /** When the key stops working: its connections are closed then (key-revocations.ts). */
  readonly expiresAt: Date | null;
  /** The key's open connections on this process: counted against the per-key cap, closed on revocation. */
  readonly connections: Set<S>;
}

/** Per connection: its key's entry once authenticated, and whether it closed meanwhile. */
// A type, not an interface: graphql-ws wants its `extra` to be a plain record.
export type ConnectionState<C> = {
  shared?: SharedContext<C>;
  closed?: boolean;
};

export type ConnectOutcome<R> = { connected: true } | { connected: false; refusal?: R };

export class KeyContexts<C, S extends ConnectionState<C> = ConnectionState<C>> {
  private readonly byKey = new Map<string, SharedContext<C, S>>();

  /** Keys with an open connection (for tests and diagnostics). */
  get size(): number {
    return this.byKey.size;
  }

  /** The entries of keys with an open connection. */
  keys(): IterableIterator<SharedContext<C, S>> {
    return this.byKey.values();
  }

  /** The open connections of one key on this process. */
  connectionsOf(apiKeyId: string): S[] {
    return [...(this.byKey.get(apiKeyId)?.connections ?? [])];
  }

  /**
   * Authenticates a connection and attaches its key's shared entry. Not
   * connected when the key is refused, or when `refuse` (given the key and its
   * open connections) gives a refusal. A connection that closed while its key
   * was being checked gets nothing: its close has already been handled, and
   * counting it now would keep the entry forever.
   */
  async connect<K extends { id: string; expiresAt?: Date | null }, R = never>(
    state: S,
    authenticate: () => Promise<K | null>,
    contextFor: (apiKey: K) => C,
    refuse: (apiKey: K, open: number) => R | null = () => null,
  ): Promise<ConnectOutcome<R>> {
    const apiKey = await authenticate();
    if (!apiKey || state.closed) return { connected: false };
    let shared = this.byKey.get(apiKey.id);
    const refusal = refuse(apiKey, shared?.connections.size ?? 0);
    if (refusal !== null) return { connected: false, refusal };
    if (!shared) {
      shared = { apiKeyId: apiKey.id, context: contextFor(apiKey), expiresAt: apiKey.expiresAt ?? null, connections: new Set() };
      this.byKey.set(apiKey.id, shared);
    }
    shared.connections.add(state);
    state.shared = shared as SharedContext<C>;
    return { connected: true };
  }

  close(state: S): void {
    state.closed = true;
    const shared = state.shared as SharedContext<C, S> | undefined;
    if (!shared) return;
    state.shared = undefined;
    shared.connections.delete(state);
    if (shared.connections.size === 0 && this.byKey.get(shared.apiKeyId) === shared) this.byKey.delete(shared.apiKeyId);
  }
}
