// Sends webhook deliveries. Every job event already owes one delivery per
// matching endpoint (inserted with the event, job-transitions.ts#eventFanOut);
// a dispatcher claims due ones the way workers claim jobs (FOR UPDATE SKIP
// LOCKED plus a lease in locked_by/locked_until), POSTs each signed the
// Standard Webhooks way, records the attempt, and then marks the delivery
// SUCCEEDED (2xx), schedules the next try, or ends it FAILED when the retry
// schedule is used up. Any number of dispatchers in any number of processes
// never send the same attempt twice at once; one that dies mid-attempt leaves
// a lease that expires, and the delivery is tried again (receivers dedupe by
// webhook-id, which is the same on every try).
//
// The body is rebuilt from the event and its job on every try, from values
// that never change, so every retry sends the identical bytes.
import { createHmac, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import type { WebhooksConfig } from '../config.js';
import { GuardedClient, OutboundFetchError } from '../net/guarded-fetch.js';
import { jobGlobalId } from '../models/job-ids.js';
import type { JobStatus } from './job-status.js';
import { ClaimLoop } from './claim-loop.js';
import type { Readiness } from './readiness.js';
import { WEBHOOKS_CHANNEL } from './job-transitions.js';
import { secretKey, webhookPolicy } from './webhooks.js';
import { componentLogger, scrub, type Logger } from '../util/logger.js';
import { webhookDeliveries } from '../util/metrics.js';

/** The receiver as logged: its origin only (a URL's path or query may carry the receiver's own token). */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid URL';
  }
}

/** What is kept of a receiver's answer for the delivery log. */
export const RESPONSE_BODY_LIMIT = 1024;
/** ± this fraction of each scheduled delay, so retries of many deliveries do not arrive in lockstep. */
const JITTER = 0.1;

export interface ClaimedDelivery {
  id: string;
  attemptCount: number;
  url: string;
  secret: string;
  eventId: string;
  eventStatus: JobStatus;
  detail: unknown;
  eventCreatedAt: Date;
  jobId: string;
  model: string;
}

const CLAIM_SQL = `
  WITH due AS (
    SELECT d.id FROM webhook_deliveries d
    JOIN webhook_endpoints w ON w.id = d.endpoint_id
    WHERE d.status = 'PENDING' AND d.next_attempt_at <= now() AND w.enabled
      AND (d.locked_until IS NULL OR d.locked_until < now())
    ORDER BY d.next_attempt_at
    LIMIT $2
    FOR UPDATE OF d SKIP LOCKED
  )
  UPDATE webhook_deliveries d SET locked_by = $1, locked_until = now() + $3 * interval '1 millisecond'
  FROM due, webhook_endpoints w, job_events e, jobs j
  WHERE d.id = due.id AND w.id = d.endpoint_id AND e.id = d.event_id AND j.id = e.job_id
  RETURNING d.id, d.attempt_count AS "attemptCount", w.url, w.secret,
            e.id::text AS "eventId", e.status AS "eventStatus", e.detail, e.created_at AS "eventCreatedAt",
            j.id AS "jobId", j.model`;

// The attempt is logged even if the lease was lost meanwhile (it did happen);
// the delivery moves on only while this dispatcher still holds it. A delivery
// deleted meanwhile (its endpoint was deleted) records nothing.
const RECORD_SQL = `
  WITH attempt AS (
    INSERT INTO webhook_attempts (delivery_id, attempted_at, response_status, response_body, error, duration_ms)
    SELECT id, $2, $3, $4, $5, $6 FROM webhook_deliveries WHERE id = $1
    RETURNING delivery_id
  )
  UPDATE webhook_deliveries SET status = $7, attempt_count = attempt_count + 1, next_attempt_at = $8,
    finished_at = CASE WHEN $7 = 'PENDING' THEN NULL ELSE now() END, locked_by = NULL, locked_until = NULL
  WHERE id = $1 AND locked_by = $9 AND EXISTS (SELECT 1 FROM attempt)`;

/** The webhook body of one event: the same bytes on every try. */
export function webhookPayload(d: Pick<ClaimedDelivery, 'eventId' | 'eventStatus' | 'detail' | 'eventCreatedAt' | 'jobId' | 'model'>): string {
  return JSON.stringify({
    type: `job.${d.eventStatus.toLowerCase()}`,
    timestamp: d.eventCreatedAt.toISOString(),
    data: {
      id: jobGlobalId({ id: d.jobId, model: d.model }),
      model: d.model,
      status: d.eventStatus,
      cursor: d.eventId,
      detail: d.detail ?? null,
    },
  });
}

/** The webhook-signature header: "v1," + base64 HMAC-SHA256 of "<id>.<timestamp>.<body>" under the secret's bytes. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** When the next try is due after `attempts` failed tries, or null when the schedule is used up. */
export function nextAttemptDelay(schedule: readonly number[], attempts: number, random = Math.random): number | null {
  const base = schedule[attempts - 1];
  if (base === undefined) return null;
  return Math.max(0, Math.round(base * (1 - JITTER + 2 * JITTER * random())));
}

interface AttemptResult {
  status: number | null;
  body: string | null;
  error: string | null;
}

export interface WebhookDispatcherOptions {
  databaseUrl: string;
  pool: pg.Pool;
  config: WebhooksConfig;
  log?: (line: string) => void;
  /** Where the claim loop's LISTEN connection reports up/down (/readyz). */
  readiness?: Readiness;
}

