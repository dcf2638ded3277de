// Small previews of a job's images for the dashboard, made with sharp:
// GET /thumbnails/<job id>/output and /thumbnails/<job id>/<input field>, with
// the same key rules as /outputs (or a signed link). Each is stored in the
// artifact store and recorded against its job with what it was made from
// (services/job-thumbnails.ts): erasing the job erases it, and an image already
// shrunk (after a restart, by another process, in another job) is read back.
// An output's thumbnail is synthetic too and carries the output's label; an
// input's shows what the client sent, so it carries none.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import sharp from 'sharp';
import { isImageRef } from '../models/image-ref.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { modelSpec } from '../models/registry.js';
import { INPUT_THUMBNAIL_SIZE, OUTPUT_THUMBNAIL_SIZE } from '../models/thumbnail-sizes.js';
import { isArtifactStoreUnavailable } from '../services/artifact-store-unavailable.js';
import type { StoredArtifact } from '../services/artifacts.js';
import { removeUnreferencedArtifacts } from '../services/job-erasure.js';
import { recordThumbnail, storedThumbnailKey } from '../services/job-thumbnails.js';
import { thumbnailsServed } from '../util/metrics.js';
import { labelOutput, type LabelSubject } from '../services/labelling.js';
import { ensureServedOutput, labelSubjectOf, OutputUnavailable } from '../services/served-outputs.js';
import { fail, ownJob, sendArtifact, type FileOptions } from './outputs.js';

/**
 * JPEG, not WebP: Chromium decodes a page of 300 of them in 120 ms of CPU
 * against WebP's 220 (software decode, docs/PERFORMANCE.md §7), for files a
 * quarter larger; the gallery is bound by the decode, not the bytes.
 */
const THUMBNAIL_TYPE = 'image/jpeg';
/** How a thumbnail of `size` px is made: part of what it is remembered by, so a new recipe makes new ones. */
const recipe = (size: number): string => `jpeg-q75-${size}`;
const MAX_REMEMBERED = 10_000;

export interface ThumbnailSource {
  /** The stored image to shrink. */
  key: string;
  /** What the thumbnail is remembered by in this process: the job, the image's sha256 and the size. */
  cacheKey: string;
  /** The image's sha256: the same bytes, in any job, give the same thumbnail. */
  sha256: string;
  /** Longest side, in pixels (models/thumbnail-sizes.ts). */
  size: number;
  /** Who the label names, for an output's thumbnail; none for an input's. */
  label?: LabelSubject;
}

/** Job `jobId`'s thumbnail of the stored image `key` (bytes `sha256`), `size` px. */
function thumbnailSource(jobId: string, key: string, sha256: string, size: number, label?: LabelSubject): ThumbnailSource {
  return { key, cacheKey: `${jobId}:${sha256}:${size}`, sha256, size, ...(label ? { label } : {}) };
}

export class Thumbnails {
  private readonly made = new Map<string, Promise<StoredArtifact | null>>();
  /** Thumbnails being made now, by what they are made from (job_thumbnails.made_from). */
  private readonly making = new Map<string, Promise<StoredArtifact | null>>();
  /** `job id/source/key` already in job_thumbnails, so a gallery's reloads write nothing. */
  private readonly recorded = new Set<string>();

  /** Drops what is remembered of `source` (its thumbnail file is gone: the next request makes it anew). */
  forget(source: ThumbnailSource): void {
    this.made.delete(source.cacheKey);
  }

  /**
   * Notes that the job's `source` has thumbnail `key`, for erasure; false when the
   * job's images were erased meanwhile (the thumbnail is then removed unless another
   * job's record names it).
   */
  async record(opts: FileOptions, jobId: string, source: ThumbnailSource & { field: string }, key: string): Promise<boolean> {
    const entry = `${jobId}/${source.field}/${key}`;
    if (this.recorded.has(entry)) return true;
    if (!(await recordThumbnail(opts.db.pool, jobId, source.field, key, madeFrom(source)))) {
      await removeUnreferencedArtifacts(opts.db.pool, opts.artifacts, [key]);
      return false;
    }
    if (this.recorded.size >= MAX_REMEMBERED) this.recorded.clear();
    this.recorded.add(entry);
    return true;
  }

  /** The thumbnail of `source`, made once. */
  of(opts: FileOptions, source: ThumbnailSource): Promise<StoredArtifact | null> {
    let entry = this.made.get(source.cacheKey);
    if (!entry) {
      entry = this.make(opts, source).catch((err: unknown) => {
        // A store or database that cannot be reached is a 503 (http-server.ts), not "no thumbnail".
        if (isArtifactStoreUnavailable(err) || isDatabaseUnavailable(err)) throw err;
        return null;
      });
      // A failed try is not remembered: the next request tries again.
      void entry.then((made) => { if (!made) this.made.delete(source.cacheKey); }, () => this.made.delete(source.cacheKey));
      if (this.made.size >= MAX_REMEMBERED) this.made.delete(this.made.keys().next().value!);
      this.made.set(source.cacheKey, entry);
    }
    return entry;
  }

