// The worker: takes due jobs from PostgreSQL and moves each one a step
// further: submit it, poll it, or finish it. Jobs are claimed with
// SELECT … FOR UPDATE SKIP LOCKED and held by a lease (locked_by/locked_until)
// that a heartbeat extends, so any number of workers in any number of
// processes never work on the same job at once, and a job whose worker died
// is picked up again when its lease runs out. A job is never held between
// polls: after each step it is released with the time it is next due.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import type { WorkerConfig } from '../config.js';
import { modelSpec } from '../models/registry.js';
import type { ArtifactStore } from './artifacts.js';
import { ClaimLoop } from './claim-loop.js';
import { claimAndMarkSending, claimJobs, extendLeases, parseReadyNotice, releaseLease, type ClaimedJob } from './job-claims.js';
import { recordCreditReading } from './credit-readings.js';
import { loadInputImages, MissingInputImage } from './input-artifacts.js';
import { LIVE_STATUSES, SENDING } from './job-status.js';
import { JOBS_OVERFLOW_CHANNEL, JOBS_READY_CHANNEL, transition, updateHeldJob, type JobPatch } from './job-transitions.js';
import { admitNow, type FailureCode, type InputImage, type ProviderJob, type ProviderOutput, type SubmitOutcome, type UpstreamProvider } from './providers/types.js';

const MAX_TRANSIENT_FAILURES = 10;
const CREDIT_READING_TIMEOUT_MS = 5_000;

export interface WorkerOptions {
  databaseUrl: string;
  pool: pg.Pool;
  provider: UpstreamProvider;
  artifacts: ArtifactStore;
  config: WorkerConfig;
  /** Read the upstream's remaining credits after each paid job (UPSTREAM_CREDIT_READINGS). */
  readCredits?: boolean;
  log?: (line: string) => void;
}

export class Worker {
  readonly id = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  private readonly loop: ClaimLoop<ClaimedJob>;
  private heartbeat: NodeJS.Timeout | null = null;
  /** Jobs this worker claimed and marked SENDING in one statement (claimAndSendAside), for tests and diagnostics. */
  claimedAside = 0;

  constructor(private readonly opts: WorkerOptions) {
    this.loop = new ClaimLoop({
      databaseUrl: opts.databaseUrl,
      channel: JOBS_READY_CHANNEL,
      overflowChannel: JOBS_OVERFLOW_CHANNEL,
      concurrency: opts.config.concurrency,
      idlePollMs: opts.config.idlePollMs,
      claim: (limit) => claimJobs(opts.pool, this.id, limit, this.cfg.leaseMs),
      keyOf: (job) => job.id,
      handle: (job, signal) => this.handle(job, signal),
      release: (id) => releaseLease(opts.pool, this.id, id),
      log: (line) => this.log(line),
      onNotification: (payload) => this.claimAndSendAside(payload),
    });
  }

  /** Whether this worker answers new-job notifications now (claim-loop.ts: one worker leads). */
  leads(): boolean {
    return this.loop.isLeader();
  }

  /** Waiting for work with none in hand (claim-loop.ts). */
  idle(): boolean {
    return this.loop.isIdle();
  }

  private get cfg(): WorkerConfig {
    return this.opts.config;
  }

  async start(): Promise<void> {
    await this.loop.start();
    this.heartbeat = setInterval(() => void this.extendLeases(), Math.max(250, this.cfg.leaseMs / 3));
  }

  /** Stops claiming, lets running steps finish for up to `graceMs`, then aborts them. */
  async stop(graceMs = this.cfg.shutdownGraceMs): Promise<void> {
    await this.loop.stop(graceMs);
    if (this.heartbeat) clearInterval(this.heartbeat);
  }

  private log(line: string): void {
    (this.opts.log ?? ((l) => console.log(l)))(`[worker ${this.id}] ${line}`);
  }

  private kickAt(when: Date): void {
    this.loop.kickAt(when);
  }

