// Every status change of a job goes through `transition`: one statement that
// moves the row (only from the statuses the caller expects, and only while the
// caller still holds the lease), appends the job_events row, queues the
// event's webhook deliveries and notifies listeners. Being one statement makes
// it atomic without an explicit transaction, and NOTIFY is delivered only when
// it commits, so a subscriber never hears of a change that did not happen.
//
// A move to a final status also settles the job's charge (pricing.ts) and
// appends it to the ledger in that same statement, so the ledger always
// equals the sum of the jobs' charges, and each job is charged once.
//
// Events of one API key are written under a transaction-scoped advisory lock
// on that key, so their ids are assigned and committed in the same order: an
// event's id is then a resume cursor for that key's subscriptions (an event
// with a smaller id can never commit after it). The lock is held until the
// commit has been flushed, and every event commit of the database also queues
// on NOTIFY's commit lock, so what runs under it is kept short: it is taken
// after the job row has been written, and only the event, its deliveries, the
// charge and the notifications come after it.
import type pg from 'pg';
import { prepared } from '../db/prepared.js';
import type { JobStatus } from './job-status.js';
import { eventWithJobJson } from './job-rows.js';
import { settlementSql } from './pricing.js';

export const EVENTS_CHANNEL = 'swapyard_job_events';
export const JOBS_READY_CHANNEL = 'swapyard_jobs_ready';
/** Where the workers' leader wakes the other workers when it cannot take new jobs itself (claim-loop.ts). */
export const JOBS_OVERFLOW_CHANNEL = 'swapyard_jobs_overflow';
export const WEBHOOKS_CHANNEL = 'swapyard_webhooks';

/** Columns a transition may set besides status. Kept explicit: these names go into SQL. */
export interface JobPatch {
  upstream_request_id?: string | null;
  upstream_poll_url?: string | null;
  upstream_status?: string | null;
  result?: unknown;
  output_key?: string;
  output_sha256?: string;
  output_bytes?: number;
  output_mime_type?: string;
  output_width?: number | null;
  output_height?: number | null;
  error_code?: string | null;
  error_message?: string | null;
  /** Consecutive transient upstream failures; drives the retry backoff. */
  attempts?: number;
  submitted_at?: 'now';
  finished_at?: 'now';
  run_at?: Date;
  locked_by?: null;
  locked_until?: null;
}

const JSON_COLUMNS = new Set(['result']);

/** The event notification payload: ids, and the event with its job when they fit. */
export interface EventNotice {
  eventId: string;
  jobId: string;
  apiKeyId: string;
  status: JobStatus;
  model: string;
  /**
   * The event and its job as this statement wrote them (job-rows.ts#eventWithJobJson),
   * so listeners need not read them back; null when they would not fit in the
   * payload (NOTIFY refuses 8000 bytes; large inline images can pass that).
   */
  event?: Record<string, unknown> | null;
}

/** Larger and the event travels without its rows; well under NOTIFY's 8000-byte limit with the ids beside it. */
const MAX_NOTICE_ROWS_BYTES = 7000;

export interface TransitionRequest {
  jobId: string;
  from: readonly JobStatus[];
  to: JobStatus;
  patch?: JobPatch;
  detail?: Record<string, unknown>;
  /** When set, the move happens only while this worker still holds the job's lease. */
  lockedBy?: string;
}

