// Every step of a job's life after its creation, one named operation each:
// which statuses it moves from and to, and what it does with the worker's
// lease, are stated here and written into its SQL. The worker, the claim loop
// and cancelJob call only these; nothing else changes a job's status (jobs.ts
// inserts a job QUEUED with its first event). Moves run transition() of
// job-transitions.ts: one statement that moves the row, appends the event,
// settles a final status's charge and notifies.
//
// Claims use FOR UPDATE SKIP LOCKED, so concurrent claimers pass over each
// other's rows instead of waiting; the lease written in the same statement
// keeps a claimed job away from every other worker until its holder hands it
// back or stops renewing it (it died).
import type pg from 'pg';
import { prepared } from '../db/prepared.js';
import type { Job } from '../generated/prisma/client.js';
import { claimedColumns, type ClaimedJob } from './job-claims.js';
import { jobJson, readJob } from './job-rows.js';
import { LIVE_STATUSES, SENDING, type JobStatus } from './job-status.js';
import { eventFanOut, moveSets, moveSql, recordMove, transition, updateHeldJob, type EventNotice, type JobPatch } from './job-transitions.js';

/**
 * The steps: from which statuses, to which, and the lease. `take`: the step
 * claims the job; `keep`: the worker goes on holding it; `release`: the step
 * hands it back (its run_at says when it is next due); `any`: the step does
 * not need the lease and clears whoever holds it (a client's cancel).
 */
export const JOB_STEPS = {
  claim: { from: LIVE_STATUSES, to: null, lease: 'take' },
  claimAndMarkSending: { from: ['QUEUED'], to: 'SUBMITTED', lease: 'take' },
  markSending: { from: LIVE_STATUSES, to: null, lease: 'keep' },
  markSubmittedSending: { from: ['QUEUED'], to: 'SUBMITTED', lease: 'keep' },
  accept: { from: ['QUEUED'], to: 'SUBMITTED', lease: 'release' },
  markProcessing: { from: ['SUBMITTED'], to: 'PROCESSING', lease: 'release' },
  complete: { from: ['SUBMITTED', 'PROCESSING'], to: 'COMPLETED', lease: 'release' },
  fail: { from: LIVE_STATUSES, to: 'FAILED', lease: 'release' },
  releaseUntil: { from: LIVE_STATUSES, to: null, lease: 'release' },
  cancel: { from: LIVE_STATUSES, to: 'CANCELED', lease: 'any' },
} as const satisfies Record<string, { from: readonly JobStatus[]; to: JobStatus | null; lease: 'take' | 'keep' | 'release' | 'any' }>;

const STATUS_LIST = (statuses: readonly JobStatus[]) => statuses.map((s) => `'${s}'`).join(', ');

/** Due and not leased to anyone: what a claim may take. Live jobs in run_at order come from jobs_live_run_at_idx (its predicate is the status list below). */
const CLAIMABLE = `run_at <= now() AND (locked_until IS NULL OR locked_until < now())`;

const CLAIM_SQL = `
  WITH due AS (
    SELECT id, locked_until IS NOT NULL AS lapsed FROM jobs
    WHERE status IN (${STATUS_LIST(JOB_STEPS.claim.from)}) AND ${CLAIMABLE}
    ORDER BY run_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
  )
  UPDATE jobs SET locked_by = $1, locked_until = now() + $3 * interval '1 millisecond'
  FROM due WHERE jobs.id = due.id
  RETURNING ${claimedColumns('jobs')}, due.lapsed AS "takenOver"`;

// One QUEUED job, named by its NOTIFY, claimed and moved to SUBMITTED with its
// upstream status SENDING in one statement (with the event, as transition()
// writes it), for a worker that already holds leave to send it
// (UpstreamProvider.tryAdmit). SKIP LOCKED: a worker that loses the race to
// another learns it at once instead of waiting for the winner's commit.
const CLAIM_AND_MARK_SENDING_SQL = `
  WITH target AS (
    SELECT id FROM jobs WHERE id = $1 AND status IN (${STATUS_LIST(JOB_STEPS.claimAndMarkSending.from)}) AND ${CLAIMABLE}
    FOR UPDATE SKIP LOCKED
  ), moved AS (
    UPDATE jobs SET status = '${JOB_STEPS.claimAndMarkSending.to}', upstream_status = '${SENDING}', submitted_at = now(), updated_at = now(),
                    first_sent_at = COALESCE(jobs.first_sent_at, now()), locked_by = $2, locked_until = now() + $3 * interval '1 millisecond'
    FROM target WHERE jobs.id = target.id
    RETURNING jobs.*
  ), ${eventFanOut("'{}'")}
  SELECT ${claimedColumns('moved')} FROM moved JOIN event_notice ON event_notice."jobId" = moved.id`;

