// Creating, finding, listing and canceling jobs for one API key. Every query
// here is scoped by the caller's key: a job belongs to the key that created it
// and no other key can see or touch it.
import { randomUUID } from 'node:crypto';
import type { BudgetPeriod, Job, PrismaClient } from '../generated/prisma/client.js';
import type { Db } from '../db/client.js';
import type { JobColumn } from '../db/job-columns.js';
import { prepared } from '../db/prepared.js';
import type { Normalised } from '../models/normalise.js';
import type { ModelSpec } from '../models/types.js';
import { readyNoticeSql } from './job-claims.js';
import { cancel, type CancelOutcome } from './job-steps.js';
import { eventFanOut, JOBS_READY_CHANNEL, keyLockCall } from './job-transitions.js';
import { LIVE_STATUSES, type JobStatus } from './job-status.js';
import type { Estimate } from './pricing.js';
import { coalescerPer, type Coalescer } from '../util/coalescer.js';
import { componentLogger } from '../util/logger.js';
import { jobMoved } from './job-telemetry.js';
import { currentTraceParent } from '../util/tracing.js';

const log = componentLogger('jobs');

export interface CreateJobArgs {
  apiKeyId: string;
  spec: ModelSpec;
  normalised: Normalised;
  provider: string;
  /** The client's retry key, and the hash of the request it came with. */
  idempotency?: { key: string; requestHash: string };
  /** The job this one reruns. */
  rerunOfId?: string;
  /** Fixed on the job now: the reservation against the key's budgets, and what a failure would cost. */
  cost: Estimate;
}

export type CreateOutcome =
  | { kind: 'created'; job: Job }
  /** The same key came with the same request before: that request's job. */
  | { kind: 'replayed'; job: Job }
  /** The same key came with a different request: nothing created. */
  | { kind: 'conflict'; jobId: string; model: string }
  /** A budget of the key has less left than the job's estimate: nothing created. */
  | { kind: 'over-budget'; period: BudgetPeriod; limitMicros: bigint; remainingMicros: bigint; requiredMicros: bigint };

// The columns a create writes, in the order of its parameters (insertParams),
// with their SQL types; the others take their defaults (status QUEUED).
const INSERTED = [
  ['id', 'uuid'], ['api_key_id', 'uuid'], ['model', 'text'], ['provider', 'text'], ['params', 'jsonb'], ['seed', 'int'],
  ['idempotency_key', 'text'], ['request_hash', 'text'], ['rerun_of_id', 'uuid'], ['estimated_micros', 'bigint'],
  ['failure_micros', 'bigint'], ['trace_parent', 'text'],
] as const satisfies ReadonlyArray<readonly [JobColumn, string]>;
const INSERTED_LIST = INSERTED.map(([column]) => column).join(', ');

// One statement: the budget check, the job row, its QUEUED event, its webhook
// deliveries and the notifications commit together. The key's ordering lock
// (job-transitions.ts) is taken after the job row is written, keeping the
// insert out of the section that is serialised per key. A key with a budget
// also takes it first: concurrent creates of that key are then checked one
// after another, and budget_violations() (a volatile function, see its
// migration) reads with a snapshot taken after the lock, so no two creates can
// both take the last of a budget. Keys without a budget skip both: a budget
// committed while such a create was starting simply comes after it. With an
// idempotency key, ON CONFLICT waits for a concurrent insert of the same key to
// commit and then inserts nothing, so any number of simultaneous retries create
// one job.
const CREATE_SQL = `
  WITH budgeted AS MATERIALIZED (SELECT EXISTS (SELECT 1 FROM budgets WHERE api_key_id = $2::uuid) AS yes),
  budget_lock AS MATERIALIZED (SELECT ${keyLockCall('$2::uuid')} FROM budgeted WHERE yes),
  over_budget AS MATERIALIZED (
    SELECT period, limit_micros::text AS "limitMicros", committed_micros::text AS "committedMicros"
    FROM budget_violations($2::uuid, $10::bigint)
    WHERE EXISTS (SELECT 1 FROM budget_lock)
  ),
  moved AS (
    INSERT INTO jobs (${INSERTED_LIST})
    SELECT ${INSERTED.map(([, type], i) => (type === 'jsonb' ? `$${i + 1}::jsonb` : `$${i + 1}`)).join(', ')}
    WHERE NOT EXISTS (SELECT 1 FROM over_budget)
    ON CONFLICT (api_key_id, idempotency_key) DO NOTHING
    RETURNING *
  ), ${eventFanOut("'{}'")},
  ready AS (SELECT pg_notify('${JOBS_READY_CHANNEL}', ${readyNoticeSql('moved.id', 'moved.model', 'moved.provider')}) FROM moved)
  SELECT (SELECT created_at FROM moved) AS "createdAt",
         (SELECT count(*) FROM event_notice) + (SELECT count(*) FROM ready) AS notified,
         (SELECT json_agg(over_budget) FROM over_budget) AS "overBudget"`;

