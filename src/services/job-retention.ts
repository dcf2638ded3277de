// IMAGE_RETENTION_DAYS and JOB_RETENTION_DAYS: every worker sweeps, every
// RETENTION_SWEEP_INTERVAL_MS, the finished jobs older than that (by
// finished_at, through the partial indexes of the jobs still holding images,
// or not yet tombstones) and erases them as deleteJob does (job-erasure.ts),
// 100 at a time. Erasure is idempotent under row locks, so two workers
// sweeping at once only share the work.
import type pg from 'pg';
import type { RetentionConfig } from '../config.js';
import type { ArtifactStore } from './artifacts.js';
import { eraseJobs, type ErasureMode } from './job-erasure.js';
import { FINAL_STATUSES } from './job-status.js';

const BATCH = 100;

export class RetentionSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(private readonly opts: {
    pool: pg.Pool;
    artifacts: ArtifactStore;
    config: RetentionConfig;
    log?: (line: string) => void;
  }) {}

  get enabled(): boolean {
    return this.opts.config.imageDays > 0 || this.opts.config.jobDays > 0;
  }

  start(): void {
    if (!this.enabled || this.timer) return;
    const tick = () => {
      this.running = this.sweepOnce()
        .catch((err: unknown) => this.opts.log?.(`[retention] sweep failed: ${err instanceof Error ? err.message : String(err)}`))
        .finally(() => {
          this.running = null;
          if (this.timer) this.timer = setTimeout(tick, this.opts.config.sweepIntervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One sweep of both rules; how many jobs each erased. */
  async sweepOnce(): Promise<{ images: number; jobs: number }> {
    const { jobDays, imageDays } = this.opts.config;
    const jobs = jobDays > 0 ? await this.sweep('delete', jobDays) : 0;
    const images = imageDays > 0 ? await this.sweep('images', imageDays) : 0;
    if (jobs + images > 0) this.opts.log?.(`[retention] erased the images of ${images} job(s), deleted ${jobs} job(s)`);
    return { images, jobs };
  }

  private async sweep(mode: ErasureMode, days: number): Promise<number> {
    const column = mode === 'delete' ? 'deleted_at' : 'images_erased_at';
    let total = 0;
    for (;;) {
      const { rows } = await this.opts.pool.query<{ id: string }>(
        `SELECT id FROM jobs
          WHERE ${column} IS NULL AND finished_at < now() - make_interval(days => $1) AND status = ANY($2::"JobStatus"[])
          ORDER BY finished_at LIMIT ${BATCH}`,
        [days, FINAL_STATUSES],
      );
      if (rows.length === 0) return total;
      total += (await eraseJobs(this.opts.pool, this.opts.artifacts, { ids: rows.map((r) => r.id), mode })).length;
      if (rows.length < BATCH) return total;
    }
  }
}
