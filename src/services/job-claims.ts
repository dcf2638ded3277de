// What a worker holds of a job it claimed, and what a new job's NOTIFY tells
// of it. The claims themselves are steps of job-steps.ts.
import { columnOf, type JobProperty } from '../db/job-columns.js';
import type { JobStatus } from './job-status.js';
import type { Admitted } from './providers/types.js';

export interface ClaimedJob {
  id: string;
  model: string;
  provider: string;
  status: JobStatus;
  params: Record<string, unknown>;
  upstreamRequestId: string | null;
  upstreamPollUrl: string | null;
  upstreamStatus: string | null;
  attempts: number;
  submittedAt: Date | null;
  /** When a request for it first may have left; with submittedAt, where its deadline starts (worker.ts#deadlineOf). */
  firstSentAt: Date | null;
  upstreamResultUrl: string | null;
  /** On a live job: the code of the last refusal of its submission (RATE_LIMITED, UPSTREAM_UNAVAILABLE), if any. */
  errorCode: string | null;
  /** The job has a price (its estimate is above zero). */
  paid: boolean;
  /** W3C traceparent of the request that created the job; the worker's spans continue its trace. */
  traceParent: string | null;
  /** Claimed with leave to send already held (claimAndMarkSending): SUBMITTED and SENDING, to be sent at once. */
  admitted?: Admitted;
  /**
   * Its previous holder's lease ran out instead of being handed back: that
   * worker died, stalled, or lost its database mid-step, and may have left an
   * output receipt (artifacts.ts) to complete the job from.
   */
  takenOver?: boolean;
}

/**
 * What a new job's NOTIFY on the ready channel says of it, so that a worker
 * can decide to claim it by id (claimAndMarkSending). A batch of creates
 * notifies once with an empty payload instead: workers then claim as usual.
 */
export interface ReadyNotice {
  id: string;
  model: string;
  provider: string;
}

/** SQL for the ReadyNotice payload of the job whose id, model and provider are these SQL expressions. */
export function readyNoticeSql(id: string, model: string, provider: string): string {
  return `json_build_object('id', ${id}, 'model', ${model}, 'provider', ${provider})::text`;
}

export function parseReadyNotice(payload: string): ReadyNotice | null {
  if (!payload.startsWith('{')) return null;
  const notice = JSON.parse(payload) as Partial<ReadyNotice>;
  return typeof notice.id === 'string' && typeof notice.model === 'string' && typeof notice.provider === 'string'
    ? { id: notice.id, model: notice.model, provider: notice.provider }
    : null;
}

/** The ClaimedJob properties read straight from their columns (the others are computed). */
const CLAIMED_PROPERTIES = [
  'id', 'model', 'provider', 'status', 'params', 'upstreamRequestId', 'upstreamPollUrl', 'upstreamStatus', 'attempts',
  'submittedAt', 'firstSentAt', 'upstreamResultUrl', 'errorCode', 'traceParent',
] as const satisfies ReadonlyArray<keyof ClaimedJob & JobProperty>;

/** The columns of a ClaimedJob, from the updated row `alias`. */
export function claimedColumns(alias: string): string {
  return [
    ...CLAIMED_PROPERTIES.map((p) => `${alias}.${columnOf(p)} AS "${p}"`),
    `${alias}.${columnOf('estimatedMicros')} > 0 AS paid`,
  ].join(', ');
}
