// A job's stored images, to its own API key only:
//   GET /outputs/<job id>          its output;
//   GET /inputs/<job id>/<field>   an input image sent inline (ImageInput.url).
// Another key's job is answered exactly like an unknown one (404). Instead of the
// Authorization header, a request may carry a signed link's query (url-signing.ts),
// which acts as the key that was given it, for that path only, until it expires.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LabellingConfig } from '../config.js';
import type { Db } from '../db/client.js';
import { isImageRef } from '../models/image-ref.js';
import { modelSpec } from '../models/registry.js';
import { decodeJobId } from '../models/job-ids.js';
import type { ArtifactStore } from '../services/artifacts.js';
import { findJobFiles, type JobFileRow } from '../services/job-file-lookups.js';
import { ensureServedOutput, OutputUnavailable, readServedOutput } from '../services/served-outputs.js';
import type { KeyLimits } from './key-limits.js';
import { authenticateHeaders, type Refusal } from './request-auth.js';
import { liveApiKeyById, type ApiKeyIdentity } from '../services/api-keys.js';
import type { UrlSigner } from '../util/url-signing.js';

export interface FileOptions {
  db: Db; artifacts: ArtifactStore; limits: KeyLimits; labelling: LabellingConfig;
  /** Checks signed links; with `url`, the request as received (its percent-encoded path is what was signed). */
  urls: UrlSigner;
  url: URL;
}

export function fail(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify({ error: message }));
}

const refusedLink = (message: string): { refusal: Refusal } => ({
  refusal: { status: 403, headers: {}, error: { message, extensions: { code: 'FORBIDDEN', field: 'signature', rule: 'signed-link' } } },
});

/** Who asks: a signed link's key when the query carries a signature, else the Authorization header's. */
async function authenticateFileRequest(req: IncomingMessage, opts: FileOptions): Promise<{ apiKey: ApiKeyIdentity } | { refusal: Refusal }> {
  const link = opts.urls.check(opts.url.pathname, opts.url.searchParams);
  if (!link.ok && link.problem === 'unsigned') return authenticateHeaders(opts.db.pool, req.headers.authorization);
  if (!link.ok) {
    return refusedLink(link.problem === 'expired'
      ? 'The signed link has expired; read the URL from the API again.'
      : 'The signed link is not valid for this path (altered or truncated).');
  }
  const apiKey = await liveApiKeyById(opts.db.pool, link.keyId);
  return apiKey ? { apiKey } : refusedLink('The signed link\'s API key is revoked or expired.');
}

/** The caller's job named by `rawId`, with `select`; null (and the answer sent) when there is none to serve. */
export async function ownJob(
  req: IncomingMessage, res: ServerResponse, opts: FileOptions, rawId: string, what: string,
): Promise<JobFileRow | null> {
  const auth = await authenticateFileRequest(req, opts);
  if ('refusal' in auth) {
    for (const [name, value] of Object.entries(auth.refusal.headers)) res.setHeader(name, value);
    fail(res, auth.refusal.status, auth.refusal.error.message);
    return null;
  }
  const { apiKey } = auth;
  // Downloads count against the key's request rate, like GraphQL requests.
  const refusal = await opts.limits.admit(apiKey.id);
  if (refusal) {
    res.setHeader('retry-after', String(refusal.retryAfterSeconds));
    fail(res, 429, refusal.message);
    return null;
  }
  let decoded: ReturnType<typeof decodeJobId>;
  try {
    decoded = decodeJobId(rawId, 'id');
  } catch {
    fail(res, 404, `No such ${what}.`);
    return null;
  }
  const job = await findJobFiles(opts.db.pool, apiKey.id, decoded.id, decoded.model);
  if (!job) {
    fail(res, 404, `No such ${what}.`);
    return null;
  }
  if (job.imagesErasedAt) {
    // Gone for good, and said so: a client need not retry.
    fail(res, 410, job.deletedAt ? `The job was deleted; its ${what} is erased.` : `The job's images were erased after the retention period; its ${what} is gone.`);
    return null;
  }
  return job;
}

interface SentFile { key: string; sha256: string; contentType: string; bytes: number | null }

/** 304 when the client holds `file` already (its sha256 is the ETag). */
function notModified(req: IncomingMessage, res: ServerResponse, file: SentFile): boolean {
  if (req.headers['if-none-match'] !== `"${file.sha256}"`) return false;
  res.writeHead(304);
  res.end();
  return true;
}

function fileHeaders(file: SentFile): Record<string, string> {
  return {
    'content-type': file.contentType,
    'content-length': String(file.bytes ?? ''),
    etag: `"${file.sha256}"`,
    'cache-control': 'private, max-age=31536000, immutable',
  };
}

/** Streams one artifact, with its sha256 as the ETag. */
export async function sendArtifact(req: IncomingMessage, res: ServerResponse, artifacts: ArtifactStore, file: SentFile, what: string): Promise<boolean> {
  if (notModified(req, res, file)) return true;
  const stream = await artifacts.open(file.key);
  if (!stream) {
    fail(res, 404, `The ${what} file is missing from the artifact store.`);
    return false;
  }
  res.writeHead(200, fileHeaders(file));
  stream.pipe(res);
  await new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
  });
  return true;
}

/** The output as served: the upstream's bytes with the synthetic-media label (services/served-outputs.ts). */
export async function serveOutput(req: IncomingMessage, res: ServerResponse, opts: FileOptions & { id: string }): Promise<void> {
  const job = await ownJob(req, res, opts, opts.id, 'output');
  if (!job) return;
  try {
    const file = await ensureServedOutput({ pool: opts.db.pool, artifacts: opts.artifacts, labelling: opts.labelling }, job);
    if (!file) return fail(res, 404, 'No such output.');
    const sent = { key: file.key, sha256: file.sha256, contentType: file.mimeType, bytes: file.bytes };
    if (!file.remade) {
      await sendArtifact(req, res, opts.artifacts, sent, 'output');
      return;
    }
    // Labelled again from the upstream's bytes (an image, read whole).
    if (notModified(req, res, sent)) return;
    const bytes = await readServedOutput(opts.artifacts, job, file);
    if (!bytes) return fail(res, 404, 'The output file is missing from the artifact store.');
    res.writeHead(200, fileHeaders(sent));
    res.end(bytes);
  } catch (err) {
    if (err instanceof OutputUnavailable) return fail(res, 404, err.message);
    throw err;
  }
}

/** `path` is what follows /inputs/: "<job id>/<field>", the field by its GraphQL name (sourceImage). */
export async function serveInput(req: IncomingMessage, res: ServerResponse, opts: FileOptions & { path: string }): Promise<void> {
  const slash = opts.path.lastIndexOf('/');
  const job = await ownJob(req, res, opts, slash > 0 ? opts.path.slice(0, slash) : opts.path, 'input');
  if (!job) return;
  const field = slash > 0 ? opts.path.slice(slash + 1) : '';
  const param = modelSpec(job.model).params.find((p) => p.kind === 'image' && p.name === field);
  const value = param && job.params[param.wire];
  // URL inputs are not kept here: their URL is where they are.
  if (!isImageRef(value)) return fail(res, 404, 'No such input: the job has no stored image by that name.');
  const a = value.artifact;
  await sendArtifact(req, res, opts.artifacts, { key: a.key, sha256: a.sha256, contentType: a.contentType, bytes: a.bytes }, 'input');
}