  /** One step of a job; a step that throws is settled here, never left to loop. */
  private async handle(job: ClaimedJob, signal: AbortSignal): Promise<void> {
    try {
      await this.step(job, signal);
    } catch (err) {
      this.log(`job ${job.id}: step failed: ${(err as Error).stack ?? err}`);
      const reason = `step failed: ${(err as Error).message}`;
      // Thrown mid-send, the request may have reached the upstream: the same rule as a crash mid-send.
      // Otherwise it counts like a transient failure, so a step that always throws ends the job.
      const settle = job.upstreamStatus === SENDING
        ? this.fail(job, 'UPSTREAM_OUTCOME_UNKNOWN', `${reason}; not resent to avoid paying twice — rerun the job`)
        : this.retry(job, reason, undefined, {});
      await settle.catch((e) => this.log(`job ${job.id}: could not settle: ${(e as Error).message}`));
    }
  }

  private async extendLeases(): Promise<void> {
    const held = this.loop.activeKeys();
    if (held.length === 0) return;
    try {
      await extendLeases(this.opts.pool, this.id, held, this.cfg.leaseMs);
    } catch (err) {
      this.log(`heartbeat failed: ${(err as Error).message}`);
    }
  }

  private async step(job: ClaimedJob, signal: AbortSignal): Promise<void> {
    if (job.admitted) {
      await this.submit(job, true, signal);
      return;
    }
    if (job.upstreamStatus === SENDING) {
      // Its previous worker died between sending and recording the answer. Sending
      // again could run (and bill) the swap twice, so the job ends here, and says why.
      await this.fail(job, 'UPSTREAM_OUTCOME_UNKNOWN', 'the worker stopped while the request was being sent; it was not resent to avoid paying twice — rerun the job');
      return;
    }
    if (job.submittedAt && Date.now() - job.submittedAt.getTime() > this.cfg.deadlineMs) {
      await this.fail(job, 'TIMEOUT', `not finished ${this.cfg.deadlineMs / 1000} s after submission`);
      return;
    }
    // A sync job has nothing to poll: until it completes, every step is a (re)send.
    const sync = this.runsSynchronously(providerJob(job));
    if (sync || job.status === 'QUEUED') await this.submit(job, sync, signal);
    else await this.poll(job, signal);
  }

  private runsSynchronously(job: ProviderJob): boolean {
    return this.opts.provider.runsSynchronously?.(job) ?? modelSpec(job.model).protocol === 'sync';
  }

  /**
   * A new job named by its NOTIFY, when it runs synchronously and the provider
   * gives leave to send it at once: claimed, marked SUBMITTED and SENDING in
   * one statement, and sent, beside the claim loop. One commit and one round
   * trip fewer than claim, admit, mark. False: the loop claims it as usual.
   */
  private claimAndSendAside(payload: string): boolean {
    const stub = this.syncJobNamedBy(payload);
    if (!stub) return false;
    const admitted = admitNow(this.opts.provider, stub);
    if (!admitted) return false;
    const taken = this.loop.claimAside(stub.id, async () => {
      const job = await claimAndMarkSending(this.opts.pool, stub.id, this.id, this.cfg.leaseMs).catch((err) => {
        admitted.release();
        throw err;
      });
      if (!job) {
        admitted.release(); // gone to another worker, canceled, or not due
        return null;
      }
      this.claimedAside += 1;
      return { ...job, admitted };
    });
    if (!taken) admitted.release();
    return taken;
  }

  /** The job a ready notice names, as far as the notice tells, when it runs synchronously; else null. */
  private syncJobNamedBy(payload: string): ProviderJob | null {
    try {
      const ready = parseReadyNotice(payload);
      const job = ready && { ...ready, params: {}, upstreamRequestId: null, upstreamPollUrl: null };
      return job && this.runsSynchronously(job) ? job : null;
    } catch {
      return null; // a payload this worker does not understand (a newer version's, an unknown model): the loop's claim decides
    }
  }

  private async submit(job: ClaimedJob, sync: boolean, signal: AbortSignal): Promise<void> {
    // Wait for the provider's limits (a free upstream slot, a rate-limit token) before
    // marking SENDING, so that the mark means the request may really have left.
    const admission = job.admitted ?? (await this.opts.provider.admit?.(providerJob(job), signal));
    if (admission?.kind === 'retry') {
      await this.retry(job, admission.reason, admission.retryAfterMs, {}, true);
      return;
    }
    let outcome: SubmitOutcome | null;
    try {
      // Read before the job is marked SENDING: a missing input fails it without anything sent.
      const images = await loadInputImages(job.params, this.opts.artifacts).catch((err) => {
        if (err instanceof MissingInputImage) return err;
        throw err;
      });
      if (images instanceof MissingInputImage) {
        await this.fail(job, 'INVALID_INPUT', `${images.message}; rerun the job with the image`);
        return;
      }
      outcome = await this.send(job, sync, images, signal);
    } finally {
      // Released before the outcome is recorded: recording may make an upstream call of its own (a credit reading).
      admission?.release();
    }
    if (outcome) await this.submitted(job, sync, outcome);
  }

