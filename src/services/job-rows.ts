// A job event with its job, as JSON built in SQL and read back in exactly the
// shape Prisma gives them, for the event hub's hot path. The same JSON travels
// in the event's NOTIFY payload (job-transitions.ts#eventFanOut), so the hub
// normally reads nothing; findEventWithJob reads it when the payload had to
// leave it out (too big for NOTIFY). Prisma's own query took longer than the
// query itself (p50 1.2 ms, p90 3.3 ms, against ~0.3 ms through pg).
// test/job-rows.test.ts checks both routes against Prisma.
import type pg from 'pg';
import type { Job, JobEvent } from '../generated/prisma/client.js';
import { prepared } from '../db/prepared.js';

// JSON has no bigint or date: bigints travel as text, dates as ISO strings.
type Column<T> = readonly [property: keyof T & string, column: string, kind?: 'bigint' | 'date'];

const JOB_COLUMNS: ReadonlyArray<Column<Job>> = [
  ['id', 'id'], ['apiKeyId', 'api_key_id'], ['model', 'model'], ['status', 'status'], ['provider', 'provider'],
  ['params', 'params'], ['seed', 'seed'], ['upstreamRequestId', 'upstream_request_id'],
  ['upstreamPollUrl', 'upstream_poll_url'], ['upstreamStatus', 'upstream_status'], ['result', 'result'],
  ['outputKey', 'output_key'], ['outputSha256', 'output_sha256'], ['outputBytes', 'output_bytes'],
  ['outputMimeType', 'output_mime_type'], ['outputWidth', 'output_width'], ['outputHeight', 'output_height'],
  ['errorCode', 'error_code'], ['errorMessage', 'error_message'], ['attempts', 'attempts'], ['runAt', 'run_at', 'date'],
  ['lockedBy', 'locked_by'], ['lockedUntil', 'locked_until', 'date'], ['createdAt', 'created_at', 'date'], ['updatedAt', 'updated_at', 'date'],
  ['submittedAt', 'submitted_at', 'date'], ['finishedAt', 'finished_at', 'date'], ['idempotencyKey', 'idempotency_key'],
  ['requestHash', 'request_hash'], ['rerunOfId', 'rerun_of_id'], ['estimatedMicros', 'estimated_micros', 'bigint'],
  ['failureMicros', 'failure_micros', 'bigint'], ['chargedMicros', 'charged_micros', 'bigint'],
];

const EVENT_COLUMNS: ReadonlyArray<Column<JobEvent>> = [
  ['id', 'id', 'bigint'], ['jobId', 'job_id'], ['apiKeyId', 'api_key_id'], ['status', 'status'], ['detail', 'detail'],
  ['createdAt', 'created_at', 'date'],
];

function jsonObject<T>(columns: ReadonlyArray<Column<T>>, alias: string, extra = ''): string {
  const fields = columns.map(([property, column, kind]) => `'${property}', ${alias}.${column}${kind === 'bigint' ? '::text' : ''}`);
  return `json_build_object(${fields.join(', ')}${extra})`;
}

function read<T>(columns: ReadonlyArray<Column<T>>, json: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const [property, , kind] of columns) {
    const value = json[property] ?? null;
    out[property] = value === null ? null : kind === 'bigint' ? BigInt(value as string) : kind === 'date' ? new Date(value as string) : value;
  }
  return out as T;
}

export type EventWithJob = JobEvent & { job: Job };

/**
 * SQL for the JSON of an event row (alias `eventAlias`, every job_events
 * column) and its job row (alias `jobAlias`, every jobs column), which
 * readEventWithJob turns into the Prisma shape.
 */
export function eventWithJobJson(eventAlias: string, jobAlias: string): string {
  return jsonObject(EVENT_COLUMNS, eventAlias, `, 'job', ${jsonObject(JOB_COLUMNS, jobAlias)}`);
}

/** The JSON eventWithJobJson built, as prisma.jobEvent.findUnique({ include: { job: true } }) returns it. */
export function readEventWithJob(json: Record<string, unknown>): EventWithJob {
  return { ...read(EVENT_COLUMNS, json), job: read(JOB_COLUMNS, json.job as Record<string, unknown>) };
}

const EVENT_WITH_JOB_SQL = `SELECT ${eventWithJobJson('e', 'j')} AS json
  FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE e.id = $1`;

/** One event with its job as they are now, in Prisma's shape; null when there is none. */
export async function findEventWithJob(pool: pg.Pool, eventId: bigint | string): Promise<EventWithJob | null> {
  const { rows } = await pool.query<{ json: Record<string, unknown> }>(prepared(EVENT_WITH_JOB_SQL, [eventId.toString()]));
  const row = rows[0];
  return row ? readEventWithJob(row.json) : null;
}
