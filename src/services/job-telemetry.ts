// What a job's life tells operators: one log line per status change (job id,
// model, provider, from → to, reason) and the job metrics (created, completed,
// failed by code, canceled, duration, spend). Called by the one place each
// change happens: createJob (→ QUEUED), transition() and the worker's
// claim-and-send (QUEUED → SUBMITTED in its claim statement).
import { componentLogger } from '../util/logger.js';
import { jobDuration, jobsCanceled, jobsCompleted, jobsCreated, jobsFailed, spendUsd } from '../util/metrics.js';
import type { JobStatus } from './job-status.js';

const log = componentLogger('jobs');

export interface JobMove {
  jobId: string;
  model: string;
  provider: string;
  /** The status it left; null for a new job. */
  from: JobStatus | readonly JobStatus[] | null;
  to: JobStatus;
  /** A failure code (FAILED) or why it moved; never client data. */
  reason?: string | null;
  /** Micro-dollars charged, on a final status. */
  chargedMicros?: string | null;
  /** When the job was created, for its duration on a final status. */
  createdAt?: Date | string | null;
}

export function jobMoved(m: JobMove): void {
  if (log.isLevelEnabled('info')) {
    log.info({ jobId: m.jobId, model: m.model, provider: m.provider, from: m.from, to: m.to, ...(m.reason ? { reason: m.reason } : {}) }, 'job transition');
  }
  switch (m.to) {
    case 'QUEUED':
      if (m.from === null) jobsCreated.inc({ model: m.model, provider: m.provider });
      return;
    case 'COMPLETED':
      jobsCompleted.inc({ model: m.model, provider: m.provider });
      break;
    case 'FAILED':
      jobsFailed.inc({ model: m.model, provider: m.provider, reason: m.reason ?? 'UNKNOWN' });
      break;
    case 'CANCELED':
      jobsCanceled.inc({ model: m.model, provider: m.provider });
      break;
    default:
      return;
  }
  if (m.createdAt) jobDuration.observe({ model: m.model, status: m.to }, Math.max(0, Date.now() - new Date(m.createdAt).getTime()) / 1000);
  const micros = m.chargedMicros ? Number(m.chargedMicros) : 0;
  if (micros > 0) spendUsd.inc({ model: m.model }, micros / 1_000_000);
}
