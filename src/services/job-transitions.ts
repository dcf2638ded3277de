// The statement behind every status change (the named steps of job-steps.ts):
// it moves the row, appends the event, queues webhook deliveries, settles a
// final status's charge and notifies, in one statement, so it is atomic and a
// subscriber never hears of a change that did not commit. Events of one key
// are written under that key's advisory lock, so their ids are a resume
// cursor (docs/ARCHITECTURE.md, §4).
import type pg from 'pg';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { coalescerPer } from '../util/coalescer.js';
import type { JobColumn } from '../db/job-columns.js';
import { prepared } from '../db/prepared.js';
import type { JobStatus } from './job-status.js';
import { eventWithJobJson } from './job-rows.js';
import { settlement } from './pricing.js';
import { jobMoved } from './job-telemetry.js';

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
  /** The labelled output (served-outputs.ts); absent when labelling is off. */
  served_output_key?: string | null;
  served_output_sha256?: string;
  served_output_bytes?: number;
  served_output_label?: string | null;
  error_code?: string | null;
  error_message?: string | null;
  /** Consecutive transient upstream failures; drives the retry backoff. */
  attempts?: number;
  submitted_at?: 'now';
  /** Set once: later marks keep the first time. */
  first_sent_at?: 'now';
  upstream_result_url?: string | null;
  finished_at?: 'now';
  run_at?: Date;
}

// Every key of JobPatch is a column of jobs: the compiler checks it against Prisma's model.
type AssertColumns<K extends JobColumn> = K;
export type JobPatchColumn = AssertColumns<keyof JobPatch>;

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

/**
 * The event id and key of a notice, from the head of its text as eventFanOut's
 * json_build_object writes it ({"eventId" : "…", "jobId" : "…", "apiKeyId" : "…", …});
 * null when the text does not start so (the caller then parses it whole).
 */
export function noticeHead(payload: string): { eventId: string; apiKeyId: string } | null {
  const m = NOTICE_HEAD.exec(payload);
  return m ? { eventId: m[1]!, apiKeyId: m[2]! } : null;
}
const NOTICE_HEAD = /^\{"eventId" : "(\d+)", "jobId" : "[0-9a-f-]{36}", "apiKeyId" : "([0-9a-f-]{36})"/;

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
  /** Hand the lease back in the same statement (job-steps.ts says which steps do). */
  releaseLease?: boolean;
  /** A failure after the upstream answered 2xx (the vendor billed it): charged its estimate (pricing.ts). */
  billed?: boolean;
  /** The status the caller knows the job is in (for the log line); else `from` is logged. */
  was?: JobStatus;
  /** Why, for the log line (a failure code is taken from the patch). */
  reason?: string;
}

