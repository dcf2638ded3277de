// How a worker takes jobs. FOR UPDATE SKIP LOCKED lets concurrent claimers
// pass over each other's rows instead of waiting, and the lease written in the
// same statement keeps a claimed job away from every other worker until its
// holder releases it or stops renewing the lease (it died).
import type pg from 'pg';
import { prepared } from '../db/prepared.js';
import { eventFanOut } from './job-transitions.js';
import { SENDING, type JobStatus } from './job-status.js';
import type { Admitted } from './providers/types.js';

export interface ClaimedJob {
  id: string;
  model: string;
  provider: string;
  status: JobStatus;
  params: Record<string, unknown>;
  upstreamRequestId: string | null;
  upstreamPollUrl: string | null;
  upstreamStatus: string | null;
  attempts: number;
  submittedAt: Date | null;
  /** The job has a price (its estimate is above zero). */
  paid: boolean;
  /** Claimed with leave to send already held (claimAndMarkSending): SUBMITTED and SENDING, to be sent at once. */
  admitted?: Admitted;
}

/**
 * What a new job's NOTIFY on the ready channel says of it, so that a worker
 * can decide to claim it by id (claimAndMarkSending). A batch of creates
 * notifies once with an empty payload instead: workers then claim as usual.
 */
export interface ReadyNotice {
  id: string;
  model: string;
  provider: string;
}

/** SQL for the ReadyNotice payload of the job whose id, model and provider are these SQL expressions. */
export function readyNoticeSql(id: string, model: string, provider: string): string {
  return `json_build_object('id', ${id}, 'model', ${model}, 'provider', ${provider})::text`;
}

export function parseReadyNotice(payload: string): ReadyNotice | null {
  if (!payload.startsWith('{')) return null;
  const notice = JSON.parse(payload) as Partial<ReadyNotice>;
  return typeof notice.id === 'string' && typeof notice.model === 'string' && typeof notice.provider === 'string'
    ? { id: notice.id, model: notice.model, provider: notice.provider }
    : null;
}

/** The columns of a ClaimedJob, from the updated row `alias`. */
function claimedColumns(alias: string): string {
  return `${alias}.id, ${alias}.model, ${alias}.provider, ${alias}.status, ${alias}.params,
            ${alias}.upstream_request_id AS "upstreamRequestId", ${alias}.upstream_poll_url AS "upstreamPollUrl",
            ${alias}.upstream_status AS "upstreamStatus", ${alias}.attempts, ${alias}.submitted_at AS "submittedAt",
            ${alias}.estimated_micros > 0 AS paid`;
}

/** Due and not leased to anyone: what a claim may take. */
const CLAIMABLE = `run_at <= now() AND (locked_until IS NULL OR locked_until < now())`;

const CLAIM_SQL = `
  WITH due AS (
    SELECT id FROM jobs
    WHERE status IN ('QUEUED', 'SUBMITTED', 'PROCESSING') AND ${CLAIMABLE}
    ORDER BY run_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
  )
  UPDATE jobs SET locked_by = $1, locked_until = now() + $3 * interval '1 millisecond'
  FROM due WHERE jobs.id = due.id
  RETURNING ${claimedColumns('jobs')}`;

// One QUEUED job, named by its NOTIFY, claimed and moved to SUBMITTED with its
// upstream status SENDING in one statement (with the event, as transition()
// writes it), for a worker that already holds leave to send it
// (UpstreamProvider.tryAdmit). SKIP LOCKED: a worker that loses the race to
// another learns it at once instead of waiting for the winner's commit.
const CLAIM_AND_MARK_SENDING_SQL = `
  WITH target AS (
    SELECT id FROM jobs WHERE id = $1 AND status = 'QUEUED' AND ${CLAIMABLE}
    FOR UPDATE SKIP LOCKED
  ), moved AS (
    UPDATE jobs SET status = 'SUBMITTED', upstream_status = '${SENDING}', submitted_at = now(), updated_at = now(),
                    locked_by = $2, locked_until = now() + $3 * interval '1 millisecond'
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
