// Erasing a job's images, on request (deleteJob, deleteJobs) or by age
// (job-retention.ts). Face photos are personal data: every place a job's
// input or output bytes, or a URL to them, can be is cleared:
// - jobs.params: inline image references and image URLs become null;
// - jobs.result (the upstream's answer, which may hold output URLs) and
//   upstream_poll_url: null; the output columns (and the labelled copy's): null;
// - the artifact store: each file the job referenced, once no other job does
//   (files are content-addressed and shared, e.g. by an exact rerun);
// and, when the job is deleted, its events' detail, the response bodies its
// webhook deliveries recorded, and its pending deliveries (no more sends).
// What stays is the tombstone: id, key, model, provider, status, seed, times,
// failure code, cost, and the ledger line, so spend remains auditable.
import type pg from 'pg';
import { isImageRef } from '../models/image-ref.js';
import type { ArtifactStore } from './artifacts.js';
import { FINAL_STATUSES } from './job-status.js';

export type ErasureMode = 'delete' | 'images';

/** Image-bearing values: references to stored bytes, inline data, and URLs (an image's URL is where the photo is). */
function isImageValue(value: unknown): boolean {
  return isImageRef(value) || (typeof value === 'string' && /^(data:|https?:\/\/)/i.test(value));
}

/** params with every image value (at any depth) replaced by null, and the artifact keys it referenced. */
export function scrubImages(params: unknown): { params: unknown; keys: string[] } {
  const keys: string[] = [];
  const walk = (value: unknown): unknown => {
    if (isImageRef(value)) keys.push(value.artifact.key);
    if (isImageValue(value)) return null;
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  return { params: walk(params), keys };
}

export interface ErasedJob {
  id: string;
  model: string;
}

/**
 * Erases the images of the jobs among `ids` that are finished (and, for
 * `apiKeyId`, that key's), in one transaction, then removes the artifact files
 * no job references any more. `delete` also makes them tombstones. Returns the
 * jobs it erased; jobs already erased this way are left out.
 */
export async function eraseJobs(
  pool: pg.Pool,
  artifacts: ArtifactStore,
  opts: { ids: readonly string[]; apiKeyId?: string; mode: ErasureMode },
): Promise<ErasedJob[]> {
  if (opts.ids.length === 0) return [];
  const client = await pool.connect();
  let erased: ErasedJob[] = [];
  const keys = new Set<string>();
  try {
    await client.query('BEGIN');
    const done = opts.mode === 'delete' ? 'deleted_at' : 'images_erased_at';
    // FOR UPDATE: a concurrent erasure (a sweep and a deleteJob) waits, then finds it done.
    const { rows } = await client.query<{ id: string; model: string; params: unknown; output_key: string | null; served_output_key: string | null }>(
      `SELECT id, model, params, output_key, served_output_key FROM jobs
        WHERE id = ANY($1::uuid[]) AND ($2::uuid IS NULL OR api_key_id = $2) AND status = ANY($3::"JobStatus"[]) AND ${done} IS NULL
        ORDER BY id FOR UPDATE`,
      [opts.ids, opts.apiKeyId ?? null, FINAL_STATUSES],
    );
    for (const row of rows) {
      const scrubbed = scrubImages(row.params);
      for (const k of scrubbed.keys) keys.add(k);
      if (row.output_key) keys.add(row.output_key);
      // The labelled copy that downloads serve (served-outputs.ts) is the output too.
      if (row.served_output_key) keys.add(row.served_output_key);
      await client.query(
        `UPDATE jobs SET params = $2, result = NULL, upstream_poll_url = NULL,
                output_key = NULL, output_sha256 = NULL, output_bytes = NULL, output_mime_type = NULL,
                output_width = NULL, output_height = NULL,
                served_output_key = NULL, served_output_sha256 = NULL, served_output_bytes = NULL, served_output_label = NULL,
                images_erased_at = coalesce(images_erased_at, now()),
                deleted_at = CASE WHEN $3 THEN now() ELSE deleted_at END
          WHERE id = $1`,
        [row.id, JSON.stringify(scrubbed.params), opts.mode === 'delete'],
      );
    }
    const ids = rows.map((r) => r.id);
    if (ids.length > 0) {
      // The dashboard's thumbnails of these images (job-thumbnails.ts) are the images too.
      const thumbnails = await client.query<{ key: string }>('DELETE FROM job_thumbnails WHERE job_id = ANY($1::uuid[]) RETURNING key', [ids]);
      for (const t of thumbnails.rows) keys.add(t.key);
    }
    if (opts.mode === 'delete' && ids.length > 0) {
      await client.query('UPDATE job_events SET detail = NULL WHERE job_id = ANY($1::uuid[])', [ids]);
      await client.query(
        `UPDATE webhook_attempts a SET response_body = NULL, error = NULL
           FROM webhook_deliveries d JOIN job_events e ON e.id = d.event_id
          WHERE a.delivery_id = d.id AND e.job_id = ANY($1::uuid[])`,
        [ids],
      );
      await client.query(
        `UPDATE webhook_deliveries d SET status = 'FAILED', finished_at = now(), locked_by = NULL, locked_until = NULL
           FROM job_events e WHERE e.id = d.event_id AND e.job_id = ANY($1::uuid[]) AND d.status = 'PENDING'`,
        [ids],
      );
    }
    await client.query('COMMIT');
    erased = rows.map((r) => ({ id: r.id, model: r.model }));
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  await removeUnreferencedArtifacts(pool, artifacts, keys);
  return erased;
}

/**
 * Removes each artifact file no job (of any key) refers to any more, as its
 * output, from its params or as a thumbnail. Files are shared by content, so a
 * job's erasure leaves a file another job still needs. (One scan of jobs.params per file.)
 */
export async function removeUnreferencedArtifacts(pool: pg.Pool, artifacts: ArtifactStore, keys: Iterable<string>): Promise<void> {
  for (const key of keys) {
    const { rowCount } = await pool.query(
      `SELECT 1 WHERE EXISTS (
         SELECT 1 FROM jobs
          WHERE output_key = $1 OR served_output_key = $1
             OR jsonb_path_exists(params, 'lax $.** ? (@.artifact.key == $k)', jsonb_build_object('k', $1::text)))
       OR EXISTS (SELECT 1 FROM job_thumbnails WHERE key = $1)`,
      [key],
    );
    if (!rowCount) await artifacts.remove(key);
  }
}
