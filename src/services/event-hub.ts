// Fans job events out to this process's subscribers: one LISTEN connection
// per API process gets each event (with its job, when it fit in the NOTIFY)
// and hands it to the matching subscribers of its API key. A lost connection
// must not lose events silently: on reconnect the hub replays each key's
// events after the last it handled, or ends the subscriptions concerned with
// a resume cursor (docs/ARCHITECTURE.md, "Database outages").
import type pg from 'pg';
import { ReconnectingListener } from '../db/listener.js';
import { findEventsAfter, findEventWithJob, readEventWithJob, type EventWithJob } from './job-rows.js';
import { EVENTS_CHANNEL, noticeHead, type EventNotice } from './job-transitions.js';
import type { Readiness } from './readiness.js';
import { componentLogger } from '../util/logger.js';
import { fanoutLag } from '../util/metrics.js';

const log = componentLogger('events');

export interface EventFilter {
  apiKeyId: string;
  jobId?: string;
  models?: readonly string[];
  statuses?: readonly string[];
}

const MAX_QUEUED_PER_SUBSCRIBER = 10_000;
const REPLAY_BATCH = 500;
const LISTENER_NAME = 'events listener';

/**
 * The last item of a subscription the hub could not keep whole: every event of
 * its key up to `resumeAfter` was handed to it (or did not match its filter);
 * a client that subscribes again with `since: resumeAfter` misses nothing.
 */
export class EventsInterrupted {
  constructor(
    readonly resumeAfter: bigint | null,
    readonly reason: string,
  ) {}
}

export type HubItem = EventWithJob | EventsInterrupted;

export interface EventHubOptions {
  /** Where the LISTEN connection reports up/down (/readyz). */
  readiness?: Readiness;
  log?: (line: string) => void;
  /** Subscriptions are ended (EventsInterrupted) when the connection has been down this long. */
  maxOutageMs?: number;
  /** Subscriptions of a key are ended instead of replayed when more of its events than this were missed. */
  maxReplayEvents?: number;
}

export const DEFAULT_MAX_OUTAGE_MS = 60_000;
export const DEFAULT_MAX_REPLAY_EVENTS = 5_000;

export class Subscription implements AsyncIterableIterator<HubItem> {
  private queue: HubItem[] = [];
  private waiting: ((r: IteratorResult<HubItem>) => void) | null = null;
  private closed = false;
  private lastQueued: bigint | null = null;

  constructor(
    readonly filter: EventFilter,
    // The hub itself rather than a closure per subscription: an idle subscription
    // keeps everything it holds for as long as its socket stays open.
    private readonly hub: EventHub,
  ) {}

  matches(n: Pick<EventNotice, 'apiKeyId' | 'jobId' | 'model' | 'status'>): boolean {
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
    // A key's events commit in id order (job-transitions.ts: under the key's lock), so one at or
    // below the last given is a repeat (a notification racing a replay): it is given once only.
    if (this.lastQueued !== null && event.id <= this.lastQueued) return;
    if (this.queue.length >= MAX_QUEUED_PER_SUBSCRIBER) {
      // A consumer this far behind is gone in all but name; ending it frees memory for the rest,
      // and says where to resume.
      this.interrupt(new EventsInterrupted(this.lastQueued, `the subscriber fell ${MAX_QUEUED_PER_SUBSCRIBER} events behind`));
      return;
    }
    this.lastQueued = event.id;
    this.give(event);
  }

  /** Ends the subscription after what is queued, with `item` as its last item. */
  interrupt(item: EventsInterrupted): void {
    if (this.closed) return;
    this.closed = true;
    this.hub.unsubscribe(this);
    this.give(item);
  }

