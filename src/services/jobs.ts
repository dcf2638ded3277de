// Creating, finding, listing and canceling jobs for one API key. Every query
// here is scoped by the caller's key: a job belongs to the key that created it
// and no other key can see or touch it.
import { randomUUID } from 'node:crypto';
import type { Job, PrismaClient } from '../generated/prisma/client.js';
import type { Db } from '../db/client.js';
import type { Normalised } from '../models/normalise.js';
import type { ModelSpec } from '../models/types.js';
import { EVENTS_CHANNEL, JOBS_READY_CHANNEL, transition } from './job-transitions.js';
import { LIVE_STATUSES, type JobStatus } from './job-status.js';

export async function createJob(
  db: Db,
  args: { apiKeyId: string; spec: ModelSpec; normalised: Normalised; provider: string },
): Promise<Job> {
  const id = randomUUID();
  // The job row, its QUEUED event and both notifications commit together.
  const [job, event] = await db.prisma.$transaction([
    db.prisma.job.create({
      data: {
        id,
        apiKeyId: args.apiKeyId,
        model: args.spec.key,
        provider: args.provider,
        params: args.normalised.params as object,
        seed: args.normalised.seed,
      },
    }),
    db.prisma.jobEvent.create({ data: { jobId: id, apiKeyId: args.apiKeyId, status: 'QUEUED', detail: {} } }),
  ]);
  const notice = JSON.stringify({
    eventId: event.id.toString(),
    jobId: id,
    apiKeyId: args.apiKeyId,
    status: 'QUEUED',
    model: args.spec.key,
  });
  await db.pool.query(`SELECT pg_notify($1, $2), pg_notify($3, $4)`, [EVENTS_CHANNEL, notice, JOBS_READY_CHANNEL, id]);
  return job;
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