function setClauses(patch: JobPatch, params: unknown[]): string[] {
  const clauses: string[] = [];
  for (const [column, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (value === 'now') {
      clauses.push(column === 'first_sent_at' ? 'first_sent_at = COALESCE(first_sent_at, now())' : `${column} = now()`);
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
 * event_notice, is the EventNotice row. The event's JSON is built once
 * (OFFSET 0 keeps the planner from pulling the subquery up, which copied the
 * json_build_object into both the size check and the payload).
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
            event.status, moved.model, moved.provider, moved.charged_micros::text AS "chargedMicros",
            moved.created_at AS "jobCreatedAt",
            pg_notify('${EVENTS_CHANNEL}', json_build_object(
              'eventId', event.id::text, 'jobId', event.job_id, 'apiKeyId', event.api_key_id,
              'status', event.status, 'model', moved.model, 'event', fitted.json)::text),
            CASE WHEN EXISTS (SELECT 1 FROM hooks) THEN pg_notify('${WEBHOOKS_CHANNEL}', '') END
     FROM event JOIN moved ON moved.id = event.job_id
     CROSS JOIN LATERAL (SELECT ${eventWithJobJson('event', 'moved')} AS json OFFSET 0) AS built
     CROSS JOIN LATERAL (SELECT CASE WHEN octet_length(built.json::text) <= ${MAX_NOTICE_ROWS_BYTES} THEN built.json END AS json) AS fitted)`;
}

/**
 * The SQL of a move: CTE `moved` updates the job rows `target` (a CTE the
 * caller puts before it, or the `where` condition on jobs alone) to `to` with
 * `sets`, then the event fan-out and, for a final status, the charge. The
 * statement's last CTE is event_notice.
 */
export function moveSql(opts: { to: JobStatus; sets: string[]; where: string; errorCode?: string | null; billed?: boolean; detailParam: string; from?: string; returning?: string }): string {
  const sets = [...opts.sets];
  const charge = settlement(opts.to, opts.errorCode, opts.billed);
  let ledger = '';
  if (charge) {
    sets.push(`charged_micros = ${charge.amountSql}`);
    // The rule reads only columns a final move leaves as they were, so it can be taken from `moved`.
    ledger = `, charge AS (
       INSERT INTO ledger_entries (api_key_id, job_id, model, status, amount_micros, charge_rule)
       SELECT api_key_id, id, model, status, charged_micros, ${charge.ruleSql} FROM moved
       WHERE EXISTS (SELECT 1 FROM key_lock)
     )`;
  }
  return `moved AS (
       UPDATE jobs SET ${sets.join(', ')}${opts.from ? `
       FROM ${opts.from}` : ''}
       WHERE ${opts.where}
       RETURNING jobs.*${opts.returning ? `, ${opts.returning}` : ''}
     ), ${eventFanOut(opts.detailParam)}${ledger}`;
}

/** The SET clauses of a move to `to` (parameter `toParam`) with `patch`, releasing the lease when asked. */
export function moveSets(toParam: string, patch: JobPatch, params: unknown[], releaseLease = false): string[] {
  return [`status = ${toParam}::"JobStatus"`, 'updated_at = now()', ...setClauses(patch, params), ...(releaseLease ? LEASE_RELEASE : [])];
}

/** What handing a lease back writes. */
const LEASE_RELEASE = ['locked_by = NULL', 'locked_until = NULL'];

/** Telemetry of a move that happened. */
export function recordMove(row: { jobId: string; model: string; provider: string; status: JobStatus; chargedMicros: string | null; jobCreatedAt: Date }, from: JobStatus | readonly JobStatus[], reason: string | undefined): void {
  jobMoved({
    jobId: row.jobId, model: row.model, provider: row.provider, from, to: row.status,
    reason, chargedMicros: row.chargedMicros, createdAt: row.jobCreatedAt,
  });
}

/**
 * Moves a job and records the event: the statement every named step of
 * job-steps.ts runs. Returns null when the job was not in an expected state
 * (or the lease was lost).
 *
 * On a pool, moves that arrive while others of the process are being written
 * wait and go together (Coalescer): one statement and one commit for the
 * batch, so a key's ordering lock and the commit's flush are paid once per
 * batch instead of once per move (docs/PERFORMANCE.md §10). Each move still
 * commits before its caller hears of it; a move alone goes at once, in the
 * single-row statement. On a client (a caller's transaction) it runs there.
 */
export async function transition(db: pg.Pool | pg.PoolClient, req: TransitionRequest): Promise<EventNotice | null> {
  const row = isClient(db) ? await transitionRow(db, req) : await moveBatcher(db).push(req);
  if (!row) return null;
  recordMove(row, req.was ?? req.from, req.patch?.error_code ?? req.reason);
  return { eventId: row.eventId, jobId: row.jobId, apiKeyId: row.apiKeyId, status: row.status, model: row.model };
}

function isClient(db: pg.Pool | pg.PoolClient): db is pg.PoolClient {
  return typeof (db as Partial<pg.PoolClient>).release === 'function';
}

type NoticeRow = EventNotice & { provider: string; chargedMicros: string | null; jobCreatedAt: Date };

/** The single-row statement of a move. */
async function transitionRow(db: pg.Pool | pg.PoolClient, req: TransitionRequest): Promise<NoticeRow | null> {
  const params: unknown[] = [req.jobId, req.to, req.from, JSON.stringify(req.detail ?? {})];
  const sets = moveSets('$2', req.patch ?? {}, params, req.releaseLease);
  let lockGuard = '';
  if (req.lockedBy !== undefined) {
    params.push(req.lockedBy);
    lockGuard = ` AND locked_by = $${params.length}`;
  }
  const sql = moveSql({
    to: req.to, sets, errorCode: req.patch?.error_code, billed: req.billed, detailParam: '$4',
    where: `id = $1 AND status = ANY($3::"JobStatus"[])${lockGuard}`,
  });
  const { rows } = await db.query<NoticeRow>(prepared(
    `WITH ${sql}
     SELECT * FROM event_notice`,
    params,
  ));
  return rows[0] ?? null;
}

const moveBatcher = coalescerPer(transitionBatch, { maxBatch: 64, maxInFlight: 1 });

/** How the moves on `pool` were batched so far (for tests and benches). */
export function moveBatchStats(pool: pg.Pool): { batches: number; items: number; largest: number } {
  return { ...moveBatcher(pool).stats };
}

/**
 * The moves of a batch: those of one shape (the same statement text but for
 * each row's values) share a statement, one transaction per shape. A batch
 * statement that fails for anything but an unreachable database is retried
 * move by move, so one bad move fails alone.
 */
async function transitionBatch(pool: pg.Pool, reqs: TransitionRequest[]): Promise<Array<PromiseSettledResult<NoticeRow | null>>> {
  const groups = new Map<string, number[]>();
  reqs.forEach((req, i) => {
    const key = shapeOf(req);
    const group = groups.get(key);
    // A job twice in one batch (not expected: a job has one holder) goes in a group of its own.
    if (group && !group.some((j) => reqs[j]!.jobId === req.jobId)) group.push(i);
    else groups.set(group ? `${key}#${i}` : key, [i]);
  });
  const out: Array<PromiseSettledResult<NoticeRow | null>> = new Array(reqs.length);
  await Promise.all([...groups.values()].map(async (indexes) => {
    const group = indexes.map((i) => reqs[i]!);
    try {
      const rows = group.length === 1 ? [await transitionRow(pool, group[0]!)] : await transitionRows(pool, group);
      indexes.forEach((i, k) => (out[i] = { status: 'fulfilled', value: rows[k]! }));
    } catch (err) {
      if (group.length === 1 || isDatabaseUnavailable(err)) {
        for (const i of indexes) out[i] = { status: 'rejected', reason: err };
        return;
      }
      await Promise.all(indexes.map(async (i) => {
        out[i] = await transitionRow(pool, reqs[i]!).then((value) => ({ status: 'fulfilled' as const, value }), (reason) => ({ status: 'rejected' as const, reason }));
      }));
    }
  }));
  return out;
}