  /** Marks the job SENDING (unless its claim did) and sends it with its stored images; null when the job was no longer ours to send. */
  private async send(job: ClaimedJob, sync: boolean, images: Record<string, InputImage>, signal: AbortSignal): Promise<SubmitOutcome | null> {
    if (!job.admitted && !(await this.markSending(job, sync))) return null;
    return this.opts.provider.submit({ ...providerJob(job), images }, signal);
  }

  /** Records that the job's request may leave now; false when the job is no longer ours. */
  private async markSending(job: ClaimedJob, sync: boolean): Promise<boolean> {
    if (sync && job.status === 'QUEUED') {
      // A synchronous call is the whole run, so the job is SUBMITTED before it is sent.
      const moved = await transition(this.opts.pool, {
        jobId: job.id, from: ['QUEUED'], to: 'SUBMITTED', lockedBy: this.id,
        patch: { submitted_at: 'now', upstream_status: SENDING },
      });
      if (!moved) return false;
      job.status = 'SUBMITTED';
    } else if (!(await updateHeldJob(this.opts.pool, job.id, this.id, { upstream_status: SENDING }))) {
      return false;
    }
    job.upstreamStatus = SENDING;
    return true;
  }

  private async submitted(job: ClaimedJob, sync: boolean, outcome: SubmitOutcome): Promise<void> {
    switch (outcome.kind) {
      case 'completed':
        await this.complete(job, outcome.output);
        return;
      case 'accepted': {
        const runAt = new Date(Date.now() + this.pollInterval(job));
        const moved = await transition(this.opts.pool, {
          jobId: job.id, from: ['QUEUED'], to: 'SUBMITTED', lockedBy: this.id,
          patch: {
            submitted_at: 'now', upstream_request_id: outcome.requestId, upstream_poll_url: outcome.pollUrl,
            upstream_status: 'QUEUED', attempts: 0, run_at: runAt, locked_by: null, locked_until: null,
          },
          detail: { upstreamRequestId: outcome.requestId },
        });
        if (moved) this.kickAt(runAt);
        return;
      }
      case 'failed':
        await this.fail(job, outcome.code, outcome.message, { httpStatus: outcome.httpStatus, detail: outcome.detail });
        return;
      case 'retry':
        await this.retry(job, outcome.reason, outcome.retryAfterMs, { upstream_status: sync ? 'RETRYING' : null }, outcome.throttled);
        return;
    }
  }

  private pollInterval(job: ClaimedJob): number {
    return modelSpec(job.model).protocol === 'workflow' ? this.cfg.pollIntervalMs.workflow : this.cfg.pollIntervalMs.queue;
  }

  private async poll(job: ClaimedJob, signal: AbortSignal): Promise<void> {
    const outcome = await this.opts.provider.poll(providerJob(job), signal);
    switch (outcome.kind) {
      case 'pending': {
        const runAt = new Date(Date.now() + this.pollInterval(job));
        if (outcome.upstreamStatus === 'PROCESSING' && job.status === 'SUBMITTED') {
          const moved = await transition(this.opts.pool, {
            jobId: job.id, from: ['SUBMITTED'], to: 'PROCESSING', lockedBy: this.id,
            patch: { upstream_status: 'PROCESSING', attempts: 0, run_at: runAt, locked_by: null, locked_until: null },
          });
          if (moved) this.kickAt(runAt);
          return;
        }
        await this.release(job, runAt, { upstream_status: outcome.upstreamStatus });
        return;
      }
      case 'completed':
        await this.complete(job, outcome.output);
        return;
      case 'failed':
        await this.fail(job, outcome.code, outcome.message, { httpStatus: outcome.httpStatus, detail: outcome.detail });
        return;
      case 'retry':
        await this.retry(job, outcome.reason, outcome.retryAfterMs, {});
        return;
    }
  }