// Many creates in one statement, for keys without a budget: the same rows,
// events, deliveries and notifications as CREATE_SQL, with one ordering lock
// per key and one commit for the batch. Rows of keys with a budget, and rows
// whose idempotency key is already taken, are left out (not in the answer) and
// go through CREATE_SQL one by one.
const CREATE_MANY_SQL = `
  WITH input AS MATERIALIZED (
    SELECT * FROM unnest(${INSERTED.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')}) AS i(${INSERTED_LIST})
  ),
  moved AS (
    INSERT INTO jobs (${INSERTED_LIST})
    SELECT ${INSERTED_LIST}
    FROM input WHERE NOT EXISTS (SELECT 1 FROM budgets b WHERE b.api_key_id = input.api_key_id)
    ON CONFLICT (api_key_id, idempotency_key) DO NOTHING
    RETURNING *
  ), ${eventFanOut("'{}'")},
  ready AS (SELECT pg_notify('${JOBS_READY_CHANNEL}', '') FROM moved LIMIT 1)
  SELECT id, created_at AS "createdAt",
         (SELECT count(*) FROM event_notice) + (SELECT count(*) FROM ready) AS notified
  FROM moved`;

interface CreateRow {
  createdAt: Date | null;
  overBudget: Array<{ period: BudgetPeriod; limitMicros: string; committedMicros: string }> | null;
}

function newJob(id: string, createdAt: Date, args: CreateJobArgs, traceParent: string | null): Job {
  return {
    id, apiKeyId: args.apiKeyId, model: args.spec.key, status: 'QUEUED', provider: args.provider,
    params: args.normalised.params as Job['params'], seed: args.normalised.seed,
    upstreamRequestId: null, upstreamPollUrl: null, upstreamStatus: null, result: null,
    outputKey: null, outputSha256: null, outputBytes: null, outputMimeType: null, outputWidth: null, outputHeight: null,
    servedOutputKey: null, servedOutputSha256: null, servedOutputBytes: null, servedOutputLabel: null,
    errorCode: null, errorMessage: null, attempts: 0, runAt: createdAt, lockedBy: null, lockedUntil: null,
    createdAt, updatedAt: createdAt, submittedAt: null, finishedAt: null,
    idempotencyKey: args.idempotency?.key ?? null, requestHash: args.idempotency?.requestHash ?? null,
    rerunOfId: args.rerunOfId ?? null,
    estimatedMicros: args.cost.estimatedMicros, failureMicros: args.cost.failureMicros, chargedMicros: null,
    deletedAt: null, imagesErasedAt: null, firstSentAt: null, upstreamResultUrl: null,
    traceParent,
  };
}

const DEADLOCK_DETECTED = '40P01';

// Two retries of one idempotency key racing a budget being set can deadlock:
// one create holds the key lock (it saw the budget) and waits for the other's
// insert of the same idempotency key, which waits for the lock. PostgreSQL
// aborts one of them and nothing of it was written, so it is run again.
async function insertOnce(db: Db, params: InsertParams): Promise<CreateRow> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { rows } = await db.pool.query<CreateRow>(prepared(CREATE_SQL, params));
      return rows[0]!;
    } catch (err) {
      if ((err as { code?: string }).code !== DEADLOCK_DETECTED || attempt >= 3) throw err;
    }
  }
}

type InsertParams = unknown[];

function insertParams(id: string, args: CreateJobArgs, traceParent: string | null): InsertParams {
  return [
    id, args.apiKeyId, args.spec.key, args.provider, JSON.stringify(args.normalised.params),
    args.normalised.seed, args.idempotency?.key ?? null, args.idempotency?.requestHash ?? null, args.rerunOfId ?? null,
    args.cost.estimatedMicros.toString(), args.cost.failureMicros.toString(), traceParent,
  ];
}

