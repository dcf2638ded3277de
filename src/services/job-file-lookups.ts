// The job behind a download (/outputs, /inputs, /thumbnails): by id and owning
// key, with the columns those routes read. A gallery page asks for its 300
// thumbnails at once; lookups that arrive together share one statement
// (util/coalescer.ts), instead of one ORM query each (2.2 ms of the API's CPU
// per thumbnail before; docs/PERFORMANCE.md §7).
import type pg from 'pg';
import { prepared } from '../db/prepared.js';
import { coalescerPer } from '../util/coalescer.js';
import { isUuid } from '../util/uuid.js';
import type { JobOutputRow } from './served-outputs.js';

export interface JobFileRow extends JobOutputRow {
  imagesErasedAt: Date | null;
  deletedAt: Date | null;
}

interface Lookup {
  apiKeyId: string;
  id: string;
}

// One row per lookup asked, by its position (ord): a job asked for twice in a
// batch is answered twice, and a job of another key is not answered at all.
const LOOKUP_SQL = `
  SELECT w.ord::int AS ord, j.id, j.model, j.provider, j.params,
         j.images_erased_at AS "imagesErasedAt", j.deleted_at AS "deletedAt",
         j.output_key AS "outputKey", j.output_sha256 AS "outputSha256", j.output_bytes AS "outputBytes",
         j.output_mime_type AS "outputMimeType",
         j.served_output_key AS "servedOutputKey", j.served_output_sha256 AS "servedOutputSha256",
         j.served_output_bytes AS "servedOutputBytes", j.served_output_label AS "servedOutputLabel"
    FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS w(id, api_key_id, ord)
    JOIN jobs j ON j.id = w.id AND j.api_key_id = w.api_key_id`;

async function lookUp(pool: pg.Pool, batch: Lookup[]): Promise<Array<PromiseSettledResult<JobFileRow | null>>> {
  const { rows } = await pool.query<JobFileRow & { ord: number }>(prepared(LOOKUP_SQL, [batch.map((l) => l.id), batch.map((l) => l.apiKeyId)]));
  const byOrd = new Map(rows.map(({ ord, ...row }) => [ord, row]));
  return batch.map((_, i) => ({ status: 'fulfilled', value: byOrd.get(i + 1) ?? null }));
}

const lookups = coalescerPer(lookUp, { maxBatch: 200, maxInFlight: 2 });

/** Key `apiKeyId`'s job `id` (of `model`, when the caller's id names one), or null. */
export async function findJobFiles(pool: pg.Pool, apiKeyId: string, id: string, model?: string): Promise<JobFileRow | null> {
  // One malformed id must not fail the batch it shares (a uuid[] cast raises).
  if (!isUuid(id) || !isUuid(apiKeyId)) return null;
  const job = await lookups(pool).push({ apiKeyId, id });
  return job && (!model || job.model === model) ? job : null;
}
