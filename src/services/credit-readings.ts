// The upstream account's balance, read for reconciling the ledger with the
// vendor's figures (UPSTREAM_CREDIT_READINGS). A reading is an upstream call
// counted against the vendor's request limit (5–50 a minute on its plans), so
// they are throttled across every worker through PostgreSQL: per upstream
// account (a digest of its key) at most one reading after completed jobs per
// UPSTREAM_CREDIT_READING_INTERVAL_MS, plus one on demand from the
// `upstreamCredits(refresh: true)` query per interval.
import type pg from 'pg';
import { prepared } from '../db/prepared.js';
import type { UpstreamProvider } from './providers/types.js';

export type ReadingKind = 'after-job' | 'on-demand';

// A job completes once; should its reading be taken twice (a lease lost and
// won again), the first stays.
const RECORD_SQL = `INSERT INTO upstream_credit_readings (job_id, credits_micros) VALUES ($1, $2) ON CONFLICT (job_id) DO NOTHING`;

// Takes the slot of a reading when the last one of its kind is at least the
// interval old. One statement: of workers racing for the slot, exactly one
// gets taken = true (the others' conflicting updates find the new taken_at).
// Also says how long, by the database's clock, until the slot it saw frees
// (the one taken now, or the one that refused it as of the statement's
// snapshot, which a concurrent taker can only have moved later).
const TAKE_SLOT_SQL = `
  WITH taken AS (
    INSERT INTO upstream_credit_balances (account, kind, taken_at) VALUES ($1, $2, now())
    ON CONFLICT (account, kind) DO UPDATE SET taken_at = now()
    WHERE upstream_credit_balances.taken_at <= now() - $3 * interval '1 millisecond'
    RETURNING taken_at
  )
  SELECT EXISTS (SELECT 1 FROM taken) AS taken,
         extract(epoch FROM (COALESCE((SELECT taken_at FROM taken),
                                      (SELECT taken_at FROM upstream_credit_balances WHERE account = $1 AND kind = $2), now())
                             + $3 * interval '1 millisecond') - now()) * 1000 AS "freeInMs"`;

const BALANCE_SQL = `UPDATE upstream_credit_balances SET credits_micros = $3, read_at = now() WHERE account = $1 AND kind = $2`;

const LATEST_SQL = `
  SELECT credits_micros::text AS "creditsMicros", read_at AS "readAt" FROM upstream_credit_balances
  WHERE account = $1 AND read_at IS NOT NULL ORDER BY read_at DESC LIMIT 1`;

export interface CreditBalance {
  creditsMicros: bigint;
  readAt: Date;
}

/** The throttle's name for the account `provider` reads: its digest, else its name. */
export function accountOf(provider: UpstreamProvider): string {
  return provider.account ?? provider.name;
}

/**
 * When this process last saw each slot's interval end (by its own clock), per
 * pool: before then no taker can get the slot, so the statement is not sent.
 * It never makes a reading more frequent, only saves asking; a slot another
 * process frees early (none does) would be seen at most one interval late.
 */
const slotsBusyUntil = new WeakMap<pg.Pool, Map<string, number>>();

/** True when this caller may read now (and has taken the interval's slot). */
export async function takeReadingSlot(pool: pg.Pool, account: string, kind: ReadingKind, intervalMs: number): Promise<boolean> {
  // 0: no throttle. (The statement below would refuse a concurrent taker whose now(), its
  // transaction's start, is earlier than the slot another taker just wrote.)
  if (intervalMs <= 0) return true;
  let busy = slotsBusyUntil.get(pool);
  if (!busy) slotsBusyUntil.set(pool, (busy = new Map()));
  const slot = JSON.stringify([account, kind, intervalMs]);
  const until = busy.get(slot);
  const sentAt = Date.now();
  if (until !== undefined && sentAt < until) return false;
  const { rows } = await pool.query<{ taken: boolean; freeInMs: string | number }>(prepared(TAKE_SLOT_SQL, [account, kind, intervalMs]));
  const row = rows[0]!;
  // From when it was sent: the statement's now() is no earlier, so the end seen here is no later than the real one.
  busy.set(slot, sentAt + Math.min(intervalMs, Math.max(0, Number(row.freeInMs))));
  return row.taken;
}

/** Keeps a reading: as the account's latest, and beside the job it followed (if any). */
export async function recordCreditReading(
  pool: pg.Pool, reading: { account: string; kind: ReadingKind; creditsMicros: bigint; jobId?: string },
): Promise<void> {
  await pool.query(prepared(BALANCE_SQL, [reading.account, reading.kind, reading.creditsMicros.toString()]));
  if (reading.jobId) await pool.query(prepared(RECORD_SQL, [reading.jobId, reading.creditsMicros.toString()]));
}

export async function latestBalance(pool: pg.Pool, account: string): Promise<CreditBalance | null> {
  const { rows } = await pool.query<{ creditsMicros: string; readAt: Date }>(prepared(LATEST_SQL, [account]));
  const row = rows[0];
  return row ? { creditsMicros: BigInt(row.creditsMicros), readAt: row.readAt } : null;
}

/**
 * The balance for a query: read from the upstream now when `refresh` asks and
 * this interval's on-demand slot is free, otherwise the latest reading kept.
 */
export async function balanceOnDemand(
  pool: pg.Pool, provider: UpstreamProvider, opts: { refresh: boolean; intervalMs: number; signal: AbortSignal },
): Promise<CreditBalance | null> {
  const account = accountOf(provider);
  if (opts.refresh && provider.readCredits && (await takeReadingSlot(pool, account, 'on-demand', opts.intervalMs))) {
    const credits = await provider.readCredits(opts.signal);
    if (credits !== null) await recordCreditReading(pool, { account, kind: 'on-demand', creditsMicros: credits });
  }
  return latestBalance(pool, account);
}