/** Writes a batch with CREATE_MANY_SQL, then each row it left out, or all of them one by one if the batch failed. */
async function insertBatch(db: Db, batch: InsertParams[]): Promise<Array<PromiseSettledResult<CreateRow>>> {
  if (batch.length === 1) return Promise.allSettled([insertOnce(db, batch[0]!)]);
  let created = new Map<string, Date>();
  try {
    const columns = batch[0]!.map((_, c) => batch.map((row) => row[c]));
    const { rows } = await db.pool.query<{ id: string; createdAt: Date }>(prepared(CREATE_MANY_SQL, columns));
    created = new Map(rows.map((r) => [r.id, r.createdAt]));
  } catch (err) {
    // Nothing of a failed statement was written; one by one, a row that
    // cannot be created fails alone.
    log.warn({ err }, 'batched create failed, creating one by one');
  }
  return Promise.allSettled(batch.map((row) => {
    const createdAt = created.get(row[0] as string);
    return createdAt ? Promise.resolve({ createdAt, overBudget: null }) : insertOnce(db, row);
  }));
}

/**
 * The creates of a process go through one coalescer per database: under load,
 * creates that arrive while others are being written share one statement and
 * one commit (see CREATE_MANY_SQL), so the per-key ordering lock and the
 * commit's flush are paid once per batch instead of once per job. One batch
 * at a time: with two, each was half the size, and every statement wakes a
 * PostgreSQL backend (the API's costliest syscall in bench:submissions).
 */
export const createBatcher: (db: Db) => Coalescer<InsertParams, CreateRow> = coalescerPer(insertBatch, { maxBatch: 100, maxInFlight: 1 });

export async function createJob(db: Db, args: CreateJobArgs): Promise<CreateOutcome> {
  const id = randomUUID();
  // The creating request's trace (null when tracing is off), so the worker's spans join it.
  const traceParent = currentTraceParent();
  const row = await createBatcher(db).push(insertParams(id, args, traceParent));
  // The job as created: re-reading it could already show a worker's first move.
  if (row.createdAt) {
    jobMoved({ jobId: id, model: args.spec.key, provider: args.provider, from: null, to: 'QUEUED' });
    return { kind: 'created', job: newJob(id, row.createdAt, args, traceParent) };
  }
  // A retry of a request that already created its job is answered with that job, budget or not.
  const existing = args.idempotency
    ? await db.prisma.job.findFirst({ where: { apiKeyId: args.apiKeyId, idempotencyKey: args.idempotency.key } })
    : null;
  if (existing) {
    if (existing.requestHash !== args.idempotency!.requestHash) {
      return { kind: 'conflict', jobId: existing.id, model: existing.model };
    }
    return { kind: 'replayed', job: existing };
  }
  const broken = row.overBudget?.[0];
  if (!broken) throw new Error('job insert did nothing without an idempotency conflict or a budget refusal');
  const limit = BigInt(broken.limitMicros);
  const committed = BigInt(broken.committedMicros);
  return {
    kind: 'over-budget',
    period: broken.period,
    limitMicros: limit,
    remainingMicros: limit > committed ? limit - committed : 0n,
    requiredMicros: args.cost.estimatedMicros,
  };
}

/** What a read loads: a Prisma select or include (the GraphQL query's, from the schema's queryFromInfo); every column without. */
export type JobQuery = { select?: object; include?: object };

/** The key's job with this id (and model, when the caller's id names one). */
export function findJob(prisma: PrismaClient, apiKeyId: string, id: string, model?: string, query: JobQuery = {}): Promise<Job | null> {
  return prisma.job.findFirst({ ...(query as object), where: { id, apiKeyId, ...(model ? { model } : {}) } }) as Promise<Job | null>;
}

export type { CancelOutcome } from './job-steps.js';

/** Cancels the caller's job `id` of `model` (job-steps.ts#cancel). */
export function cancelJob(db: Db, apiKeyId: string, id: string, model: string): Promise<CancelOutcome> {
  return cancel(db.pool, apiKeyId, id, model);
}

/** Jobs not yet final, per status (the metrics' queue depth): one grouped count over the status index. */
export async function countLiveJobs(pool: Db['pool']): Promise<Array<{ status: string; count: number }>> {
  const { rows } = await pool.query<{ status: string; count: number }>(
    `SELECT status::text, count(*)::int AS count FROM jobs WHERE status IN (${LIVE_STATUSES.map((s) => `'${s}'`).join(', ')}) GROUP BY status`,
  );
  return rows;
}
