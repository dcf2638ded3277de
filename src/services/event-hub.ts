// Fans job events out to this process's subscribers. Workers in any process
// announce each transition with NOTIFY (job-transitions.ts), the event and its
// job in the payload; one LISTEN connection per API process receives them
// (reading the rows only when they did not fit in the payload) and hands them
// to every matching subscriber of the event's API key. The same connection
// carries other channels a process listens to (API key revocations, listen()).
import pg from 'pg';
import { findEventWithJob, readEventWithJob, type EventWithJob } from './job-rows.js';
import { EVENTS_CHANNEL, type EventNotice } from './job-transitions.js';

export interface EventFilter {
  apiKeyId: string;
  jobId?: string;
  models?: readonly string[];
  statuses?: readonly string[];
}

const MAX_QUEUED_PER_SUBSCRIBER = 10_000;

export class Subscription implements AsyncIterableIterator<EventWithJob> {
  private queue: EventWithJob[] = [];
  private waiting: ((r: IteratorResult<EventWithJob>) => void) | null = null;
  private closed = false;

  constructor(
    readonly filter: EventFilter,
    // The hub itself rather than a closure per subscription: an idle subscription
    // keeps everything it holds for as long as its socket stays open.
    private readonly hub: EventHub,
  ) {}

  matches(n: EventNotice): boolean {
    const f = this.filter;
    return (
      n.apiKeyId === f.apiKeyId &&
      (f.jobId === undefined || n.jobId === f.jobId) &&
      (!f.models?.length || f.models.includes(n.model)) &&
      (!f.statuses?.length || f.statuses.includes(n.status))
    );
  }

  push(event: EventWithJob): void {
    if (this.closed) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value: event, done: false });
      return;
    }
    if (this.queue.length >= MAX_QUEUED_PER_SUBSCRIBER) {
      // A consumer this far behind is gone in all but name; ending it frees memory for the rest.
      void this.return();
      return;
    }
    this.queue.push(event);
  }

  next(): Promise<IteratorResult<EventWithJob>> {
    const head = this.queue.shift();
    if (head) return Promise.resolve({ value: head, done: false });
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<EventWithJob>> {
    if (!this.closed) {
      this.closed = true;
      this.queue = [];
      this.hub.unsubscribe(this);
      this.waiting?.({ value: undefined, done: true });
      this.waiting = null;
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

export class EventHub {
  private listener: pg.Client | null = null;
  private readonly byKey = new Map<string, Set<Subscription>>();
  /** Other channels on the LISTEN connection (listen()). */
  private readonly channels = new Map<string, { onNotice: (payload: string) => void; onConnected: () => void }>();
  /** Notifications are handled one after another so each subscriber sees commit order. */
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly pool: pg.Pool,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  /**
   * Listens to another channel on the same connection (API key revocations):
   * `onNotice` gets each payload, `onConnected` runs after every (re)connect,
   * since notices sent while the connection was down are lost.
   */
  async listen(channel: string, onNotice: (payload: string) => void, onConnected: () => void): Promise<void> {
    this.channels.set(channel, { onNotice, onConnected });
    await this.listener?.query(`LISTEN ${channel}`);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    client.on('notification', (msg) => {
      if (msg.channel !== EVENTS_CHANNEL) {
        if (msg.payload) this.channels.get(msg.channel)?.onNotice(msg.payload);
        return;
      }
      if (!msg.payload) return;
      const notice = JSON.parse(msg.payload) as EventNotice;
      this.chain = this.chain.then(() => this.deliver(notice)).catch((err) => {
        console.error('[events] delivery failed:', err);
      });
    });
    client.on('error', (err) => {
      console.error('[events] listener connection lost:', err.message);
      void this.reconnect(client);
    });
    await client.connect();
    await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    for (const channel of this.channels.keys()) await client.query(`LISTEN ${channel}`);
    this.listener = client;
    for (const { onConnected } of this.channels.values()) onConnected();
  }

  private async reconnect(old: pg.Client): Promise<void> {
    if (this.stopped || this.listener !== old) return;
    this.listener = null;
    await old.end().catch(() => {});
    for (let delay = 100; !this.stopped; delay = Math.min(delay * 2, 5000)) {
      try {
        await this.connect();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async deliver(notice: EventNotice): Promise<void> {
    const subs = this.byKey.get(notice.apiKeyId);
    if (!subs) return;
    const interested = [...subs].filter((s) => s.matches(notice));
    if (interested.length === 0) return;
    const event = notice.event ? readEventWithJob(notice.event) : await findEventWithJob(this.pool, notice.eventId);
    if (!event) return;
    for (const s of interested) s.push(event);
  }

  subscribe(filter: EventFilter): Subscription {
    const sub = new Subscription(filter, this);
    let set = this.byKey.get(filter.apiKeyId);
    if (!set) this.byKey.set(filter.apiKeyId, (set = new Set()));
    set.add(sub);
    return sub;
  }

  /** Called by a subscription when it ends (Subscription.return). */
  unsubscribe(s: Subscription): void {
    const set = this.byKey.get(s.filter.apiKeyId);
    set?.delete(s);
    if (set?.size === 0) this.byKey.delete(s.filter.apiKeyId);
  }

  subscriberCount(): number {
    let n = 0;
    for (const set of this.byKey.values()) n += set.size;
    return n;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const set of [...this.byKey.values()]) for (const s of [...set]) await s.return();
    const client = this.listener;
    this.listener = null;
    await client?.end().catch(() => {});
  }
}
