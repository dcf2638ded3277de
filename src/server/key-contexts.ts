// The WebSocket connections of one API key share one resolver context. The
// context holds nothing per request (the key, the pool, the hub, the config),
// and sharing it lets Pothos' per-context model loader batch what the
// subscribers of one event load: without it, each of N subscribers reloaded
// the event's job on its own (N queries per event; 1,000 subscribers took
// ~250 ms before the first one heard of it). An entry lives while the key has
// an open connection.

export interface SharedContext<C> {
  readonly apiKeyId: string;
  readonly context: C;
  sockets: number;
}

/** Per connection: its key's entry once authenticated, and whether it closed meanwhile. */
// A type, not an interface: graphql-ws wants its `extra` to be a plain record.
export type ConnectionState<C> = {
  shared?: SharedContext<C>;
  closed?: boolean;
};

export class KeyContexts<C> {
  private readonly byKey = new Map<string, SharedContext<C>>();

  /** Keys with an open connection (for tests and diagnostics). */
  get size(): number {
    return this.byKey.size;
  }

  /**
   * Authenticates a connection and attaches its key's shared entry; false when
   * the key is refused. A connection that closed while its key was being
   * checked gets nothing: its close has already been handled, and counting it
   * now would keep the entry forever.
   */
  async connect<K extends { id: string }>(
    state: ConnectionState<C>,
    authenticate: () => Promise<K | null>,
    contextFor: (apiKey: K) => C,
  ): Promise<boolean> {
    const apiKey = await authenticate();
    if (!apiKey || state.closed) return false;
    let shared = this.byKey.get(apiKey.id);
    if (!shared) this.byKey.set(apiKey.id, (shared = { apiKeyId: apiKey.id, context: contextFor(apiKey), sockets: 0 }));
    shared.sockets += 1;
    state.shared = shared;
    return true;
  }

  close(state: ConnectionState<C>): void {
    state.closed = true;
    const shared = state.shared;
    if (!shared) return;
    state.shared = undefined;
    if (--shared.sockets <= 0 && this.byKey.get(shared.apiKeyId) === shared) this.byKey.delete(shared.apiKeyId);
  }
}
