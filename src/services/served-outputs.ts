// The output a job serves: the upstream's bytes with the synthetic-media label
// (labelling.ts), stored once as a second artifact beside them.
//
// Labelled at completion, not per request: the job records the sha256 of the
// bytes it serves (an ETag, the COMPLETED event, GraphQL), a C2PA signature
// costs milliseconds and carries a time, and a download stays a plain file
// stream. The upstream's bytes stay as they came (output_*): an exact rerun
// compares those (reproducibility), since the label names the job and so
// differs between any two jobs.
//
// A job completed before labelling existed, or while it was turned off, has no
// served output; the first read of its output labels it then (ensureServedOutput).
import { encodeGlobalID } from '@pothos/plugin-relay';
import type pg from 'pg';
import type { LabellingConfig } from '../config.js';
import { isImageRef } from '../models/image-ref.js';
import { modelSpec } from '../models/registry.js';
import type { ArtifactStore } from './artifacts.js';
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

/** The served_* columns of a job: what a transition or an UPDATE writes. */
export interface ServedOutputColumns {
  served_output_key: string;
  served_output_sha256: string;
  served_output_bytes: number;
  served_output_label: string | null;
}

export function labellingOn(config: LabellingConfig): boolean {
  return config.xmp || config.c2pa !== null;
}

/**
 * Labels `bytes` (the upstream's output of `job`) and stores the result;
 * null when labelling is off. A format that cannot be labelled in place is
 * recorded as served unlabelled (label null), so it is not tried again.
 */
export async function labelAndStore(
  artifacts: ArtifactStore, config: LabellingConfig, job: JobForLabel, bytes: Buffer, mimeType: string,
): Promise<ServedOutputColumns | null> {
  if (!labellingOn(config)) return null;
  const labelled = await labelOutput(bytes, labelSubjectOf(job), { xmp: config.xmp, c2pa: config.c2pa });
  const stored = await artifacts.put(labelled.bytes, mimeType);
  const label = [labelled.xmp && 'xmp', labelled.c2pa && 'c2pa'].filter(Boolean).join('+') || null;
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
  key: string;
  sha256: string;
  bytes: number;
  mimeType: string;
  label: string | null;
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
  if (job.servedOutputKey && job.servedOutputSha256) {
    return { key: job.servedOutputKey, sha256: job.servedOutputSha256, bytes: job.servedOutputBytes ?? 0, mimeType: job.outputMimeType, label: job.servedOutputLabel };
  }
  const upstream = { key: job.outputKey, sha256: job.outputSha256, bytes: job.outputBytes ?? 0, mimeType: job.outputMimeType, label: null };
  if (!labellingOn(deps.labelling)) return upstream;
  const bytes = await deps.artifacts.read(job.outputKey);
  if (!bytes) throw new OutputUnavailable('The output file is missing from the artifact store.');
  const served = await labelAndStore(deps.artifacts, deps.labelling, job, bytes, job.outputMimeType);
  if (!served) return upstream;
  // Two readers may label at once: the first UPDATE wins, and the other serves what it recorded.
  const columns = 'served_output_key AS key, served_output_sha256 AS sha256, served_output_bytes AS bytes, served_output_label AS label';
  const updated = await deps.pool.query<Omit<ServedFile, 'mimeType'>>(
    `UPDATE jobs SET served_output_key = $2, served_output_sha256 = $3, served_output_bytes = $4, served_output_label = $5
      WHERE id = $1 AND served_output_key IS NULL RETURNING ${columns}`,
    [job.id, served.served_output_key, served.served_output_sha256, served.served_output_bytes, served.served_output_label],
  );
  const row = updated.rows[0] ?? (await deps.pool.query<Omit<ServedFile, 'mimeType'>>(`SELECT ${columns} FROM jobs WHERE id = $1`, [job.id])).rows[0];
  if (!row?.key) throw new OutputUnavailable('The labelled output could not be recorded.');
  return { ...row, mimeType: job.outputMimeType };
}
