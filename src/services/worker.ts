// The worker: takes due jobs from PostgreSQL and moves each one a step
// further: submit it, poll it, or finish it. Jobs are claimed with
// SELECT … FOR UPDATE SKIP LOCKED and held by a lease (locked_by/locked_until)
// that a heartbeat extends, so any number of workers in any number of
// processes never work on the same job at once, and a job whose worker died
// is picked up again when its lease runs out. A job is never held between
// polls: after each step it is released with the time it is next due.
//
// The database may go away under a step (a restart, a failover). Every write
// of a step is retried across such a blip while the job's lease may still
// hold; an output in hand whose completion cannot be recorded is kept as a
// receipt in the artifact store, and whichever worker takes the job over
// completes it from there rather than failing it as an unknown outcome.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import type { LabellingConfig, WorkerConfig } from '../config.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { OutageLog } from '../util/outage-log.js';
import { modelSpec } from '../models/registry.js';
import { isArtifactStoreUnavailable } from './artifact-store-unavailable.js';
import type { ArtifactStore, OutputReceipt, StoredArtifact } from './artifacts.js';
import { ClaimLoop } from './claim-loop.js';
import { parseReadyNotice, type ClaimedJob } from './job-claims.js';
import * as steps from './job-steps.js';
import { accountOf, recordCreditReading, takeReadingSlot } from './credit-readings.js';
import { loadInputImages, MissingInputImage } from './input-artifacts.js';
import { removeUnreferencedArtifacts } from './job-erasure.js';
import { labelForServing, type ServedOutputColumns } from './served-outputs.js';
import { SENDING } from './job-status.js';
import { JOBS_OVERFLOW_CHANNEL, JOBS_READY_CHANNEL, type JobPatch } from './job-transitions.js';
import type { Readiness } from './readiness.js';
import { componentLogger, scrub, type Logger } from '../util/logger.js';
import { jobRetries, rateLimitWaits } from '../util/metrics.js';
import { SpanKind, spanFailed, withSpan } from '../util/tracing.js';
import { jobMoved } from './job-telemetry.js';
import { admitNow, type FailureCode, type InputImage, type ProviderJob, type ProviderOutput, type SubmitOutcome, type UpstreamProvider } from './providers/types.js';

const MAX_TRANSIENT_FAILURES = 10;
const CREDIT_READING_TIMEOUT_MS = 5_000;
/** Backoff of a write retried across a database blip: from this, doubling, up to WRITE_RETRY_MAX_MS, jittered. */
const WRITE_RETRY_FIRST_MS = 50;
const WRITE_RETRY_MAX_MS = 1_000;

export interface WorkerOptions {
  databaseUrl: string;
  pool: pg.Pool;
  provider: UpstreamProvider;
  artifacts: ArtifactStore;
  config: WorkerConfig;
  /** Read the upstream's remaining credits after paid jobs (UPSTREAM_CREDIT_READINGS). */
  readCredits?: boolean;
  /** At most one such reading per upstream account per this interval, across workers; default 60 s. */
  creditReadingIntervalMs?: number;
  /** Synthetic-media labels on outputs (config.labelling); left out: the XMP label, no C2PA. */
  labelling?: LabellingConfig;
  log?: (line: string) => void;
  /** Where the claim loop's LISTEN connection reports up/down (/readyz). */
  readiness?: Readiness;
}

export class Worker {
  readonly id = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  private readonly loop: ClaimLoop<ClaimedJob>;
  private heartbeat: NodeJS.Timeout | null = null;
  /** Jobs this worker claimed and marked SENDING in one statement (claimAndSendAside), for tests and diagnostics. */
  claimedAside = 0;
  /** Jobs this worker completed from an output receipt another step left (takeOverFromReceipt), for tests and diagnostics. */
  completedFromReceipts = 0;
  /** When the lease of each job in hand runs out, as far as this process knows (claim, then each heartbeat). */
  private readonly leaseEnds = new Map<string, number>();
  private readonly heartbeats: OutageLog;
  private readonly logger: Logger = componentLogger('worker', { worker: this.id });

