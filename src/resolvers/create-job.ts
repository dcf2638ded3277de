import type { Job } from '../generated/prisma/client.js';
import { normaliseInput } from '../models/normalise.js';
import type { ModelSpec } from '../models/types.js';
import type { Context } from '../schema/context.js';
import { InvalidInput } from '../schema/errors.js';
import { createJob } from '../services/jobs.js';

/** A create mutation: validate and normalise the input, then queue the job; bad input creates nothing. */
export async function resolveCreateJob(
  spec: ModelSpec,
  input: Record<string, unknown>,
  ctx: Context,
): Promise<Job | InvalidInput> {
  const normalised = normaliseInput(spec, input, { maxImageBytes: ctx.config.limits.maxImageBytes });
  if (!normalised.ok) return new InvalidInput(normalised.violations);
  return createJob(ctx.db, {
    apiKeyId: ctx.apiKey.id,
    spec,
    normalised: normalised.value,
    provider: ctx.providerName,
  });
}
