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

/**
 * Per-key limits off: tests and benches drive one key far harder than a client
 * should (hundreds of creates at once, a thousand sockets). Tests of the limits
 * set them explicitly.
 */
export const NO_KEY_LIMITS: Record<string, string> = {
  API_KEY_REQUESTS_PER_SECOND: '0',
  API_KEY_MAX_SOCKETS: '0',
  WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '0',
};
