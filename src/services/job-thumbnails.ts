// Which thumbnails the dashboard made of a job's images (server/thumbnails.ts),
// so that erasing the job (job-erasure.ts) removes them with the images.
import type pg from 'pg';

/**
 * Records `key` as the thumbnail of the job's `source` ("output" or an input's
 * field). False, recording nothing, when the job's images are erased: FOR SHARE
 * waits for an erasure in progress (it holds the row FOR UPDATE) to commit, then
 * sees it; an erasure that starts later finds this row and removes the thumbnail.
 */
export async function recordThumbnail(pool: pg.Pool, jobId: string, source: string, key: string): Promise<boolean> {
  const { rowCount } = await pool.query(
    `INSERT INTO job_thumbnails (job_id, source, key)
     SELECT id, $2, $3 FROM jobs
      WHERE id = $1 AND deleted_at IS NULL AND images_erased_at IS NULL
        FOR SHARE
     ON CONFLICT (job_id, source) DO UPDATE SET key = EXCLUDED.key`,
    [jobId, source, key],
  );
  return rowCount === 1;
}
