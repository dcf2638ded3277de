// How a worker takes jobs. FOR UPDATE SKIP LOCKED lets concurrent claimers
// pass over each other's rows instead of waiting, and the lease written in the
// same statement keeps a claimed job away from every other worker until its
// holder releases it or stops renewing the lease (it died).
import type pg from 'pg';
import { prepared } from '../db/prepared.js';
import type { JobStatus } from './job-status.js';

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
}

const CLAIM_SQL = `
  WITH due AS (
    SELECT id FROM jobs
    WHERE status IN ('QUEUED', 'SUBMITTED', 'PROCESSING')
      AND run_at <= now()
      AND (locked_until IS NULL OR locked_until < now())
    ORDER BY run_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
  )
  UPDATE jobs SET locked_by = $1, locked_until = now() + $3 * interval '1 millisecond'
  FROM due WHERE jobs.id = due.id
  RETURNING jobs.id, jobs.model, jobs.provider, jobs.status, jobs.params,
            jobs.upstream_request_id AS "upstreamRequestId", jobs.upstream_poll_url AS "upstreamPollUrl",
            jobs.upstream_status AS "upstreamStatus", jobs.attempts, jobs.submitted_at AS "submittedAt",
            jobs.estimated_micros > 0 AS paid`;

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