  constructor(private readonly opts: WorkerOptions) {
    this.loop = new ClaimLoop({
      databaseUrl: opts.databaseUrl,
      channel: JOBS_READY_CHANNEL,
      overflowChannel: JOBS_OVERFLOW_CHANNEL,
      concurrency: opts.config.concurrency,
      idlePollMs: opts.config.idlePollMs,
      claim: (limit) => steps.claimJobs(opts.pool, this.id, limit, this.cfg.leaseMs),
      keyOf: (job) => job.id,
      handle: (job, signal) => this.handle(job, signal),
      release: (id) => steps.releaseLease(opts.pool, this.id, id),
      log: (line) => this.log(line),
      onNotification: (payload) => this.claimAndSendAside(payload),
      readiness: opts.readiness,
      listenerName: 'jobs listener',
    });
    this.heartbeats = new OutageLog((line) => this.log(line), 'lease heartbeats');
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
    if (this.opts.log) this.opts.log(`[worker ${this.id}] ${line}`);
    else this.logger.warn(scrub(line));
  }

  private kickAt(when: Date): void {
    this.loop.kickAt(when);
  }

  /**
   * One step of a job, in a span of the trace of the request that created it;
   * a step that throws is settled here, never left to loop.
   */
  private handle(job: ClaimedJob, signal: AbortSignal): Promise<void> {
    return withSpan(`job ${job.admitted || job.status === 'QUEUED' || job.upstreamStatus === SENDING ? 'submit' : 'poll'}`, {
      kind: SpanKind.CONSUMER,
      parent: job.traceParent,
      attributes: { 'swapyard.job.id': job.id, 'swapyard.job.model': job.model, 'swapyard.job.provider': job.provider, 'swapyard.job.status': job.status },
    }, (span) => this.stepSettled(job, signal).then((failed) => { if (failed) spanFailed(span, 'step failed'); }));
  }

  /** Runs a step; true when it threw (and the job was settled here). */
  private async stepSettled(job: ClaimedJob, signal: AbortSignal): Promise<boolean> {
    this.leaseEnds.set(job.id, Date.now() + this.cfg.leaseMs);
    try {
      await this.step(job, signal);
      return false;
    } catch (err) {
      if (isDatabaseUnavailable(err)) {
        // Its writes were retried for as long as the lease may hold. Nothing can be recorded now,
        // so nothing is settled: the lease runs out, and whichever worker claims the job next
        // resumes it (from the output receipt, when there is one).
        this.log(`job ${job.id}: left for the next claim: the database is unavailable`);
        return true;
      }
      this.log(`job ${job.id}: step failed: ${(err as Error).stack ?? err}`);
      // The job's error is the client's to read: an unreachable store is named, its bucket and endpoint are not.
      const reason = isArtifactStoreUnavailable(err) ? 'step failed: the artifact store could not be reached' : `step failed: ${(err as Error).message}`;
      // Thrown mid-send, the request may have reached the upstream: the same rule as a crash mid-send.
      // Otherwise it counts like a transient failure, so a step that always throws ends the job.
      const settle = job.upstreamStatus === SENDING
        ? this.fail(job, 'UPSTREAM_OUTCOME_UNKNOWN', `${reason}; not resent to avoid paying twice — rerun the job`)
        : this.retry(job, reason, undefined, {});
      await settle.catch((e) => this.log(`job ${job.id}: could not settle: ${(e as Error).message}`));
      return true;
    } finally {
      this.leaseEnds.delete(job.id);
    }
  }

  /**
   * Runs a write of a step on `job`, again across a database blip, with
   * backoff, until the job's lease may have run out; then the blip's error
   * is thrown (handle() leaves the job for the next claim). Any other error
   * is thrown at once. The writes are compare-and-sets under the lease
   * (the steps of job-steps.ts), so one that committed although its answer
   * was lost is not applied twice.
   */
  private async write<R>(job: ClaimedJob, fn: () => Promise<R>): Promise<R> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const cap = Math.min(WRITE_RETRY_MAX_MS, WRITE_RETRY_FIRST_MS * 2 ** attempt);
        const delay = cap / 2 + Math.random() * (cap / 2);
        const leaseEnd = this.leaseEnds.get(job.id) ?? 0;
        if (!isDatabaseUnavailable(err) || Date.now() + delay >= leaseEnd) throw err;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async extendLeases(): Promise<void> {
    const held = this.loop.activeKeys();
    if (held.length === 0) return;
    const sentAt = Date.now();
    try {
      await steps.extendLeases(this.opts.pool, this.id, held, this.cfg.leaseMs);
      this.heartbeats.ok();
      for (const id of held) if (this.leaseEnds.has(id)) this.leaseEnds.set(id, sentAt + this.cfg.leaseMs);
    } catch (err) {
      this.heartbeats.failed(err);
    }
  }

