// A job's statuses are the JobStatus enum of schema.prisma (and of the database).
import { JobStatus } from '../generated/prisma/enums.js';

export type { JobStatus };
export const JOB_STATUSES: readonly JobStatus[] = Object.values(JobStatus);

export const LIVE_STATUSES: readonly JobStatus[] = ['QUEUED', 'SUBMITTED', 'PROCESSING'];
export const FINAL_STATUSES: readonly JobStatus[] = ['COMPLETED', 'FAILED', 'CANCELED'];

export function isFinal(status: JobStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/** upstream_status while a send is in flight: the request may have reached the upstream. */
export const SENDING = 'SENDING';
