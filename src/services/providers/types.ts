// The contract between the worker and an upstream provider. The worker owns
// the job row, its lease and its transitions; a provider only speaks to the
// upstream and reports what happened, so a provider never touches the database.


/** Why a job ended FAILED. Typed so clients can branch on it. */
export const FAILURE_CODES = [
  'INVALID_INPUT',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'INSUFFICIENT_CREDITS',
  'CONTENT_BLOCKED',
  'MODEL_NOT_FOUND',
  'UPSTREAM_ERROR',
  'UPSTREAM_OUTCOME_UNKNOWN',
  'TIMEOUT',
  'EXPIRED',
  /** Every submission was refused with 429 until the job's deadline; nothing ran, nothing is charged. */
  'RATE_LIMITED',
  /** Every submission was refused with a 5xx (or never reached the upstream) until the deadline; charged nothing. */
  'UPSTREAM_UNAVAILABLE',
  /** The local engine found no face in the source or target image. */
  'NO_FACE_DETECTED',
  /** A requested face index is beyond the faces the local engine found. */
  'FACE_INDEX_OUT_OF_RANGE',
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

/** The bytes of an inline image input, read from the artifact store. */
export interface InputImage {
  bytes: Buffer;
  contentType: string;
}

/** What the provider needs to know about a job. */
export interface ProviderJob {
  id: string;
  /** The provider recorded on the job ("segmind", "local"). */
  provider: string;
  /** As stored on the job: a registered model's key (ModelKey) unless the model was since removed. */
  model: string;
  /**
   * Normalised wire parameters; an inline image field holds a reference to
   * its stored bytes (models/image-ref.ts), which `images` carries for a submit.
   */
  params: Record<string, unknown>;
  /** For a submit: the bytes of each stored image field of `params`, by wire name. */
  images?: Readonly<Record<string, InputImage>>;
  upstreamRequestId: string | null;
  upstreamPollUrl: string | null;
  /** Where the async result is read, when the submit answer named it (v2 `response_url`). */
  upstreamResultUrl?: string | null;
  /** When the upstream accepted the request (async), for telling "not visible yet" from "expired". */
  acceptedAt?: Date | null;
  /** Which try of this step (1 + the transient failures so far), for the upstream call's log line. */
  attempt?: number;
}

/** The finished image, fetched from the upstream, ready to store. */
export interface ProviderOutput {
  bytes: Buffer;
  mimeType: string;
  /** What the upstream said besides the image (metrics, output URLs, ...). */
  upstream: Record<string, unknown>;
}

export type SubmitOutcome =
  /** Synchronous protocols answer with the image itself. */
  | { kind: 'completed'; output: ProviderOutput }
  /** Asynchronous protocols answer with a handle to poll. */
  | { kind: 'accepted'; requestId: string; pollUrl: string | null; resultUrl?: string | null; upstream: Record<string, unknown> }
  | FailedOutcome
  /** A transient failure (429, 5xx, network): try the same step again later. */
  | RetryOutcome;

/**
 * The job ends FAILED. `billed`: the upstream answered the billable call with a
 * 2xx (it ran, and the vendor charged it) but what came back was unusable (not
 * an image, gone before it was fetched): the job pays its estimate, as the
 * vendor's balance does (pricing.ts#settlementSql).
 */
export type FailedOutcome = { kind: 'failed'; code: FailureCode; message: string; httpStatus?: number; detail?: unknown; billed?: boolean };

/**
 * Try the same step again after `retryAfterMs` (at the earliest). `throttled`
 * says our own limits refused the call before anything was sent: the job
 * waits its turn, which is not an upstream failure and does not count towards
 * giving up.
 */
export type RetryOutcome = {
  kind: 'retry'; reason: string; retryAfterMs?: number; httpStatus?: number; throttled?: boolean;
  /**
   * The upstream refused a submission (429, 500/502/503, or it never arrived):
   * nothing ran. The code the job ends with should its deadline pass with only refusals.
   */
  refusal?: 'RATE_LIMITED' | 'UPSTREAM_UNAVAILABLE';
};

/** Leave to send one submission: keep it across the send, then release it. Or: not now. */
export type Admission =
  | Admitted
  | { kind: 'retry'; reason: string; retryAfterMs: number; throttled: true };

export type Admitted = { kind: 'admitted'; release(): void };

/** The admission of a provider without limits: nothing to hold or give back. */
export const UNLIMITED: Admitted = { kind: 'admitted', release: () => {} };

export type PollOutcome =
  | { kind: 'pending'; upstreamStatus: 'QUEUED' | 'PROCESSING' }
  | { kind: 'completed'; output: ProviderOutput }
  | FailedOutcome
  | RetryOutcome;

export interface UpstreamProvider {
  /** Recorded on the job row, e.g. "segmind". */
  readonly name: string;
  /** The account `readCredits` reads, as a digest of its key (never the key): what credit readings are throttled per. */
  readonly account?: string;
  submit(job: ProviderJob, signal: AbortSignal): Promise<SubmitOutcome>;
  /**
   * Optional, for providers with limits (providers/limits.ts): waits for leave
   * to send a submission (a free upstream slot, a rate-limit token) without
   * sending anything. The worker asks before it marks the job SENDING, so the
   * mark means the request may really have left, then calls `submit` and
   * releases the admission. Without it, `submit` applies the limits itself.
   */
  admit?(job: ProviderJob, signal: AbortSignal): Promise<Admission>;
  /**
   * Leave to send at once, or null: given only when it needs no waiting and no
   * state shared with other processes (a free slot of this one, no rate-limit
   * window to take from). The worker asks for it before it has claimed the job,
   * to claim and mark it SENDING in one statement; should the claim fail, it
   * releases the leave, which cost nobody else anything. Absent: `admit` is
   * absent too, and nothing limits the sends.
   */
  tryAdmit?(job: ProviderJob): Admitted | null;
  /**
   * Whether `submit` answers with the result itself (as the model's sync
   * protocol does) rather than a handle to poll; the worker then moves the
   * job to SUBMITTED before sending. Undefined (or absent): the model's protocol decides.
   */
  runsSynchronously?(job: ProviderJob): boolean | undefined;
  /** Only called for jobs whose submit answered `accepted`. */
  poll(job: ProviderJob, signal: AbortSignal): Promise<PollOutcome>;
  /**
   * The account's remaining credits in micro-dollars, read from the upstream
   * (Segmind: GET /v1/get-user-credits), or null when it gives no reading.
   * Recorded beside each charge so spend can be reconciled with the vendor.
   */
  readCredits?(signal: AbortSignal): Promise<bigint | null>;
}

/**
 * Leave to send `job` through `provider` at once, or null (see `tryAdmit`). A
 * provider without limits (no `admit`) always gives it; one that can only wait
 * for them (`admit` without `tryAdmit`) never does.
 */
export function admitNow(provider: UpstreamProvider, job: ProviderJob): Admitted | null {
  if (provider.tryAdmit) return provider.tryAdmit(job);
  return provider.admit ? null : UNLIMITED;
}
