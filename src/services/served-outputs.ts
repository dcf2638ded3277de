// The output a job serves: the upstream's bytes with the synthetic-media label
// (labelling.ts).
//
// Labelled at completion, not per request: the job records the sha256 of the
// bytes it serves (an ETag, the COMPLETED event, GraphQL). The upstream's
// bytes stay as they came (output_*): an exact rerun compares those
// (reproducibility), since the label names the job and so differs between any
// two jobs.
//
// Stored as a second artifact only when it cannot be made again byte for byte:
// a C2PA signature carries the time it was made. The XMP label alone is a pure
// function of the upstream's bytes and the job (labelling/xmp.ts inserts a
// packet naming the job; test/labelling.test.ts pins the packet), so such a job
// records only the served sha256 and size (served_output_key NULL), and a read
// labels the upstream's bytes again, checked against that sha256. One file per
// job instead of two (docs/PERFORMANCE.md §12: what the second file cost).
//
// A job completed before labelling existed, or while it was turned off, has no
// served output; the first read of its output labels it then (ensureServedOutput).
import { encodeGlobalID } from '@pothos/plugin-relay';
import type pg from 'pg';
import type { LabellingConfig } from '../config.js';
import { isImageRef } from '../models/image-ref.js';
import { modelSpec } from '../models/registry.js';
import { contentKey, type ArtifactStore } from './artifacts.js';
import { labelOutput, type LabelSubject } from './labelling.js';

export interface JobForLabel {
  id: string;
  model: string;
  provider: string;
  params: Record<string, unknown>;
}

/** Who the label names: the job by its API id, its model and provider, and its stored input images by hash. */
export function labelSubjectOf(job: JobForLabel): LabelSubject {
  const spec = modelSpec(job.model);
  const inputs = spec.params.flatMap((p) => {
    const value = p.kind === 'image' ? job.params[p.wire] : undefined;
    return isImageRef(value) ? [{ title: p.name, sha256: value.artifact.sha256, mimeType: value.artifact.contentType }] : [];
  });
  // The API's global id (schema/job-ids.ts#jobGlobalId), so the label names the job as clients know it.
  return { jobId: encodeGlobalID(`${spec.graphqlName}Job`, job.id), model: job.model, provider: job.provider, inputs };
}

/** The served_* columns of a job: what a transition or an UPDATE writes. The key is null when the bytes are made again on each read. */
export interface ServedOutputColumns {
  served_output_key: string | null;
  served_output_sha256: string;
  served_output_bytes: number;
  served_output_label: string | null;
}

export function labellingOn(config: LabellingConfig): boolean {
  return config.xmp || config.c2pa !== null;
}

/**
 * Labels `bytes` (the upstream's output of `job`): the served_* columns, with
 * the labelled bytes stored only when they carry a C2PA signature (see the top
 * of this file); null when labelling is off. A format that cannot be labelled
 * in place is recorded as served unlabelled (label null), so it is not tried again.
 */
export async function labelForServing(
  artifacts: ArtifactStore, config: LabellingConfig, job: JobForLabel, bytes: Buffer, mimeType: string,
): Promise<ServedOutputColumns | null> {
  if (!labellingOn(config)) return null;
  const labelled = await labelOutput(bytes, labelSubjectOf(job), { xmp: config.xmp, c2pa: config.c2pa });
  const label = [labelled.xmp && 'xmp', labelled.c2pa && 'c2pa'].filter(Boolean).join('+') || null;
  if (!labelled.c2pa) {
    return { served_output_key: null, served_output_sha256: contentKey(labelled.bytes, mimeType).sha256, served_output_bytes: labelled.bytes.length, served_output_label: label };
  }
  const stored = await artifacts.put(labelled.bytes, mimeType);
  return { served_output_key: stored.key, served_output_sha256: stored.sha256, served_output_bytes: stored.bytes, served_output_label: label };
}

