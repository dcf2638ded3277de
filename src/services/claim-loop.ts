// The loop shared by everything that takes work from PostgreSQL (the job
// worker, the webhook dispatcher): claim as many items as there are free
// slots, then sleep until a NOTIFY, a freed slot, an item's due time or the
// idle poll. With an overflow channel, claimers take turns: only the holder of
// a session advisory lock answers notifications, and wakes the others when it
// cannot take the work, so they do not all race for each new job
// (docs/ARCHITECTURE.md, §2; the cost of racing is in docs/PERFORMANCE.md).
import { ReconnectingListener } from '../db/listener.js';
import { OutageLog } from '../util/outage-log.js';
import type { Readiness } from './readiness.js';

/** First key of the leaders' advisory locks (the second is the channel's hash); no other lock uses the two-key form. */
const LEADER_LOCK_CLASS = 7002;
/**
 * The leader wakes the others at most this often; a wake-up held back is sent
 * when the gap ends. Each is a NOTIFY commit, which queues on the lock every
 * event commit takes; and a claimer once woken keeps itself busy (each slot
 * it frees claims again), so more would rarely help.
 */
const OVERFLOW_GAP_MS = 100;

export interface ClaimLoopOptions<T> {
  databaseUrl: string;
  /** NOTIFY channel that says new work may be due. */
  channel: string;
  concurrency: number;
  idlePollMs: number;
  claim(limit: number): Promise<T[]>;
  keyOf(item: T): string;
  handle(item: T, signal: AbortSignal): Promise<void>;
  /**
   * Hands an item's lease back when it is still this claimer's. Called once an
   * item a claim returned while it was still being handled here has been
   * handled (see loop()): that claim leased it again.
   */
  release(key: string): Promise<void>;
  log(line: string): void;
  /**
   * Sees each notification's payload first; true when it took the work named
   * there itself (claimAside), so the loop need not wake for it.
   */
  onNotification?(payload: string): boolean;
  /** Where the leader wakes the other claimers when it cannot take the work; without it, every claimer answers every notification. */
  overflowChannel?: string;
  /** Where the LISTEN connection reports up/down (for /readyz), under `listenerName`. */
  readiness?: Readiness;
  listenerName?: string;
}

export class ClaimLoop<T> {
  private readonly active = new Map<string, AbortController>();
  /** Active items a claim returned again; their leases are handed back when they end. */
  private readonly reclaimed = new Set<string>();
  private readonly releasing = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping = false;
  private wake: (() => void) | null = null;
  /** A kick came while the loop was claiming: that claim may have missed what it was for, so claim again. */
  private kicked = false;
  private loopDone: Promise<void> | null = null;
  private readonly listener: ReconnectingListener;
  /** Claims failing (the database is down): logged once per outage, not once per idle poll. */
  private readonly claims: OutageLog;
  /** The last claim took all it asked for, so due work may be waiting; it goes before anything claimed aside. */
  private backlog = true;
  /** Answers the channel's notifications: always without an overflow channel, else while holding the leader's lock. */
  private leader: boolean;
  private lastLeaderTry = 0;
  private lastOverflow = 0;
  private overflowHeld: NodeJS.Timeout | null = null;

  constructor(private readonly opts: ClaimLoopOptions<T>) {
    this.leader = !opts.overflowChannel;
    this.claims = new OutageLog(opts.log, 'claims');
    const name = opts.listenerName ?? `${opts.channel} listener`;
    this.listener = new ReconnectingListener({
      databaseUrl: opts.databaseUrl,
      name,
      // The leader's lock and channel are taken in onConnected; followers wait on the overflow channel.
      channels: [opts.overflowChannel ?? opts.channel],
      onNotification: (msg) => this.notified(msg.channel, msg.payload ?? ''),
      onConnected: async (_client, reconnected) => {
        if (!reconnected) return;
        // The lock went with the old session: lead again if nobody else took it, and claim what
        // was notified while the connection was down.
        this.lastLeaderTry = 0;
        await this.tryToLead();
        this.kick();
      },
      onLost: () => {
        // Its lock went with the connection; another claimer may lead now. Back, this one follows until it wins the lock again.
        if (!this.opts.overflowChannel) return;
        this.leader = false;
        this.listener.resetChannels([this.opts.overflowChannel]);
      },
      onState: (up) => opts.readiness?.report(name, up),
      log: opts.log,
    });
  }

  private notified(channel: string, payload: string): void {
    if (channel === this.opts.overflowChannel) {
      if (!this.leader) this.kick();
      return;
    }
    if (!this.leader || this.opts.onNotification?.(payload)) return;
    if (this.active.size >= this.opts.concurrency) this.overflow();
    this.kick();
  }

  /** Whether this claimer answers the channel's notifications now (see the overflow channel). */
  isLeader(): boolean {
    return this.leader;
  }

  /** Waiting for a kick or its idle poll, with nothing in hand: its last claim found no work (tests wait for this). */
  isIdle(): boolean {
    return this.wake !== null && this.active.size === 0;
  }

  /** Keys of the items being handled now (for lease heartbeats). */
  activeKeys(): string[] {
    return [...this.active.keys()];
  }

  async start(): Promise<void> {
    await this.listener.start();
    await this.tryToLead();
    this.loopDone = this.loop();
  }

