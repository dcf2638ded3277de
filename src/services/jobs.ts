// Creating, finding, listing and canceling jobs for one API key. Every query
// here is scoped by the caller's key: a job belongs to the key that created it
// and no other key can see or touch it.
import { randomUUID } from 'node:crypto';
import type { BudgetPeriod, Job, PrismaClient } from '../generated/prisma/client.js';
import type { Db } from '../db/client.js';
import type { Normalised } from '../models/normalise.js';
import type { ModelSpec } from '../models/types.js';
import { eventFanOut, JOBS_READY_CHANNEL, keyLock, transition } from './job-transitions.js';
import { LIVE_STATUSES, type JobStatus } from './job-status.js';
import type { Estimate } from './pricing.js';

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

// One statement: the budget check, the job row, its QUEUED event, its webhook
// deliveries and the notifications commit together. It runs under the key's
// lock, so concurrent creates of one key are checked one after another, and
// budget_violations() (a volatile function, see its migration) reads with a
// snapshot taken after the lock: no two creates can both take the last of a
// budget. Keys without a budget skip the function: a budget committed while
// such a create was starting simply comes after it. With an idempotency key,
// ON CONFLICT waits for a concurrent insert of the same key to commit and then
// inserts nothing, so any number of simultaneous retries create one job.
const CREATE_SQL = `
  WITH ${keyLock('$2::uuid')},
  over_budget AS MATERIALIZED (
    SELECT period, limit_micros::text AS "limitMicros", committed_micros::text AS "committedMicros"
    FROM budget_violations($2::uuid, $10::bigint)
    WHERE EXISTS (SELECT 1 FROM key_lock) AND EXISTS (SELECT 1 FROM budgets WHERE api_key_id = $2::uuid)
  ),
  moved AS (
    INSERT INTO jobs (id, api_key_id, model, provider, params, seed, idempotency_key, request_hash, rerun_of_id,
                      estimated_micros, failure_micros)
    SELECT $1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11
    WHERE EXISTS (SELECT 1 FROM key_lock) AND NOT EXISTS (SELECT 1 FROM over_budget)
    ON CONFLICT (api_key_id, idempotency_key) DO NOTHING
    RETURNING id, api_key_id, model, status, created_at
  ), ${eventFanOut("'{}'")},
  ready AS (SELECT pg_notify('${JOBS_READY_CHANNEL}', $1::text) FROM moved)
  SELECT (SELECT created_at FROM moved) AS "createdAt",
         (SELECT count(*) FROM event_notice) + (SELECT count(*) FROM ready) AS notified,
         (SELECT json_agg(over_budget) FROM over_budget) AS "overBudget"`;

interface CreateRow {
  createdAt: Date | null;
  overBudget: Array<{ period: BudgetPeriod; limitMicros: string; committedMicros: string }> | null;
}

function newJob(id: string, createdAt: Date, args: CreateJobArgs): Job {
  return {
    id, apiKeyId: args.apiKeyId, model: args.spec.key, status: 'QUEUED', provider: args.provider,
    params: args.normalised.params as Job['params'], seed: args.normalised.seed,
    upstreamRequestId: null, upstreamPollUrl: null, upstreamStatus: null, result: null,
    outputKey: null, outputSha256: null, outputBytes: null, outputMimeType: null, outputWidth: null, outputHeight: null,
    errorCode: null, errorMessage: null, attempts: 0, runAt: createdAt, lockedBy: null, lockedUntil: null,
    createdAt, updatedAt: createdAt, submittedAt: null, finishedAt: null,
    idempotencyKey: args.idempotency?.key ?? null, requestHash: args.idempotency?.requestHash ?? null,
    rerunOfId: args.rerunOfId ?? null,
    estimatedMicros: args.cost.estimatedMicros, failureMicros: args.cost.failureMicros, chargedMicros: null,
  };
}

export async function createJob(db: Db, args: CreateJobArgs): Promise<CreateOutcome> {
  const id = randomUUID();
  const { rows } = await db.pool.query<CreateRow>(CREATE_SQL, [
    id, args.apiKeyId, args.spec.key, args.provider, JSON.stringify(args.normalised.params),
    args.normalised.seed, args.idempotency?.key ?? null, args.idempotency?.requestHash ?? null, args.rerunOfId ?? null,
    args.cost.estimatedMicros.toString(), args.cost.failureMicros.toString(),
  ]);
  const row = rows[0]!;
  // The job as created: re-reading it could already show a worker's first move.
  if (row.createdAt) return { kind: 'created', job: newJob(id, row.createdAt, args) };
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

/** The key's job with this id (and model, when the caller's id names one). */
export function findJob(prisma: PrismaClient, apiKeyId: string, id: string, model?: string): Promise<Job | null> {
  return prisma.job.findFirst({ where: { id, apiKeyId, ...(model ? { model } : {}) } });
}

export type CancelOutcome =
  | { kind: 'canceled'; job: Job }
  | { kind: 'not-found' }
  | { kind: 'already-final'; status: JobStatus };

export async function cancelJob(db: Db, apiKeyId: string, id: string, model: string): Promise<CancelOutcome> {
  const job = await findJob(db.prisma, apiKeyId, id, model);
  if (!job) return { kind: 'not-found' };
  // Guarded on the live statuses: a worker's concurrent completion and this
  // cancel cannot both win, and whichever loses changes nothing.
  const moved = await transition(db.pool, {
    jobId: id,
    from: LIVE_STATUSES,
    to: 'CANCELED',
    patch: { finished_at: 'now', locked_by: null, locked_until: null },
    detail: { reason: 'canceled by client' },
  });
  const current = await db.prisma.job.findUniqueOrThrow({ where: { id } });
  if (!moved) return { kind: 'already-final', status: current.status };
  return { kind: 'canceled', job: current };
}