  private give(item: HubItem): void {
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value: item, done: false });
      return;
    }
    this.queue.push(item);
  }

  next(): Promise<IteratorResult<HubItem>> {
    const head = this.queue.shift();
    if (head) return Promise.resolve({ value: head, done: false });
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<HubItem>> {
    this.queue = [];
    if (!this.closed) {
      this.closed = true;
      this.hub.unsubscribe(this);
    }
    this.waiting?.({ value: undefined, done: true });
    this.waiting = null;
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

type Deferred<T> = { promise: Promise<T>; resolve: (value: T) => void };

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export class EventHub {
  private readonly listener: ReconnectingListener;
  private readonly byKey = new Map<string, Set<Subscription>>();
  /** Other channels on the LISTEN connection (listen()). */
  private readonly channels = new Map<string, { onNotice: (payload: string) => void; onConnected: () => void }>();
  /** Notifications (and replays) are handled one after another so each subscriber sees commit order. */
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Per API key, the highest event id handled (handed out or filtered out): a replay starts after it. */
  private readonly handled = new Map<string, bigint>();
  /** Per API key, the last event id a replay handed out: a notification at or below it is a repeat. */
  private readonly replayedTo = new Map<string, bigint>();
  /** max(job_events.id) when the current connection started listening: where a key with nothing handled replays from. */
  private baseline = 0n;
  /** Resolved with the new connection's baseline when the lost connection is back. */
  private reconnected: Deferred<bigint | null> | null = null;
  private readonly log: (line: string) => void;
  private readonly maxOutageMs: number;
  private readonly maxReplayEvents: number;

  constructor(
    databaseUrl: string,
    private readonly pool: pg.Pool,
    opts: EventHubOptions = {},
  ) {
    this.log = opts.log ?? ((line) => log.warn(line));
    this.maxOutageMs = opts.maxOutageMs ?? DEFAULT_MAX_OUTAGE_MS;
    this.maxReplayEvents = opts.maxReplayEvents ?? DEFAULT_MAX_REPLAY_EVENTS;
    this.listener = new ReconnectingListener({
      databaseUrl,
      name: LISTENER_NAME,
      channels: [EVENTS_CHANNEL],
      onNotification: (msg) => this.notified(msg.channel, msg.payload),
      onConnected: (client, reconnected) => this.connected(client, reconnected),
      onLost: () => this.lost(),
      onState: (up) => opts.readiness?.report(LISTENER_NAME, up),
      log: this.log,
    });
  }

  async start(): Promise<void> {
    await this.listener.start();
  }

  /** Whether the LISTEN connection is up. */
  listening(): boolean {
    return this.listener.isUp();
  }

  /**
   * Listens to another channel on the same connection (API key revocations):
   * `onNotice` gets each payload, `onConnected` runs after every (re)connect,
   * since notices sent while the connection was down are lost.
   */
  async listen(channel: string, onNotice: (payload: string) => void, onConnected: () => void): Promise<void> {
    this.channels.set(channel, { onNotice, onConnected });
    await this.listener.listen(channel);
  }

  private notified(channel: string, payload: string | undefined): void {
    if (channel !== EVENTS_CHANNEL) {
      if (payload) this.channels.get(channel)?.onNotice(payload);
      return;
    }
    if (!payload) return;
    this.enqueue(() => this.noticed(payload));
  }

  /**
   * A notice of a key nobody here subscribes to is only counted as handled, read
   * from the head of its text: every create and move notifies every API process,
   * and parsing each whole payload (the event and its job) was ~3 % of the API's
   * CPU in bench:submissions, where no one subscribes.
   */
  private async noticed(payload: string): Promise<void> {
    const head = noticeHead(payload);
    if (head && !this.byKey.has(head.apiKeyId)) {
      this.firstTime(head.apiKeyId, BigInt(head.eventId));
      return;
    }
    await this.deliver(JSON.parse(payload) as EventNotice);
  }

  /** False for a repeat (at or below what a replay handed out); otherwise notes the id as handled. */
  private firstTime(apiKeyId: string, id: bigint): boolean {
    const replayed = this.replayedTo.get(apiKeyId);
    if (replayed !== undefined && id <= replayed) return false;
    this.noteHandled(apiKeyId, id);
    return true;
  }

  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((err) => {
      this.log(`delivery failed: ${(err as Error).message}`);
    });
  }

  private async connected(client: pg.Client, reconnected: boolean): Promise<void> {
    // Read after LISTEN: whatever commits from now on is notified.
    const { rows } = await client.query<{ id: string }>(`SELECT coalesce(max(id), 0)::text AS id FROM job_events`);
    const baseline = BigInt(rows[0]!.id);
    if (!reconnected) this.baseline = baseline;
    else this.reconnected?.resolve(baseline);
    for (const { onConnected } of this.channels.values()) onConnected();
  }

  /** The connection is gone: until it is back and the replay is done, nothing else is handled. */
  private lost(): void {
    const back = deferred<bigint | null>();
    this.reconnected = back;
    this.enqueue(() => this.resync(back.promise));
  }

  private async resync(back: Promise<bigint | null>): Promise<void> {
    let baseline: bigint | null | undefined;
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      baseline = await Promise.race([
        back,
        new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), this.maxOutageMs))),
      ]);
      clearTimeout(timer);
      if (baseline !== undefined || this.stopped) break;
      // Waiting longer would leave clients hanging with no word: end what is open (they resume
      // with `since` once they can connect again); subscriptions made meanwhile are replayed later.
      this.interruptAll(`the database connection has been down for over ${Math.round(this.maxOutageMs / 1000)} s`);
    }
    if (baseline === null || baseline === undefined || this.stopped) return;
    for (const apiKeyId of [...this.byKey.keys()]) {
      // Lost again: the next resync, queued behind this one, carries on from what was handled.
      if (!(await this.replay(apiKeyId))) return;
    }
    // Keys nobody listens to were not replayed: from now on they start at the new baseline.
    for (const key of [...this.handled.keys()]) {
      if (this.byKey.has(key)) continue;
      this.handled.delete(key);
      this.replayedTo.delete(key);
    }
    this.baseline = baseline;
  }

  /** Hands out the key's events after the last one handled; false when the connection was lost again meanwhile. */
  private async replay(apiKeyId: string): Promise<boolean> {
    let after = this.handled.get(apiKeyId) ?? this.baseline;
    let count = 0;
    for (;;) {
      let batch: EventWithJob[];
      try {
        batch = await findEventsAfter(this.pool, apiKeyId, after, REPLAY_BATCH);
      } catch (err) {
        if (!this.listener.isUp()) return false;
        this.log(`replay failed: ${(err as Error).message}`);
        this.interruptKey(apiKeyId, after, 'the events missed while the database connection was down could not be read');
        return true;
      }
      for (const event of batch) {
        this.noteHandled(apiKeyId, event.id);
        this.hand(event, { apiKeyId, jobId: event.jobId, model: event.job.model, status: event.status });
        after = event.id;
      }
      this.replayedTo.set(apiKeyId, after);
      count += batch.length;
      if (batch.length < REPLAY_BATCH) return true;
      if (count >= this.maxReplayEvents) {
        this.interruptKey(apiKeyId, after, `more than ${this.maxReplayEvents} events were missed while the database connection was down`);
        return true;
      }
    }
  }

  private noteHandled(apiKeyId: string, id: bigint): void {
    const handled = this.handled.get(apiKeyId);
    if (handled === undefined || id > handled) this.handled.set(apiKeyId, id);
  }

  /** Where a subscription of the key may resume: every event of the key up to here has been handled. */
  private position(apiKeyId: string): bigint {
    return this.handled.get(apiKeyId) ?? this.baseline;
  }

  private interruptKey(apiKeyId: string, resumeAfter: bigint, reason: string): void {
    const item = new EventsInterrupted(resumeAfter, reason);
    for (const s of [...(this.byKey.get(apiKeyId) ?? [])]) s.interrupt(item);
  }

  private interruptAll(reason: string): void {
    for (const apiKeyId of [...this.byKey.keys()]) this.interruptKey(apiKeyId, this.position(apiKeyId), reason);
  }

  private async deliver(notice: EventNotice): Promise<void> {
    const before = this.position(notice.apiKeyId);
    if (!this.firstTime(notice.apiKeyId, BigInt(notice.eventId))) return;
    const subs = this.byKey.get(notice.apiKeyId);
    if (!subs) return;
    if (![...subs].some((s) => s.matches(notice))) return;
    let event: EventWithJob | null;
    try {
      event = notice.event ? readEventWithJob(notice.event) : await findEventWithJob(this.pool, notice.eventId);
    } catch (err) {
      // Its rows could not be read (too big for the payload, and the database went away): the
      // subscribers it was for would miss it, so they end, to resume before it.
      this.log(`delivery failed: ${(err as Error).message}`);
      const item = new EventsInterrupted(before, 'an event could not be read from the database');
      for (const s of [...subs]) if (s.matches(notice)) s.interrupt(item);
      return;
    }
    if (event) this.hand(event, notice);
  }

  private hand(event: EventWithJob, notice: Pick<EventNotice, 'apiKeyId' | 'jobId' | 'model' | 'status'>): void {
    const subs = this.byKey.get(notice.apiKeyId);
    if (!subs) return;
    for (const s of subs) if (s.matches(notice)) s.push(event);
    // Commit (the event's created_at, the database's clock) to the push to this process's subscribers.
    fanoutLag.observe(Math.max(0, Date.now() - event.createdAt.getTime()) / 1000);
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
    this.reconnected?.resolve(null);
    for (const set of [...this.byKey.values()]) for (const s of [...set]) await s.return();
    await this.listener.stop();
  }
}