function setClauses(patch: JobPatch, params: unknown[]): string[] {
  const clauses: string[] = [];
  for (const [column, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (value === 'now') {
      clauses.push(`${column} = now()`);
      continue;
    }
    params.push(JSON_COLUMNS.has(column) && value !== null ? JSON.stringify(value) : value);
    clauses.push(`${column} = $${params.length}${JSON_COLUMNS.has(column) ? '::jsonb' : ''}`);
  }
  return clauses;
}

function keyLockValue(apiKeyIdSql: string): string {
  return `hashtextextended(${apiKeyIdSql}::text, 7001)`;
}

/** pg_advisory_xact_lock on the key: the per-key ordering lock. */
export function keyLockCall(apiKeyIdSql: string): string {
  return `pg_advisory_xact_lock(${keyLockValue(apiKeyIdSql)})`;
}

/**
 * The ordering locks of the keys of the rows the CTE `moved` has produced, as
 * a CTE named key_lock. The event insert gates on it, so event ids are drawn
 * once the locks are held; when `moved` is empty no lock is taken. A batch of
 * creates can hold several keys: they are taken in one global order (by lock
 * value) so that two batches cannot each hold a lock the other waits for.
 */
const KEY_LOCK_AFTER_MOVE = `key_lock AS MATERIALIZED (
       SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT ${keyLockValue('api_key_id')} AS h FROM moved ORDER BY 1) AS keys
     )`;

/**
 * The tail of a statement whose CTE `moved` yields the job row (every column)
 * after a change: records the event with the detail in
 * parameter `detailParam`, queues a delivery for each matching webhook
 * endpoint, and notifies subscribers (and webhook dispatchers when there is
 * something to deliver), all under the key's ordering lock. Its last CTE,
 * event_notice, is the EventNotice row.
 */
export function eventFanOut(detailParam: string): string {
  return `${KEY_LOCK_AFTER_MOVE}, event AS (
       INSERT INTO job_events (job_id, api_key_id, status, detail)
       SELECT id, api_key_id, status, ${detailParam}::jsonb FROM moved WHERE EXISTS (SELECT 1 FROM key_lock)
       RETURNING *
     ), hooks AS (
       INSERT INTO webhook_deliveries (id, endpoint_id, event_id)
       SELECT gen_random_uuid(), w.id, event.id FROM event
       JOIN webhook_endpoints w ON w.api_key_id = event.api_key_id AND w.enabled
        AND (cardinality(w.statuses) = 0 OR event.status = ANY(w.statuses))
       RETURNING 1
     ), event_notice AS (
     SELECT event.id::text AS "eventId", event.job_id AS "jobId", event.api_key_id AS "apiKeyId",
            event.status, moved.model,
            pg_notify('${EVENTS_CHANNEL}', json_build_object(
              'eventId', event.id::text, 'jobId', event.job_id, 'apiKeyId', event.api_key_id,
              'status', event.status, 'model', moved.model, 'event', fitted.json)::text),
            CASE WHEN EXISTS (SELECT 1 FROM hooks) THEN pg_notify('${WEBHOOKS_CHANNEL}', '') END
     FROM event JOIN moved ON moved.id = event.job_id
     CROSS JOIN LATERAL (SELECT ${eventWithJobJson('event', 'moved')} AS json) AS built
     CROSS JOIN LATERAL (SELECT CASE WHEN octet_length(built.json::text) <= ${MAX_NOTICE_ROWS_BYTES} THEN built.json END AS json) AS fitted)`;
}

/** Moves a job and records the event. Returns null when the job was not in an expected state (or the lease was lost). */
export async function transition(db: pg.Pool | pg.PoolClient, req: TransitionRequest): Promise<EventNotice | null> {
  const params: unknown[] = [req.jobId, req.to, req.from, JSON.stringify(req.detail ?? {})];
  const sets = ['status = $2::"JobStatus"', 'updated_at = now()', ...setClauses(req.patch ?? {}, params)];
  const charge = settlementSql(req.to, req.patch?.error_code);
  let ledger = '';
  if (charge) {
    sets.push(`charged_micros = ${charge}`);
    ledger = `, charge AS (
       INSERT INTO ledger_entries (api_key_id, job_id, model, status, amount_micros)
       SELECT api_key_id, id, model, status, charged_micros FROM moved
       WHERE EXISTS (SELECT 1 FROM key_lock)
     )`;
  }
  let lockGuard = '';
  if (req.lockedBy !== undefined) {
    params.push(req.lockedBy);
    lockGuard = ` AND locked_by = $${params.length}`;
  }
  const { rows } = await db.query<EventNotice>(prepared(
    `WITH moved AS (
       UPDATE jobs SET ${sets.join(', ')}
       WHERE id = $1 AND status = ANY($3::"JobStatus"[])${lockGuard}
       RETURNING *
     ), ${eventFanOut('$4')}${ledger}
     SELECT * FROM event_notice`,
    params,
  ));
  const row = rows[0];
  if (!row) return null;
  return { eventId: row.eventId, jobId: row.jobId, apiKeyId: row.apiKeyId, status: row.status, model: row.model };
}

/** Changes columns of a job the worker holds without changing its status (no event). */
export async function updateHeldJob(pool: pg.Pool, jobId: string, workerId: string, patch: JobPatch): Promise<boolean> {
  const params: unknown[] = [jobId, workerId];
  const sets = setClauses(patch, params);
  if (sets.length === 0) return true;
  const { rowCount } = await pool.query(prepared(
    `UPDATE jobs SET ${sets.join(', ')}, updated_at = now() WHERE id = $1 AND locked_by = $2`,
    params,
  ));
  return (rowCount ?? 0) > 0;
}