  /** Stops claiming, lets running items finish for up to `graceMs`, then aborts them. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.kick();
    await this.loopDone;
    const deadline = Date.now() + graceMs;
    while (this.active.size > 0 && Date.now() < deadline) await sleep(20);
    for (const controller of this.active.values()) controller.abort();
    while (this.active.size > 0) await sleep(20);
    await Promise.all(this.releasing);
    for (const t of this.timers) clearTimeout(t);
    if (this.overflowHeld) clearTimeout(this.overflowHeld);
    await this.listener.stop();
    if (this.opts.readiness) this.opts.readiness.forget(this.opts.listenerName ?? `${this.opts.channel} listener`);
  }

  kick(): void {
    const wake = this.wake;
    this.wake = null;
    if (wake) wake();
    else this.kicked = true;
  }

  /** Wakes the loop when an item this process released becomes due again. */
  kickAt(when: Date): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.kick();
    }, Math.max(0, when.getTime() - Date.now()));
    t.unref();
    this.timers.add(t);
  }

  /**
   * Takes the leader's lock when it is free, tried at most once per idle poll,
   * and then listens to the channel instead of the overflow channel: the others
   * do not even wake for notifications they would not answer. Work notified
   * before the LISTEN is found by the claim that follows.
   */
  private async tryToLead(): Promise<void> {
    const overflow = this.opts.overflowChannel;
    // Without a connection there is no lock to take: onConnected tries as soon as it is back.
    if (this.leader || !overflow || !this.listener.isUp() || Date.now() - this.lastLeaderTry < this.opts.idlePollMs) return;
    this.lastLeaderTry = Date.now();
    try {
      const { rows } = await this.listener.query<{ won: boolean }>(
        `SELECT pg_try_advisory_lock(${LEADER_LOCK_CLASS}, hashtext($1)) AS won`, [this.opts.channel]);
      if (!rows[0]!.won) return;
      await this.listener.switchChannels(this.opts.channel, overflow);
      this.leader = true;
    } catch (err) {
      // The connection broke meanwhile: the listener logs the outage, and onConnected tries again.
      if (this.listener.isUp()) this.opts.log(`could not try to lead: ${(err as Error).message}`);
    }
  }

  /** The leader cannot take all the work there is: wake the other claimers. */
  private overflow(): void {
    const channel = this.opts.overflowChannel;
    if (!channel || !this.leader || this.overflowHeld) return;
    const wait = this.lastOverflow + OVERFLOW_GAP_MS - Date.now();
    if (wait > 0) {
      this.overflowHeld = setTimeout(() => {
        this.overflowHeld = null;
        this.overflow();
      }, wait);
      return;
    }
    this.lastOverflow = Date.now();
    this.listener.query(`SELECT pg_notify($1, '')`, [channel]).catch((err: Error) => {
      if (this.listener.isUp()) this.opts.log(`overflow wake-up failed: ${err.message}`);
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      this.kicked = false;
      await this.tryToLead();
      const free = this.opts.concurrency - this.active.size;
      let claimed: T[] = [];
      if (free > 0) {
        try {
          claimed = await this.opts.claim(free);
          this.claims.ok();
        } catch (err) {
          this.claims.failed(err);
        }
        for (const item of claimed) {
          const key = this.opts.keyOf(item);
          // Already being handled here: this process stalled past its own lease (a blocked event
          // loop, a long GC pause; seen when a module loaded on a busy machine) and its claim found
          // the lease lapsed. The handler still runs; a second one would take the job for dead.
          if (this.active.has(key)) this.reclaimed.add(key);
          else this.run(item);
        }
        this.backlog = claimed.length === free;
        if (this.backlog) {
          this.overflow();
          continue;
        }
      }
      if (this.kicked) continue;
      await new Promise<void>((resolve) => {
        const poll = setTimeout(() => this.kick(), this.opts.idlePollMs);
        poll.unref();
        this.wake = () => {
          clearTimeout(poll);
          resolve();
        };
      });
    }
  }

  /**
   * Runs `claim` in a free slot beside the loop and handles the item it claims
   * there, as the loop would. False, and nothing run, when no slot is free, the
   * loop is stopping, or due work may be waiting for the loop's own claim.
   */
  claimAside(key: string, claim: () => Promise<T | null>): boolean {
    if (this.stopping || this.backlog || this.active.size >= this.opts.concurrency || this.active.has(key)) return false;
    const controller = new AbortController();
    this.active.set(key, controller);
    let claimed = false;
    claim()
      .then((item) => {
        if (!item) return;
        claimed = true;
        return this.opts.handle(item, controller.signal);
      })
      .catch((err) => this.opts.log(`${key}: ${(err as Error).stack ?? err}`))
      .finally(() => {
        this.ended(key);
        // As after any item: the freed slot may take more. Not after a lost race: nothing was freed.
        if (claimed) this.kick();
      });
    return true;
  }

  private run(item: T): void {
    const key = this.opts.keyOf(item);
    const controller = new AbortController();
    this.active.set(key, controller);
    this.opts
      .handle(item, controller.signal)
      .catch((err) => this.opts.log(`${key}: ${(err as Error).stack ?? err}`))
      .finally(() => {
        this.ended(key);
        this.kick();
      });
  }

  private ended(key: string): void {
    this.active.delete(key);
    // The handler may have released the item before the claim that found it here leased it again
    // (or, aside, that claim beat the one aside to it): then only the lease running out would free
    // it. Handing back our lease, and claiming anew, is right either way.
    if (!this.reclaimed.delete(key)) return;
    const released = this.opts.release(key)
      .then(() => this.kick())
      .catch((err: Error) => this.opts.log(`${key}: could not hand back its lease: ${err.message}`))
      .finally(() => this.releasing.delete(released));
    this.releasing.add(released);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