/** The columns a move's patch sets, each with whether it is set to now(). */
function patchColumns(req: TransitionRequest): Array<readonly [string, boolean]> {
  return Object.entries(req.patch ?? {}).filter(([, v]) => v !== undefined).map(([k, v]) => [k, v === 'now'] as const);
}

/** What decides a move's statement text: moves of one shape can share one. */
function shapeOf(req: TransitionRequest): string {
  const patch = patchColumns(req).map(([k, isNow]) => (isNow ? `${k}=now` : k));
  return JSON.stringify([req.to, req.from, patch, req.lockedBy !== undefined, Boolean(req.releaseLease), req.billed ?? false,
    settlement(req.to, req.patch?.error_code, req.billed)?.ruleSql ?? null]);
}

/**
 * Moves of one shape in one statement: each row's id, lease holder, detail
 * and patch travel as one JSON array; the patch is typed by the jobs table
 * itself (jsonb_populate_record). The rest is the single move's SQL, over
 * every row: the keys' ordering locks (in one order), the events, webhook
 * deliveries, charges and notices. Outcomes in the moves' order; null where
 * a move did not happen.
 */
async function transitionRows(pool: pg.Pool, reqs: TransitionRequest[]): Promise<Array<NoticeRow | null>> {
  const first = reqs[0]!;
  const patchKeys = patchColumns(first);
  const sets = [`status = $2::"JobStatus"`, 'updated_at = now()'];
  for (const [column, isNow] of patchKeys) {
    if (isNow) sets.push(column === 'first_sent_at' ? 'first_sent_at = COALESCE(jobs.first_sent_at, now())' : `${column} = now()`);
    else sets.push(`${column} = (input.in_patch).${column}`);
  }
  if (first.releaseLease) sets.push(...LEASE_RELEASE);
  const lockGuard = first.lockedBy !== undefined ? ' AND jobs.locked_by = input.in_locked_by' : '';
  const rows = [...reqs].sort((a, b) => (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0)).map((req) => ({
    in_id: req.jobId,
    in_locked_by: req.lockedBy ?? null,
    in_detail: req.detail ?? {},
    in_patch: Object.fromEntries(patchKeys.filter(([, isNow]) => !isNow).map(([column]) => {
      const value = (req.patch as Record<string, unknown>)[column];
      return [column, value instanceof Date ? value.toISOString() : value];
    })),
  }));
  const sql = moveSql({
    to: first.to, sets, errorCode: first.patch?.error_code, billed: first.billed, detailParam: 'moved.in_detail',
    from: 'input',
    where: `jobs.id = ANY($4::uuid[]) AND jobs.id = input.in_id AND jobs.status = ANY($3::"JobStatus"[])${lockGuard}`,
    returning: 'input.in_detail',
  });
  const { rows: notices } = await pool.query<NoticeRow>(prepared(
    `WITH input AS MATERIALIZED (
       SELECT r.in_id, r.in_locked_by, r.in_detail, jsonb_populate_record(NULL::jobs, r.in_patch) AS in_patch
       FROM jsonb_to_recordset($1::jsonb) AS r(in_id uuid, in_locked_by text, in_detail jsonb, in_patch jsonb)
     ), ${sql}
     SELECT * FROM event_notice`,
    [JSON.stringify(rows), first.to, first.from, rows.map((r) => r.in_id)],
  ));
  const byJob = new Map(notices.map((n) => [n.jobId, n]));
  return reqs.map((req) => byJob.get(req.jobId) ?? null);
}

/** Changes columns of a job the worker holds without changing its status (no event); hands the lease back when asked. */
export async function updateHeldJob(pool: pg.Pool, jobId: string, workerId: string, patch: JobPatch, releaseLease = false): Promise<boolean> {
  const params: unknown[] = [jobId, workerId];
  const sets = [...setClauses(patch, params), ...(releaseLease ? LEASE_RELEASE : [])];
  if (sets.length === 0) return true;
  const { rowCount } = await pool.query(prepared(
    `UPDATE jobs SET ${sets.join(', ')}, updated_at = now() WHERE id = $1 AND locked_by = $2`,
    params,
  ));
  return (rowCount ?? 0) > 0;
}
