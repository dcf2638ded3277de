// A LISTEN connection that comes back by itself. NOTIFY reaches only a session
// that is connected and listening, so every process that waits for
// notifications (the event hub, the workers' and webhook dispatchers' claim
// loops) owns one such session; when a database restart or a network fault
// ends it, this reconnects with capped, jittered backoff, LISTENs again to
// every channel, and tells its owner (onConnected), who must make up for the
// notifications sent meanwhile: they are lost. One log line when the
// connection is lost and one when it is back, however long it takes.
import pg from 'pg';
import { OutageLog } from '../util/outage-log.js';

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

/** A query on a listener whose connection is down (the caller tries again after onConnected). */
export class ListenerDown extends Error {
  constructor(name: string) {
    super(`${name} is not connected`);
  }
}

export interface ReconnectingListenerOptions {
  databaseUrl: string;
  /** Names the connection in log lines and in readiness ("events listener"). */
  name: string;
  channels?: Iterable<string>;
  onNotification(msg: pg.Notification): void;
  /**
   * After the channels are LISTENed to, before the connection counts as up:
   * `reconnected` is false on the first connect. A throw counts as a failed
   * connect (the connection is closed and tried again).
   */
  onConnected?(client: pg.Client, reconnected: boolean): Promise<void> | void;
  /** The connection has just been lost (notifications sent from now on are lost until onConnected). */
  onLost?(): void;
  /** Up or down, for readiness. */
  onState?(up: boolean): void;
  log(line: string): void;
}

export class ReconnectingListener {
  private client: pg.Client | null = null;
  private readonly channels: Set<string>;
  private readonly outage: OutageLog;
  private stopped = false;
  private connecting: Promise<void> | null = null;
  private retry: NodeJS.Timeout | null = null;

  constructor(private readonly opts: ReconnectingListenerOptions) {
    this.channels = new Set(opts.channels ?? []);
    this.outage = new OutageLog(opts.log, opts.name);
  }

  /** Connects once; throws when the database cannot be reached (a service should not start without it). */
  async start(): Promise<void> {
    await this.connect(false);
  }

  isUp(): boolean {
    return this.client !== null;
  }

  /** Adds a channel, LISTENed to now if connected and after every reconnect. */
  async listen(channel: string): Promise<void> {
    this.channels.add(channel);
    await this.client?.query(`LISTEN ${channel}`);
  }

  /** Replaces the channels: LISTENs to `add`, UNLISTENs `remove`, now and after every reconnect. */
  async switchChannels(add: string, remove: string): Promise<void> {
    const client = this.client;
    if (!client) throw new ListenerDown(this.opts.name);
    await client.query(`LISTEN ${add}; UNLISTEN ${remove}`);
    this.channels.add(add);
    this.channels.delete(remove);
  }

  /** Replaces the channels a reconnect will LISTEN to, without a query (for use while down: onLost). */
  resetChannels(channels: Iterable<string>): void {
    this.channels.clear();
    for (const c of channels) this.channels.add(c);
  }

  /** A query on this session (session advisory locks live with the connection). */
  async query<R extends pg.QueryResultRow>(text: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    const client = this.client;
    if (!client) throw new ListenerDown(this.opts.name);
    return client.query<R>(text, params);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }

  private async connect(reconnected: boolean): Promise<void> {
    // Named, so an operator finds it in pg_stat_activity.
    const client = new pg.Client({ connectionString: this.opts.databaseUrl, keepAlive: true, application_name: `swapyard: ${this.opts.name}` });
    client.on('notification', (msg) => {
      if (this.client === client) this.opts.onNotification(msg);
    });
    // 'error' comes with the reason; 'end' alone when the server closed the socket quietly.
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    try {
      await client.connect();
      if (this.channels.size > 0) await client.query([...this.channels].map((c) => `LISTEN ${c}`).join('; '));
      await this.opts.onConnected?.(client, reconnected);
    } catch (err) {
      client.removeAllListeners('end');
      client.on('error', () => {});
      await client.end().catch(() => {});
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.outage.ok();
    this.opts.onState?.(true);
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.stopped || this.client !== client) return;
    this.client = null;
    client.end().catch(() => {});
    this.outage.failed(err);
    this.opts.onState?.(false);
    this.opts.onLost?.();
    if (!this.connecting) this.connecting = this.reconnect().finally(() => (this.connecting = null));
  }

  private async reconnect(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      // Full jitter, so the processes of a fleet do not all knock at the same instant.
      const cap = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** attempt);
      await new Promise<void>((resolve) => {
        this.retry = setTimeout(resolve, cap / 2 + Math.random() * (cap / 2));
      });
      if (this.stopped) return;
      try {
        await this.connect(true);
        return;
      } catch {
        // Still down: the outage's first line said so.
      }
    }
  }
}
