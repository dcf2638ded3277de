// Which thumbnails the dashboard made of a job's images (server/thumbnails.ts),
// so that erasing the job (job-erasure.ts) removes them with the images, and
// what each was made from, so that no process shrinks the same image twice.
import type pg from 'pg';
import { prepared } from '../db/prepared.js';

/**
 * Records `key` as the thumbnail of the job's `source` ("output" or an input's
 * field). False, recording nothing, when the job's images are erased: FOR SHARE
 * waits for an erasure in progress (it holds the row FOR UPDATE) to commit, then
 * sees it; an erasure that starts later finds this row and removes the thumbnail.
 */
export async function recordThumbnail(pool: pg.Pool, jobId: string, source: string, key: string, madeFrom: string): Promise<boolean> {
  const { rowCount } = await pool.query(
    `INSERT INTO job_thumbnails (job_id, source, key, made_from)
     SELECT id, $2, $3, $4 FROM jobs
      WHERE id = $1 AND deleted_at IS NULL AND images_erased_at IS NULL
        FOR SHARE
     ON CONFLICT (job_id, source) DO UPDATE SET key = EXCLUDED.key, made_from = EXCLUDED.made_from`,
    [jobId, source, key, madeFrom],
  );
  return rowCount === 1;
}

/**
 * The key of a thumbnail already made from `madeFrom` (an image's sha256 and the
 * recipe), for any job; null when none is recorded. Its file may since have been
 * erased with its last job: the caller reads it and makes it anew when it is gone.
 */
export async function storedThumbnailKey(pool: pg.Pool, madeFrom: string): Promise<string | null> {
  const { rows } = await pool.query<{ key: string }>(
    prepared(`SELECT key FROM job_thumbnails WHERE made_from = $1 LIMIT 1`, [madeFrom]),
  );
  return rows[0]?.key ?? null;
}