  private async step(job: ClaimedJob, signal: AbortSignal): Promise<void> {
    if (job.admitted) {
      await this.submit(job, true, signal);
      return;
    }
    if (job.takenOver && job.status !== 'QUEUED' && (await this.takeOverFromReceipt(job))) return;
    if (job.upstreamStatus === SENDING) {
      // Its previous worker died between sending and recording the answer. Sending
      // again could run (and bill) the swap twice, so the job ends here, and says why.
      await this.fail(job, 'UPSTREAM_OUTCOME_UNKNOWN', 'the worker stopped while the request was being sent; it was not resent to avoid paying twice — rerun the job');
      return;
    }
    const deadline = this.deadlineOf(job);
    if (deadline !== null && Date.now() >= deadline) {
      await this.endAtDeadline(job);
      return;
    }
    // A sync job has nothing to poll: until it completes, every step is a (re)send.
    const sync = this.runsSynchronously(providerJob(job));
    if (sync || job.status === 'QUEUED') await this.submit(job, sync, signal);
    else await this.poll(job, signal);
  }

  /**
   * When the job must be over: JOB_DEADLINE_MS after the upstream accepted it
   * (submitted_at; for a sync job, its first send), or, for an async job that
   * was never accepted, after its first send. Null before anything was sent
   * (a job waiting for our own rate limit has no deadline yet).
   */
  private deadlineOf(job: ClaimedJob): number | null {
    const start = job.submittedAt ?? job.firstSentAt;
    return start ? start.getTime() + this.cfg.deadlineMs : null;
  }

  /**
   * The deadline passed. A job the upstream never took (every submission
   * refused: a sync job still being resent, an async one still QUEUED) ends
   * with the last refusal's code and pays nothing (pricing.ts); one it took ends TIMEOUT.
   */
  private async endAtDeadline(job: ClaimedJob): Promise<void> {
    const seconds = this.cfg.deadlineMs / 1000;
    const neverTaken = job.status === 'QUEUED' || this.runsSynchronously(providerJob(job));
    if (neverTaken && (job.errorCode === 'RATE_LIMITED' || job.errorCode === 'UPSTREAM_UNAVAILABLE')) {
      const why = job.errorCode === 'RATE_LIMITED' ? 'rate limited (429)' : 'unavailable (5xx, or not reached)';
      await this.fail(job, job.errorCode, `every submission was refused for ${seconds} s, the job's deadline: the upstream was ${why}; nothing ran and nothing is charged — rerun the job later`);
      return;
    }
    await this.fail(job, 'TIMEOUT', `not finished ${seconds} s after submission`);
  }