export class WebhookDispatcher {
  readonly id = `${hostname()}/${process.pid}/webhooks-${randomUUID().slice(0, 8)}`;
  /** Keeps connections to receivers alive between deliveries; checks the address of each new one. */
  private readonly client: GuardedClient;
  private readonly leaseMs: number;
  private readonly loop: ClaimLoop<ClaimedDelivery>;
  private readonly logger: Logger = componentLogger('webhooks', { dispatcher: this.id });

  constructor(private readonly opts: WebhookDispatcherOptions) {
    this.client = new GuardedClient({ policy: webhookPolicy(opts.config.allowPrivate) });
    // Long enough that a live attempt never loses its lease: an attempt ends by its own deadline.
    this.leaseMs = opts.config.timeoutMs + 60_000;
    this.loop = new ClaimLoop({
      databaseUrl: opts.databaseUrl,
      channel: WEBHOOKS_CHANNEL,
      concurrency: opts.config.concurrency,
      idlePollMs: opts.config.idlePollMs,
      claim: async (limit) => (await opts.pool.query<ClaimedDelivery>(CLAIM_SQL, [this.id, limit, this.leaseMs])).rows,
      keyOf: (d) => d.id,
      handle: (d, signal) => this.attempt(d, signal),
      release: (id) => this.handBack(id),
      log: (line) => this.log(line),
      readiness: opts.readiness,
      listenerName: 'webhooks listener',
    });
  }

  private get cfg(): WebhooksConfig {
    return this.opts.config;
  }

  async start(): Promise<void> {
    await this.loop.start();
  }

  /**
   * Stops claiming, lets attempts in flight finish for up to `graceMs`, then
   * aborts them; an aborted attempt is not counted, and its delivery is
   * released to be sent again at once by whichever dispatcher is running.
   */
  async stop(graceMs = 2000): Promise<void> {
    await this.loop.stop(graceMs);
    await this.client.close();
  }

  private log(line: string): void {
    if (this.opts.log) this.opts.log(`[webhooks ${this.id}] ${line}`);
    else this.logger.warn(scrub(line));
  }

  private kickAt(when: Date): void {
    this.loop.kickAt(when);
  }

  /** Hands a delivery's lease back, untouched, when it is still this dispatcher's. */
  private async handBack(id: string): Promise<void> {
    await this.opts.pool.query(`UPDATE webhook_deliveries SET locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2`, [id, this.id]);
  }

  private async attempt(d: ClaimedDelivery, stop: AbortSignal): Promise<void> {
    const body = webhookPayload(d);
    const attemptedAt = new Date();
    const timestamp = Math.floor(attemptedAt.getTime() / 1000);
    const started = performance.now();
    const result = await this.post(d, body, timestamp, stop);
    const durationMs = Math.round(performance.now() - started);
    if (stop.aborted) {
      await this.handBack(d.id); // stopped, not the receiver's doing: untouched
      return;
    }
    const ok = result.status !== null && result.status >= 200 && result.status < 300;
    const attempts = d.attemptCount + 1;
    const delay = ok ? null : nextAttemptDelay(this.cfg.retryScheduleMs, attempts);
    const status = ok ? 'SUCCEEDED' : delay === null ? 'FAILED' : 'PENDING';
    const nextAt = delay === null ? attemptedAt : new Date(Date.now() + delay);
    await this.opts.pool.query(RECORD_SQL, [
      d.id, attemptedAt, result.status, result.body, result.error, durationMs, status, nextAt, this.id,
    ]);
    const outcome = status === 'SUCCEEDED' ? 'succeeded' : status === 'FAILED' ? 'failed' : 'retrying';
    webhookDeliveries.inc({ outcome });
    if (this.logger.isLevelEnabled('info')) {
      this.logger.info({
        deliveryId: d.id, jobId: d.jobId, eventId: d.eventId, receiver: originOf(d.url), attempt: attempts,
        status: result.status, outcome, durationMs, ...(result.error ? { error: scrub(result.error) } : {}),
        ...(delay !== null ? { nextAttemptAt: nextAt.toISOString() } : {}),
      }, 'webhook attempt');
    }
    if (status === 'PENDING') this.kickAt(nextAt);
  }

  private async post(d: ClaimedDelivery, body: string, timestamp: number, stop: AbortSignal): Promise<AttemptResult> {
    try {
      // redirect 'manual': a 3xx is a failed attempt like any non-2xx, never followed.
      const res = await this.client.fetch(d.url, {
        method: 'POST',
        redirect: 'manual',
        signal: stop,
        timeoutMs: this.cfg.timeoutMs,
        maxBytes: RESPONSE_BODY_LIMIT,
        overflow: 'truncate',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Swapyard-Webhooks/1',
          'webhook-id': d.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(d.secret, d.id, timestamp, body),
        },
        body,
      });
      // NUL bytes dropped: PostgreSQL text cannot hold them.
      return { status: res.status, body: res.body.toString('utf8').replace(/\u0000/g, ''), error: null };
    } catch (err) {
      if (stop.aborted) return { status: null, body: null, error: 'stopped' }; // handed back untouched by attempt()
      if (err instanceof OutboundFetchError) {
        const message = err.rule === 'timeout' ? `timeout: no answer within ${this.cfg.timeoutMs} ms` : err.message;
        return { status: null, body: null, error: message.slice(0, RESPONSE_BODY_LIMIT) };
      }
      return { status: null, body: null, error: String((err as Error)?.message ?? err).slice(0, RESPONSE_BODY_LIMIT) };
    }
  }
}
