export const JOB_STATUSES = ['QUEUED', 'SUBMITTED', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const LIVE_STATUSES: readonly JobStatus[] = ['QUEUED', 'SUBMITTED', 'PROCESSING'];
export const FINAL_STATUSES: readonly JobStatus[] = ['COMPLETED', 'FAILED', 'CANCELED'];

export function isFinal(status: JobStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/** upstream_status while a send is in flight: the request may have reached the upstream. */
export const SENDING = 'SENDING';