export interface JobOutputRow extends JobForLabel {
  outputKey: string | null;
  outputSha256: string | null;
  outputBytes: number | null;
  outputMimeType: string | null;
  servedOutputKey: string | null;
  servedOutputSha256: string | null;
  servedOutputBytes: number | null;
  servedOutputLabel: string | null;
}

export interface ServedFile {
  /** The stored file: the labelled copy, or, when `remade`, the upstream's bytes the label is made from. */
  key: string;
  sha256: string;
  bytes: number;
  mimeType: string;
  label: string | null;
  /** The served bytes are `key`'s labelled again on each read (readServedOutput). */
  remade: boolean;
}

export class OutputUnavailable extends Error {}

/**
 * The file to serve for a job's output: the labelled one, labelling it now if
 * it never was and labelling is on (recorded, so once per job); the
 * upstream's bytes when labelling is off and it never was labelled.
 */
export async function ensureServedOutput(
  deps: { pool: pg.Pool; artifacts: ArtifactStore; labelling: LabellingConfig }, job: JobOutputRow,
): Promise<ServedFile | null> {
  if (!job.outputKey || !job.outputSha256 || !job.outputMimeType) return null;
  if (job.servedOutputSha256) return servedFile(job, { key: job.servedOutputKey, sha256: job.servedOutputSha256, bytes: job.servedOutputBytes, label: job.servedOutputLabel });
  const upstream = { key: job.outputKey, sha256: job.outputSha256, bytes: job.outputBytes ?? 0, mimeType: job.outputMimeType, label: null, remade: false };
  if (!labellingOn(deps.labelling)) return upstream;
  const bytes = await deps.artifacts.read(job.outputKey);
  if (!bytes) throw new OutputUnavailable('The output file is missing from the artifact store.');
  const served = await labelForServing(deps.artifacts, deps.labelling, job, bytes, job.outputMimeType);
  if (!served) return upstream;
  // Two readers may label at once: the first UPDATE wins, and the other serves what it recorded.
  const columns = 'served_output_key AS key, served_output_sha256 AS sha256, served_output_bytes AS bytes, served_output_label AS label';
  const updated = await deps.pool.query<RecordedServed>(
    `UPDATE jobs SET served_output_key = $2, served_output_sha256 = $3, served_output_bytes = $4, served_output_label = $5
      WHERE id = $1 AND served_output_sha256 IS NULL RETURNING ${columns}`,
    [job.id, served.served_output_key, served.served_output_sha256, served.served_output_bytes, served.served_output_label],
  );
  const row = updated.rows[0] ?? (await deps.pool.query<RecordedServed>(`SELECT ${columns} FROM jobs WHERE id = $1`, [job.id])).rows[0];
  if (!row?.sha256) throw new OutputUnavailable('The labelled output could not be recorded.');
  return servedFile(job, row);
}

interface RecordedServed { key: string | null; sha256: string; bytes: number | null; label: string | null }

function servedFile(job: JobOutputRow, recorded: RecordedServed): ServedFile {
  const remade = recorded.key === null;
  return { key: recorded.key ?? job.outputKey!, sha256: recorded.sha256, bytes: recorded.bytes ?? 0, mimeType: job.outputMimeType!, label: recorded.label, remade };
}

/**
 * The bytes `file` serves: the stored file's, or the upstream's labelled again,
 * which must hash to what the job recorded (a label that came out otherwise,
 * say after a change to the packet, is refused rather than served under
 * another file's ETag). Null when the file is missing from the store.
 */
export async function readServedOutput(artifacts: ArtifactStore, job: JobForLabel, file: ServedFile): Promise<Buffer | null> {
  const bytes = await artifacts.read(file.key);
  if (!bytes || !file.remade) return bytes;
  const xmp = Boolean(file.label?.split('+').includes('xmp'));
  const served = xmp ? (await labelOutput(bytes, labelSubjectOf(job), { xmp: true, c2pa: null })).bytes : bytes;
  if (contentKey(served, file.mimeType).sha256 !== file.sha256) throw new OutputUnavailable('The labelled output could not be made again as it was recorded.');
  return served;
}
