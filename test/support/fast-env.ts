/** Fast worker cadences, so a job runs end to end in tens of milliseconds (tests and benches alike). */
export const FAST_CADENCES: Record<string, string> = {
  POLL_INTERVAL_QUEUE_MS: '20',
  POLL_INTERVAL_WORKFLOW_MS: '20',
  WORKER_IDLE_POLL_MS: '50',
  RETRY_BASE_MS: '20',
  RETRY_MAX_MS: '200',
  WORKER_LEASE_MS: '5000',
  WORKER_SHUTDOWN_GRACE_MS: '5000',
};
