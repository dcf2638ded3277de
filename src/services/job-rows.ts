// A job event with its job, as JSON built in SQL and read back in exactly the
// shape Prisma gives them, for the event hub's hot path, where Prisma's own
// query cost more than the query (docs/PERFORMANCE.md). The same JSON travels
// in the event's NOTIFY payload (job-transitions.ts#eventFanOut); findEventWithJob
// reads it when the payload had to leave it out. test/job-rows.test.ts checks
// both routes against Prisma.
import type pg from 'pg';
import type { Job, JobEvent } from '../generated/prisma/client.js';
import { JOB_COLUMNS as ALL_JOB_COLUMNS } from '../db/job-columns.js';
import { prepared } from '../db/prepared.js';

// JSON has no bigint or date: bigints travel as text, dates as ISO strings.
type Column<T> = readonly [property: keyof T & string, column: string, kind?: 'bigint' | 'date'];

// Derived from Prisma's model (db/job-columns.ts), so a new column travels without a list to extend.
const JOB_COLUMNS: ReadonlyArray<Column<Job>> = ALL_JOB_COLUMNS.map(({ property, column, kind }) => [property, column, kind] as const);

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

/** SQL for the JSON of a job row (alias `jobAlias`, every jobs column), which readJob turns into the Prisma shape. */
export function jobJson(jobAlias: string): string {
  return jsonObject(JOB_COLUMNS, jobAlias);
}

/** The JSON jobJson built, as prisma.job.findUnique returns it. */
export function readJob(json: Record<string, unknown>): Job {
  return read(JOB_COLUMNS, json);
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

const EVENTS_AFTER_SQL = `SELECT ${eventWithJobJson('e', 'j')} AS json
  FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE e.api_key_id = $1 AND e.id > $2 ORDER BY e.id LIMIT $3`;

/** The events of one API key after `afterId`, oldest first, each with its job as it is now (the event hub's replay). */
export async function findEventsAfter(pool: pg.Pool, apiKeyId: string, afterId: bigint, limit: number): Promise<EventWithJob[]> {
  const { rows } = await pool.query<{ json: Record<string, unknown> }>(prepared(EVENTS_AFTER_SQL, [apiKeyId, afterId.toString(), limit]));
  return rows.map((r) => readEventWithJob(r.json));
}
