// GET /outputs/<job id>: a job's stored output, to its own API key only.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Db } from '../db/client.js';
import { decodeJobId } from '../schema/job-ids.js';
import { authenticateApiKey, bearerToken } from '../services/api-keys.js';
import type { ArtifactStore } from '../services/artifacts.js';
import { findJob } from '../services/jobs.js';
import type { KeyLimits } from './key-limits.js';

function fail(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify({ error: message }));
}

export async function serveOutput(
  req: IncomingMessage,
  res: ServerResponse,
  opts: { db: Db; artifacts: ArtifactStore; limits: KeyLimits; id: string },
): Promise<void> {
  const token = bearerToken(req.headers.authorization);
  const apiKey = token ? await authenticateApiKey(opts.db.pool, token) : null;
  if (!apiKey) return fail(res, 401, 'Send your API key as "Authorization: Bearer <key>".');
  const refusal = await opts.limits.admit(apiKey.id);
  if (refusal) {
    res.setHeader('retry-after', String(refusal.retryAfterSeconds));
    return fail(res, 429, refusal.message);
  }
  let decoded: ReturnType<typeof decodeJobId>;
  try {
    decoded = decodeJobId(opts.id, 'id');
  } catch {
    return fail(res, 404, 'No such output.');
  }
  const job = await findJob(opts.db.prisma, apiKey.id, decoded.id, decoded.model);
  if (!job?.outputKey || !job.outputMimeType) return fail(res, 404, 'No such output.');
  if (req.headers['if-none-match'] === `"${job.outputSha256}"`) {
    res.writeHead(304);
    res.end();
    return;
  }
  const stream = await opts.artifacts.open(job.outputKey);
  if (!stream) return fail(res, 404, 'The output file is missing from the artifact store.');
  res.writeHead(200, {
    'content-type': job.outputMimeType,
    'content-length': String(job.outputBytes ?? ''),
    etag: `"${job.outputSha256}"`,
    'cache-control': 'private, max-age=31536000, immutable',
  });
  stream.pipe(res);
  await new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
  });
}