  /**
   * One making per image at a time in this process: a gallery's first load asks for
   * the same input of many jobs at once, before any of them is recorded.
   */
  private make(opts: FileOptions, source: ThumbnailSource): Promise<StoredArtifact | null> {
    const key = madeFrom(source);
    let making = this.making.get(key);
    if (!making) {
      making = this.makeOnce(opts, source).finally(() => this.making.delete(key));
      this.making.set(key, making);
    }
    return making;
  }

  private async makeOnce(opts: FileOptions, source: ThumbnailSource): Promise<StoredArtifact | null> {
    // Made before (by any process, for any job with these bytes): read back, not shrunk again.
    const storedKey = await storedThumbnailKey(opts.db.pool, madeFrom(source));
    const stored = storedKey ? await opts.artifacts.read(storedKey) : null;
    if (storedKey && stored) {
      thumbnailsServed.inc({ how: 'stored' });
      const sha256 = createHash('sha256').update(stored).digest('hex');
      return { key: storedKey, sha256, bytes: stored.length, mimeType: THUMBNAIL_TYPE, width: null, height: null };
    }
    thumbnailsServed.inc({ how: 'made' });
    const bytes = await opts.artifacts.read(source.key);
    if (!bytes) return null;
    let small = await sharp(bytes)
      .rotate()
      .resize(source.size, source.size, { fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: 75 })
      .toBuffer();
    if (source.label) small = (await labelOutput(small, source.label, { xmp: opts.labelling.xmp, c2pa: opts.labelling.c2pa })).bytes;
    return opts.artifacts.put(small, THUMBNAIL_TYPE);
  }
}

/** The image's sha256 and the recipe: what job_thumbnails.made_from holds. */
const madeFrom = (source: ThumbnailSource): string => `${source.sha256}:${recipe(source.size)}`;

export async function serveThumbnail(
  req: IncomingMessage, res: ServerResponse, opts: FileOptions & { path: string; thumbnails: Thumbnails },
): Promise<void> {
  const slash = opts.path.lastIndexOf('/');
  if (slash <= 0) return fail(res, 404, 'No such thumbnail.');
  const field = opts.path.slice(slash + 1);
  const job = await ownJob(req, res, opts, opts.path.slice(0, slash), 'thumbnail');
  if (!job) return;
  let source: ThumbnailSource | null = null;
  if (field === 'output') {
    // The output as served (labelled once per job, as a download would), so the thumbnail's parent is what clients get.
    let served;
    try {
      served = await ensureServedOutput({ pool: opts.db.pool, artifacts: opts.artifacts, labelling: opts.labelling }, job);
    } catch (err) {
      if (err instanceof OutputUnavailable) return fail(res, 404, 'No thumbnail: the output file is missing from the artifact store.');
      throw err;
    }
    if (served) {
      const label = { ...labelSubjectOf(job), derivedFrom: { title: 'output', sha256: served.sha256, mimeType: served.mimeType } };
      source = thumbnailSource(job.id, served.key, served.sha256, OUTPUT_THUMBNAIL_SIZE, label);
    }
  } else {
    const param = modelSpec(job.model).params.find((p) => p.kind === 'image' && p.name === field);
    const value = param && job.params[param.wire];
    // Remembered per job: a job's erasure removes the thumbnail file unless another job's
    // record names it (job-thumbnails.ts), so each job records the one it was served.
    if (isImageRef(value)) source = thumbnailSource(job.id, value.artifact.key, value.artifact.sha256, INPUT_THUMBNAIL_SIZE);
  }
  if (!source) return fail(res, 404, 'No such thumbnail: the job has no stored image by that name.');
  const thumb = await opts.thumbnails.of(opts, source);
  if (!thumb) return fail(res, 404, 'No thumbnail: the stored image could not be read as an image.');
  if (!(await opts.thumbnails.record(opts, job.id, { ...source, field }, thumb.key))) return fail(res, 410, 'The job\'s images were erased; its thumbnail is gone.');
  const sent = await sendArtifact(req, res, opts.artifacts, { key: thumb.key, sha256: thumb.sha256, contentType: thumb.mimeType, bytes: thumb.bytes }, 'thumbnail');
  // Removed by another job's erasure since it was made (files are shared by content).
  if (!sent) opts.thumbnails.forget(source);
}