  /** `runAt`, or the deadline when that comes first: no wait (Retry-After included) outlasts the deadline. */
  private notAfterDeadline(job: ClaimedJob, runAt: Date): Date {
    const deadline = this.deadlineOf(job);
    return deadline !== null && runAt.getTime() > deadline ? new Date(deadline) : runAt;
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
      const job = await steps.claimAndMarkSending(this.opts.pool, stub.id, this.id, this.cfg.leaseMs).catch((err) => {
        admitted.release();
        throw err;
      });
      if (!job) {
        admitted.release(); // gone to another worker, canceled, or not due
        return null;
      }
      this.claimedAside += 1;
      jobMoved({ jobId: job.id, model: job.model, provider: job.provider, from: 'QUEUED', to: 'SUBMITTED', reason: 'claimed to send' });
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
      const moved = await this.write(job, () => steps.markSubmittedSending(this.opts.pool, this.held(job)));
      if (!moved) return false;
      job.status = 'SUBMITTED';
      job.submittedAt ??= new Date();
    } else if (!(await this.write(job, () => steps.markSending(this.opts.pool, this.held(job))))) {
      return false;
    }
    job.upstreamStatus = SENDING;
    job.firstSentAt ??= new Date();
    return true;
  }

  private async submitted(job: ClaimedJob, sync: boolean, outcome: SubmitOutcome): Promise<void> {
    switch (outcome.kind) {
      case 'completed':
        await this.complete(job, outcome.output);
        return;
      case 'accepted': {
        const runAt = new Date(Date.now() + this.pollInterval(job));
        const moved = await this.write(job, () => steps.accept(this.opts.pool, this.held(job), {
          requestId: outcome.requestId, pollUrl: outcome.pollUrl, resultUrl: outcome.resultUrl ?? null, runAt,
        }));
        if (moved) this.kickAt(runAt);
        return;
      }
      case 'failed':
        await this.fail(job, outcome.code, outcome.message, { httpStatus: outcome.httpStatus, detail: outcome.detail }, outcome.billed);
        return;
      case 'retry':
        await this.retry(job, outcome.reason, outcome.retryAfterMs, { upstream_status: sync ? 'RETRYING' : null }, outcome.throttled, outcome.refusal);
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
        const runAt = this.notAfterDeadline(job, new Date(Date.now() + this.pollInterval(job)));
        if (outcome.upstreamStatus === 'PROCESSING' && job.status === 'SUBMITTED') {
          const moved = await this.write(job, () => steps.markProcessing(this.opts.pool, this.held(job), runAt));
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
        await this.fail(job, outcome.code, outcome.message, { httpStatus: outcome.httpStatus, detail: outcome.detail }, outcome.billed);
        return;
      case 'retry':
        await this.retry(job, outcome.reason, outcome.retryAfterMs, {});
        return;
    }
  }

  private async complete(job: ClaimedJob, output: ProviderOutput): Promise<void> {
    const stored = await this.opts.artifacts.put(output.bytes, output.mimeType);
    const served = await this.labelled(job, output);
    let moved;
    try {
      moved = await this.completeWith(job, stored, output.upstream, served);
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      // The output is in hand and the database is not there to say so: keep a receipt beside the
      // artifact, so the job is completed from it (by this worker's retries, or by whichever worker
      // takes the job over) instead of failing as an unknown outcome and being paid for twice.
      // Written only on this path: a completion recorded at the first try costs no file.
      await this.opts.artifacts.putReceipt(job.id, { artifact: stored, upstream: output.upstream });
      moved = await this.write(job, () => this.completeWith(job, stored, output.upstream, served));
      // Not moved: the job is another worker's now (it completes from the receipt) or final.
      if (moved) await this.opts.artifacts.dropReceipt(job.id);
    }
    // A cancel may have won the race; anything else is a bug worth seeing.
    if (!moved) {
      this.log(`job ${job.id}: completion not recorded (no longer SUBMITTED or PROCESSING, or the lease was lost)`);
      // Canceled meanwhile (and perhaps deleted): the output is no job's, and may be a face.
      await removeUnreferencedArtifacts(this.opts.pool, this.opts.artifacts, [stored.key]);
      return;
    }
    // After the completion, not before: the balance is an upstream call the job's subscribers need not wait for.
    await this.recordCredits(job);
  }

  /**
   * The labelled output's columns (served-outputs.ts; a C2PA-signed copy is
   * stored beside the output). A labelling failure does not fail a job the upstream did: the output is
   * labelled when it is first read instead (ensureServedOutput), or that read fails.
   */
  private async labelled(job: ClaimedJob, output: ProviderOutput): Promise<ServedOutputColumns | null> {
    try {
      return await labelForServing(this.opts.artifacts, this.opts.labelling ?? { xmp: true, c2pa: null }, job, output.bytes, output.mimeType);
    } catch (err) {
      this.log(`job ${job.id}: output not labelled at completion: ${(err as Error).message}`);
      return null;
    }
  }

  private completeWith(job: ClaimedJob, stored: StoredArtifact, upstream: unknown, served: ServedOutputColumns | null) {
    return steps.complete(this.opts.pool, this.held(job), {
      result: upstream, output_key: stored.key, output_sha256: stored.sha256, output_bytes: stored.bytes,
      output_mime_type: stored.mimeType, output_width: stored.width, output_height: stored.height, ...served,
    },
    // sha256 and bytes are the served file's, as on JobOutput; upstreamSha256 the upstream's bytes.
    { sha256: served?.served_output_sha256 ?? stored.sha256, bytes: served?.served_output_bytes ?? stored.bytes, upstreamSha256: stored.sha256 });
  }

  /**
   * A job taken over from a lapsed lease whose previous step had its output in
   * hand but could not record the completion (a database outage, then a crash
   * or a lease run out): completed from the receipt, with nothing sent or
   * polled again. False when there is no receipt.
   */
  private async takeOverFromReceipt(job: ClaimedJob): Promise<boolean> {
    const receipt: OutputReceipt | null = await this.opts.artifacts.readReceipt(job.id);
    if (!receipt) return false;
    const moved = await this.write(job, () => this.completeWith(job, receipt.artifact, receipt.upstream, null));
    if (!moved) return true;
    await this.opts.artifacts.dropReceipt(job.id);
    this.completedFromReceipts += 1;
    this.log(`job ${job.id}: completed from the output receipt its previous step left`);
    await this.recordCredits(job);
    return true;
  }

  /**
   * Reads the upstream's balance after a paid job and keeps it beside the job,
   * for reconciliation: when this interval's reading of the account is still
   * to be taken (credit-readings.ts), so that readings do not double the
   * requests against the vendor's limit.
   */
  private async recordCredits(job: ClaimedJob): Promise<void> {
    if (!this.opts.readCredits || !this.opts.provider.readCredits || !job.paid) return;
    try {
      const account = accountOf(this.opts.provider);
      if (!(await takeReadingSlot(this.opts.pool, account, 'after-job', this.opts.creditReadingIntervalMs ?? 60_000))) return;
      const credits = await this.opts.provider.readCredits(AbortSignal.timeout(CREDIT_READING_TIMEOUT_MS));
      if (credits !== null) await recordCreditReading(this.opts.pool, { account, kind: 'after-job', creditsMicros: credits, jobId: job.id });
    } catch (err) {
      // A reading is for reconciliation; never a reason to hold the job back or fail it.
      this.log(`job ${job.id}: no credit reading: ${(err as Error).message}`);
    }
  }

  /** `billed`: the upstream answered 2xx but its output was unusable; the job pays what the vendor billed (pricing.ts). */
  private async fail(job: ClaimedJob, code: FailureCode, message: string, extra: Record<string, unknown> = {}, billed = false): Promise<void> {
    await this.write(job, () => steps.fail(this.opts.pool, this.held(job), { code, message, detail: stripUndefined(extra), billed }));
  }

  /**
   * Try the step again later. `refusal`: the upstream refused a submission
   * (nothing ran); such refusals end the job at its deadline, with the
   * refusal's code (endAtDeadline), rather than after a count of failures.
   */
  private async retry(
    job: ClaimedJob, reason: string, retryAfterMs: number | undefined, patch: JobPatch, throttled = false,
    refusal?: 'RATE_LIMITED' | 'UPSTREAM_UNAVAILABLE',
  ): Promise<void> {
    const labels = { model: job.model, provider: job.provider };
    if (throttled) {
      rateLimitWaits.inc(labels);
      // Our own rate limit said "not yet", before anything was sent: waiting one's turn is not a failure.
      await this.release(job, new Date(Date.now() + (retryAfterMs ?? 0)), { ...patch, error_message: reason });
      return;
    }
    const boundedByDeadline = refusal !== undefined && this.deadlineOf(job) !== null;
    if (!boundedByDeadline && job.attempts + 1 >= MAX_TRANSIENT_FAILURES) {
      await this.fail(job, 'UPSTREAM_ERROR', `gave up after ${MAX_TRANSIENT_FAILURES} transient failures; last: ${reason}`);
      return;
    }
    jobRetries.inc(labels);
    if (this.logger.isLevelEnabled('info')) {
      this.logger.info({ jobId: job.id, model: job.model, provider: job.provider, status: job.status, attempt: job.attempts + 1, reason: scrub(reason) }, 'job step put off');
    }
    await this.release(job, this.backoff(job, retryAfterMs), {
      ...patch, error_message: reason, attempts: job.attempts + 1, ...(refusal ? { error_code: refusal } : {}),
    });
  }

  /** Exponential backoff with full jitter, never sooner than the upstream's Retry-After. */
  private backoff(job: ClaimedJob, retryAfterMs: number | undefined): Date {
    return new Date(Date.now() + backoffDelay(this.cfg, job.attempts, retryAfterMs));
  }

  /** Hands the job back, due at `runAt` or at its deadline, whichever comes first. */
  private async release(job: ClaimedJob, requested: Date, patch: JobPatch): Promise<void> {
    const runAt = this.notAfterDeadline(job, requested);
    const ok = await this.write(job, () => steps.releaseUntil(this.opts.pool, this.held(job), runAt, patch));
    if (ok) this.kickAt(runAt);
  }

  /** The job as a step under this worker's lease sees it. */
  private held(job: ClaimedJob): steps.Held {
    return { jobId: job.id, workerId: this.id, was: job.status };
  }
}

function providerJob(job: ClaimedJob): ProviderJob {
  return {
    id: job.id, provider: job.provider, model: job.model, params: job.params,
    upstreamRequestId: job.upstreamRequestId, upstreamPollUrl: job.upstreamPollUrl,
    upstreamResultUrl: job.upstreamResultUrl ?? null, acceptedAt: job.submittedAt ?? null, attempt: job.attempts + 1,
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