export async function claimJobs(pool: pg.Pool, workerId: string, limit: number, leaseMs: number): Promise<ClaimedJob[]> {
  const { rows } = await pool.query<ClaimedJob>(prepared(CLAIM_SQL, [workerId, limit, leaseMs]));
  return rows;
}

export async function extendLeases(pool: pg.Pool, workerId: string, jobIds: string[], leaseMs: number): Promise<void> {
  await pool.query(
    `UPDATE jobs SET locked_until = now() + $3 * interval '1 millisecond'
     WHERE id = ANY($1::uuid[]) AND locked_by = $2`,
    [jobIds, workerId, leaseMs],
  );
}

/** Hands back this worker's lease on a job it is not handling (ClaimLoop's release). */
export async function releaseLease(pool: pg.Pool, workerId: string, jobId: string): Promise<void> {
  await pool.query(`UPDATE jobs SET locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2`, [jobId, workerId]);
}

/**
 * Claims the QUEUED job `jobId` and marks it SUBMITTED and SENDING, for a
 * synchronous send the caller is admitted to make; null when it is not QUEUED,
 * not due, or another worker has it.
 */
export async function claimAndMarkSending(pool: pg.Pool, jobId: string, workerId: string, leaseMs: number): Promise<ClaimedJob | null> {
  const { rows } = await pool.query<ClaimedJob>(prepared(CLAIM_AND_MARK_SENDING_SQL, [jobId, workerId, leaseMs]));
  return rows[0] ?? null;
}

/** A held job's step: the job, and the worker that must still hold its lease. */
export interface Held {
  jobId: string;
  workerId: string;
  /** The status the worker knows the job is in, for the log line. */
  was: JobStatus;
}

/** A synchronous send is the whole run: the job is SUBMITTED (and SENDING) before it is sent. Keeps the lease. */
export function markSubmittedSending(pool: pg.Pool, held: Held): Promise<EventNotice | null> {
  const step = JOB_STEPS.markSubmittedSending;
  return transition(pool, {
    jobId: held.jobId, from: step.from, to: step.to, lockedBy: held.workerId, was: held.was, reason: 'sending',
    patch: { submitted_at: 'now', first_sent_at: 'now', upstream_status: SENDING },
  });
}

/** The job's request may leave now (status unchanged). Keeps the lease; false when the lease was lost. */
export function markSending(pool: pg.Pool, held: Held): Promise<boolean> {
  return updateHeldJob(pool, held.jobId, held.workerId, { upstream_status: SENDING, first_sent_at: 'now' });
}

/** The upstream accepted the job: SUBMITTED, first poll due at `runAt`; the lease is handed back. */
export function accept(
  pool: pg.Pool, held: Held, accepted: { requestId: string; pollUrl: string | null; resultUrl: string | null; runAt: Date },
): Promise<EventNotice | null> {
  const step = JOB_STEPS.accept;
  return transition(pool, {
    jobId: held.jobId, from: step.from, to: step.to, lockedBy: held.workerId, releaseLease: true, was: held.was, reason: 'accepted upstream',
    patch: {
      submitted_at: 'now', upstream_request_id: accepted.requestId, upstream_poll_url: accepted.pollUrl,
      upstream_result_url: accepted.resultUrl, error_code: null, upstream_status: 'QUEUED', attempts: 0, run_at: accepted.runAt,
    },
    detail: { upstreamRequestId: accepted.requestId },
  });
}

/** The upstream is working on it: PROCESSING, next poll due at `runAt`; the lease is handed back. */
export function markProcessing(pool: pg.Pool, held: Held, runAt: Date): Promise<EventNotice | null> {
  const step = JOB_STEPS.markProcessing;
  return transition(pool, {
    jobId: held.jobId, from: step.from, to: step.to, lockedBy: held.workerId, releaseLease: true, was: held.was, reason: 'upstream processing',
    patch: { upstream_status: 'PROCESSING', attempts: 0, run_at: runAt },
  });
}

