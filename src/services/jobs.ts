// Creating, finding, listing and canceling jobs for one API key. Every query
// here is scoped by the caller's key: a job belongs to the key that created it
// and no other key can see or touch it.
import { randomUUID } from 'node:crypto';
import type { Job, PrismaClient } from '../generated/prisma/client.js';
import type { Db } from '../db/client.js';
import type { Normalised } from '../models/normalise.js';
import type { ModelSpec } from '../models/types.js';
import { eventFanOut, JOBS_READY_CHANNEL, keyLock, transition } from './job-transitions.js';
import { LIVE_STATUSES, type JobStatus } from './job-status.js';

export interface CreateJobArgs {
  apiKeyId: string;
  spec: ModelSpec;
  normalised: Normalised;
  provider: string;
  /** The client's retry key, and the hash of the request it came with. */
  idempotency?: { key: string; requestHash: string };
  /** The job this one reruns. */
  rerunOfId?: string;
}

export type CreateOutcome =
  | { kind: 'created'; job: Job }
  /** The same key came with the same request before: that request's job. */
  | { kind: 'replayed'; job: Job }
  /** The same key came with a different request: nothing created. */
  | { kind: 'conflict'; jobId: string; model: string };

// One statement: the job row, its QUEUED event, its webhook deliveries and the
// notifications commit together. With an idempotency key, ON CONFLICT waits
// for a concurrent insert of the same key to commit and then inserts nothing,
// so any number of simultaneous retries create one job.
const CREATE_SQL = `
  WITH ${keyLock('$2::uuid')},
  moved AS (
    INSERT INTO jobs (id, api_key_id, model, provider, params, seed, idempotency_key, request_hash, rerun_of_id)
    SELECT $1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9 WHERE EXISTS (SELECT 1 FROM key_lock)
    ON CONFLICT (api_key_id, idempotency_key) DO NOTHING
    RETURNING id, api_key_id, model, status, created_at
  ), ${eventFanOut("'{}'")},
  ready AS (SELECT pg_notify('${JOBS_READY_CHANNEL}', $1::text) FROM moved)
  SELECT moved.created_at AS "createdAt" FROM moved, event_notice, ready`;

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
  };
}

export async function createJob(db: Db, args: CreateJobArgs): Promise<CreateOutcome> {
  const id = randomUUID();
  const { rows } = await db.pool.query<{ createdAt: Date }>(CREATE_SQL, [
    id, args.apiKeyId, args.spec.key, args.provider, JSON.stringify(args.normalised.params),
    args.normalised.seed, args.idempotency?.key ?? null, args.idempotency?.requestHash ?? null, args.rerunOfId ?? null,
  ]);
  // The job as created: re-reading it could already show a worker's first move.
  if (rows[0]) return { kind: 'created', job: newJob(id, rows[0].createdAt, args) };
  // Only an idempotency key can make the insert do nothing.
  const existing = await db.prisma.job.findFirstOrThrow({
    where: { apiKeyId: args.apiKeyId, idempotencyKey: args.idempotency!.key },
  });
  if (existing.requestHash !== args.idempotency!.requestHash) {
    return { kind: 'conflict', jobId: existing.id, model: existing.model };
  }
  return { kind: 'replayed', job: existing };
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
