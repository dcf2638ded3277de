// Keeps the service from flooding the upstream: a concurrency limit on this
// worker's upstream calls (the rest wait in line, in order), and a rate limit
// on submissions shared by every worker on the database: a fixed-window
// counter row taken with INSERT … ON CONFLICT DO UPDATE … WHERE count < limit,
// whose row lock makes it exact however many workers ask. Windows follow the
// database clock, aligned to the Unix epoch. A submission refused by the limit
// is put off (`throttled`), not counted as an upstream failure.
import type pg from 'pg';
import type { Admission, Admitted, PollOutcome, ProviderJob, SubmitOutcome, UpstreamProvider } from './types.js';

export interface UpstreamLimitOptions {
  /** Where the shared rate-limit counters live (table upstream_rate_windows). */
  pool: pg.Pool;
  /** Upstream calls this wrapper lets through at once; default 8. */
  maxConcurrency?: number;
  /** Submissions per window across all workers; 0 or absent: no rate limit. */
  ratePerWindow?: number;
  /** Window length; default one minute. */
  windowMs?: number;
  log?: (line: string) => void;
}

/** A counting semaphore with a FIFO queue; a waiter whose signal fires leaves the queue. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<{ grant: () => void }> = [];

  constructor(readonly size: number) {
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError('a semaphore needs a size >= 1');
  }

  get inUse(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** A release function when a slot is free now; null when one would have to be waited for. */
  tryAcquire(): (() => void) | null {
    if (this.active >= this.size) return null;
    this.active += 1;
    return this.releaser();
  }

  /** Resolves with a release function (safe to call more than once) once a slot is free. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    const now = this.tryAcquire();
    if (now) return now;
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
    // The slot was handed over by a release: `active` already counts it.
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next.grant();
      else this.active -= 1;
    };
  }
}

export type RateVerdict = { ok: true } | { ok: false; retryAfterMs: number };

/** The shared fixed-window counter of submissions for one provider. */
export class SubmissionRateLimiter {
  private lastWindow = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly provider: string,
    readonly limit: number,
    readonly windowMs: number,
    private readonly log: (line: string) => void = () => {},
  ) {
    if (!(Number.isInteger(limit) && limit >= 1)) throw new RangeError('a rate limit needs a limit >= 1');
    if (!(Number.isInteger(windowMs) && windowMs >= 1)) throw new RangeError('a rate limit needs a window >= 1 ms');
  }

  /** Takes one submission from the current window, or says how long until the next one opens. */
  async take(): Promise<RateVerdict> {
    const { rows } = await this.pool.query<{ taken: number | null; windowStartMs: string; waitMs: number }>(
      `WITH w AS (
         SELECT timestamptz 'epoch' + (floor(extract(epoch FROM t) * 1000 / $2::bigint) * $2::bigint) * interval '1 millisecond' AS start,
                t AS now
         FROM clock_timestamp() AS t
       ), taken AS (
         INSERT INTO upstream_rate_windows AS r (provider, window_start, count)
         SELECT $1, w.start, 1 FROM w
         ON CONFLICT (provider, window_start) DO UPDATE SET count = r.count + 1 WHERE r.count < $3::int
         RETURNING r.count
       )
       SELECT (SELECT count FROM taken) AS taken,
              (extract(epoch FROM w.start) * 1000)::bigint::text AS "windowStartMs",
              greatest(0, ceil(extract(epoch FROM (w.start - w.now)) * 1000 + $2::bigint))::int AS "waitMs"
       FROM w`,
      [this.provider, this.windowMs, this.limit],
    );
    const row = rows[0]!;
    this.forgetOldWindows(Number(row.windowStartMs));
    if (row.taken !== null) return { ok: true };
    return { ok: false, retryAfterMs: row.waitMs };
  }

  /** Once per window per process: counters of windows long past are of no use. */
  private forgetOldWindows(windowStartMs: number): void {
    if (windowStartMs <= this.lastWindow) return;
    this.lastWindow = windowStartMs;
    const before = new Date(windowStartMs - Math.max(10 * this.windowMs, 3_600_000));
    this.pool
      .query(`DELETE FROM upstream_rate_windows WHERE provider = $1 AND window_start < $2`, [this.provider, before])
      .catch((err: Error) => this.log(`rate-limit cleanup failed: ${err.message}`));
  }
}

/**
 * The provider behind both limits. Its `admit` (which the worker calls before
 * it marks a job SENDING) waits for a slot, then takes a rate-limit token; the
 * slot is held across the submission that follows. `submit` without an
 * admission applies the same limits itself; `poll` takes a slot only.
 */
export function withUpstreamLimits(inner: UpstreamProvider, opts: UpstreamLimitOptions): UpstreamProvider {
  const slots = new Semaphore(opts.maxConcurrency ?? 8);
  const rate = opts.ratePerWindow
    ? new SubmissionRateLimiter(opts.pool, inner.name, opts.ratePerWindow, opts.windowMs ?? 60_000, opts.log)
    : null;
  /** Jobs admitted and not yet released: their submit already holds a slot and a token. */
  const admitted = new Set<string>();

  async function admit(job: ProviderJob, signal: AbortSignal): Promise<Admission> {
    const release = await slots.acquire(signal);
    try {
      const verdict = rate ? await rate.take() : ({ ok: true } as const);
      if (!verdict.ok) {
        release();
        // Spread the waiters over the start of the next window rather than all at its first instant.
        const spread = Math.random() * Math.min(rate!.windowMs / 4, 2000);
        return {
          kind: 'retry',
          throttled: true,
          reason: `client-side rate limit: ${rate!.limit} submissions per ${rate!.windowMs / 1000} s reached`,
          retryAfterMs: Math.ceil(verdict.retryAfterMs + spread),
        };
      }
    } catch (err) {
      release();
      throw err;
    }
    return admittedWith(job, release);
  }

  /** The admission of `job`, holding the slot `release` gives back. */
  function admittedWith(job: ProviderJob, release: () => void): Admitted {
    admitted.add(job.id);
    let done = false;
    return {
      kind: 'admitted',
      release: () => {
        if (done) return;
        done = true;
        admitted.delete(job.id);
        release();
      },
    };
  }

  return {
    name: inner.name,
    account: inner.account,
    admit,
    tryAdmit(job): Admitted | null {
      // A rate-limit token is shared through the database: taking one is neither immediate nor free to give back.
      if (rate) return null;
      const release = slots.tryAcquire();
      return release ? admittedWith(job, release) : null;
    },
    // An account query, not a submission: not rate-limited, but an upstream call like a poll, so it takes a slot.
    readCredits: inner.readCredits
      ? async (signal) => {
        const release = await slots.acquire(signal);
        try {
          return await inner.readCredits!(signal);
        } finally {
          release();
        }
      }
      : undefined,

    async submit(job, signal): Promise<SubmitOutcome> {
      if (admitted.has(job.id)) return inner.submit(job, signal);
      const admission = await admit(job, signal);
      if (admission.kind === 'retry') return admission;
      try {
        return await inner.submit(job, signal);
      } finally {
        admission.release();
      }
    },

    async poll(job, signal): Promise<PollOutcome> {
      const release = await slots.acquire(signal);
      try {
        return await inner.poll(job, signal);
      } finally {
        release();
      }
    },
  };
}
