// The loop shared by everything that takes work from PostgreSQL (the job
// worker, the webhook dispatcher): claim as many items as there are free
// slots, handle each with its own AbortSignal, then sleep until a NOTIFY on
// the channel, a slot freeing up, a timer set for an item's next due time, or
// the idle poll (which also covers a lost LISTEN connection).
import pg from 'pg';

export interface ClaimLoopOptions<T> {
  databaseUrl: string;
  /** NOTIFY channel that says new work may be due. */
  channel: string;
  concurrency: number;
  idlePollMs: number;
  claim(limit: number): Promise<T[]>;
  keyOf(item: T): string;
  handle(item: T, signal: AbortSignal): Promise<void>;
  log(line: string): void;
  /**
   * Sees each notification's payload first; true when it took the work named
   * there itself (claimAside), so the loop need not wake for it.
   */
  onNotification?(payload: string): boolean;
}

export class ClaimLoop<T> {
  private readonly active = new Map<string, AbortController>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping = false;
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> | null = null;
  private listener: pg.Client | null = null;
  /** The last claim took all it asked for, so due work may be waiting; it goes before anything claimed aside. */
  private backlog = true;

  constructor(private readonly opts: ClaimLoopOptions<T>) {}

  /** Keys of the items being handled now (for lease heartbeats). */
  activeKeys(): string[] {
    return [...this.active.keys()];
  }

  async start(): Promise<void> {
    const listener = new pg.Client({ connectionString: this.opts.databaseUrl });
    listener.on('notification', (msg) => {
      if (!this.opts.onNotification?.(msg.payload ?? '')) this.kick();
    });
    // Losing the wake-up channel only costs latency: the idle poll still finds due work.
    listener.on('error', (err) => this.opts.log(`wake-up listener lost: ${err.message}`));
    await listener.connect();
    await listener.query(`LISTEN ${this.opts.channel}`);
    this.listener = listener;
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
    for (const t of this.timers) clearTimeout(t);
    await this.listener?.end().catch(() => {});
  }

  kick(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
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

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const free = this.opts.concurrency - this.active.size;
      let claimed: T[] = [];
      if (free > 0) {
        try {
          claimed = await this.opts.claim(free);
        } catch (err) {
          this.opts.log(`claim failed: ${(err as Error).message}`);
        }
        for (const item of claimed) this.run(item);
        this.backlog = claimed.length === free;
        if (this.backlog) continue;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(() => this.kick(), this.opts.idlePollMs).unref();
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
        this.active.delete(key);
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
        this.active.delete(key);
        this.kick();
      });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