/** The output columns a completion records (artifact, served copy, upstream answer). */
export type CompletionColumns = Pick<JobPatch,
  'result' | 'output_key' | 'output_sha256' | 'output_bytes' | 'output_mime_type' | 'output_width' | 'output_height'
  | 'served_output_key' | 'served_output_sha256' | 'served_output_bytes' | 'served_output_label'>;

/** COMPLETED with its output; the lease is handed back. Null when canceled meanwhile or the lease was lost. */
export function complete(pool: pg.Pool, held: Held, columns: CompletionColumns, detail: Record<string, unknown>): Promise<EventNotice | null> {
  const step = JOB_STEPS.complete;
  return transition(pool, {
    jobId: held.jobId, from: step.from, to: step.to, lockedBy: held.workerId, releaseLease: true, was: held.was,
    patch: {
      ...columns, upstream_status: 'COMPLETED', finished_at: 'now',
      error_code: null, // a refusal's code, kept while the job lived (retry), is no failure of a completed job
    },
    detail,
  });
}

/**
 * FAILED with `code`; the lease is handed back. `billed`: the upstream
 * answered 2xx but its output was unusable, so the job pays what the vendor
 * billed (pricing.ts).
 */
export function fail(
  pool: pg.Pool, held: Held, failure: { code: string; message: string; detail: Record<string, unknown>; billed: boolean },
): Promise<EventNotice | null> {
  const step = JOB_STEPS.fail;
  return transition(pool, {
    jobId: held.jobId, from: step.from, to: step.to, lockedBy: held.workerId, billed: failure.billed, was: held.was, releaseLease: true,
    patch: { error_code: failure.code, error_message: failure.message, finished_at: 'now' },
    detail: { code: failure.code, message: failure.message, ...failure.detail },
  });
}

/** Hands the job back, due again at `runAt`, with `patch` (status unchanged, no event); false when the lease was lost. */
export function releaseUntil(pool: pg.Pool, held: Held, runAt: Date, patch: Omit<JobPatch, 'run_at'>): Promise<boolean> {
  return updateHeldJob(pool, held.jobId, held.workerId, { ...patch, run_at: runAt }, true);
}

export type CancelOutcome =
  | { kind: 'canceled'; job: Job }
  | { kind: 'not-found' }
  | { kind: 'already-final'; status: JobStatus };

// One statement: the job of this key and model, locked (so its status is the
// latest committed one, not the statement's snapshot), CANCELED when it is
// live, with its event and charge, and the row as it is now. Whoever holds
// the lease loses it: its next write is refused, as a lost lease's is.
const CANCEL_SQL = `
  WITH target AS MATERIALIZED (
    SELECT id, status FROM jobs WHERE id = $1 AND api_key_id = $3 AND model = $4 FOR UPDATE
  ), ${moveSql({
    to: JOB_STEPS.cancel.to,
    sets: moveSets(`'${JOB_STEPS.cancel.to}'`, { finished_at: 'now' }, [], true),
    where: `jobs.id = (SELECT id FROM target) AND jobs.status IN (${STATUS_LIST(JOB_STEPS.cancel.from)})`,
    detailParam: '$2',
  })}
  SELECT (SELECT status FROM target) AS was, CASE WHEN moved.id IS NOT NULL THEN ${jobJson('moved')} END AS job, n.provider, n."chargedMicros", n."jobCreatedAt"
  FROM (SELECT 1) AS one LEFT JOIN moved ON true LEFT JOIN event_notice n ON n."jobId" = moved.id`;

/** A client's cancel of its job `id` of `model`, in one round trip. */
export async function cancel(pool: pg.Pool, apiKeyId: string, id: string, model: string): Promise<CancelOutcome> {
  const reason = 'canceled by client';
  const { rows } = await pool.query<{ was: JobStatus | null; job: Record<string, unknown> | null; provider: string; chargedMicros: string | null; jobCreatedAt: Date }>(
    prepared(CANCEL_SQL, [id, JSON.stringify({ reason }), apiKeyId, model]),
  );
  const row = rows[0]!;
  if (row.was === null) return { kind: 'not-found' };
  if (row.job === null) return { kind: 'already-final', status: row.was };
  const job = readJob(row.job);
  recordMove({ ...row, jobId: job.id, model: job.model, status: job.status as JobStatus }, row.was, reason);
  return { kind: 'canceled', job };
}