  private async complete(job: ClaimedJob, output: ProviderOutput): Promise<void> {
    const stored = await this.opts.artifacts.put(output.bytes, output.mimeType);
    const moved = await transition(this.opts.pool, {
      jobId: job.id, from: ['SUBMITTED', 'PROCESSING'], to: 'COMPLETED', lockedBy: this.id,
      patch: {
        result: output.upstream, output_key: stored.key, output_sha256: stored.sha256, output_bytes: stored.bytes,
        output_mime_type: stored.mimeType, output_width: stored.width, output_height: stored.height,
        upstream_status: 'COMPLETED', finished_at: 'now', locked_by: null, locked_until: null,
      },
      detail: { sha256: stored.sha256, bytes: stored.bytes },
    });
    // A cancel may have won the race; anything else is a bug worth seeing.
    if (!moved) {
      this.log(`job ${job.id}: completion not recorded (no longer SUBMITTED or PROCESSING, or the lease was lost)`);
      return;
    }
    // After the completion, not before: the balance is an upstream call the job's subscribers need not wait for.
    await this.recordCredits(job);
  }

  /** Reads the upstream's balance after a paid job and keeps it beside the job, for reconciliation. */
  private async recordCredits(job: ClaimedJob): Promise<void> {
    if (!this.opts.readCredits || !this.opts.provider.readCredits || !job.paid) return;
    try {
      const credits = await this.opts.provider.readCredits(AbortSignal.timeout(CREDIT_READING_TIMEOUT_MS));
      if (credits !== null) await recordCreditReading(this.opts.pool, job.id, credits);
    } catch (err) {
      // A reading is for reconciliation; never a reason to hold the job back or fail it.
      this.log(`job ${job.id}: no credit reading: ${(err as Error).message}`);
    }
  }

  private async fail(job: ClaimedJob, code: FailureCode, message: string, extra: Record<string, unknown> = {}): Promise<void> {
    await transition(this.opts.pool, {
      jobId: job.id, from: LIVE_STATUSES, to: 'FAILED', lockedBy: this.id,
      patch: { error_code: code, error_message: message, finished_at: 'now', locked_by: null, locked_until: null },
      detail: { code, message, ...stripUndefined(extra) },
    });
  }

  private async retry(job: ClaimedJob, reason: string, retryAfterMs: number | undefined, patch: JobPatch, throttled = false): Promise<void> {
    if (throttled) {
      // Our own rate limit said "not yet", before anything was sent: waiting one's turn is not a failure.
      await this.release(job, new Date(Date.now() + (retryAfterMs ?? 0)), { ...patch, error_message: reason });
      return;
    }
    if (job.attempts + 1 >= MAX_TRANSIENT_FAILURES) {
      await this.fail(job, 'UPSTREAM_ERROR', `gave up after ${MAX_TRANSIENT_FAILURES} transient failures; last: ${reason}`);
      return;
    }
    await this.release(job, this.backoff(job, retryAfterMs), {
      ...patch, error_message: reason, attempts: job.attempts + 1,
    });
  }

  /** Exponential backoff with full jitter, never sooner than the upstream's Retry-After. */
  private backoff(job: ClaimedJob, retryAfterMs: number | undefined): Date {
    return new Date(Date.now() + backoffDelay(this.cfg, job.attempts, retryAfterMs));
  }

  private async release(job: ClaimedJob, runAt: Date, patch: JobPatch): Promise<void> {
    const ok = await updateHeldJob(this.opts.pool, job.id, this.id, {
      ...patch, run_at: runAt, locked_by: null, locked_until: null,
    });
    if (ok) this.kickAt(runAt);
  }
}

function providerJob(job: ClaimedJob) {
  return {
    id: job.id, provider: job.provider, model: job.model, params: job.params,
    upstreamRequestId: job.upstreamRequestId, upstreamPollUrl: job.upstreamPollUrl,
  };
}

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/**
 * Delay before retry n (n = transient failures so far): exponential, capped,
 * with jitter over its upper half, so retries of many jobs spread out; never
 * sooner than the upstream's Retry-After.
 */
export function backoffDelay(
  cfg: Pick<WorkerConfig, 'retryBaseMs' | 'retryMaxMs'>,
  attempts: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const cap = Math.min(cfg.retryMaxMs, cfg.retryBaseMs * 2 ** attempts);
  return Math.max(retryAfterMs ?? 0, cap / 2 + random() * (cap / 2));
}
