import { createHash } from 'node:crypto';
import type { Job } from '../generated/prisma/client.js';
import { normaliseInput } from '../models/normalise.js';
import type { ModelSpec } from '../models/types.js';
import type { Context } from '../schema/context.js';
import { IdempotencyConflict, InvalidInput } from '../schema/errors.js';
import { createJob } from '../services/jobs.js';

export const IDEMPOTENCY_KEY_MAX = 255;

/** Stable JSON: object keys sorted, so the same request always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * The request as the client sent it (GraphQL defaults applied, before the
 * server draws a seed), so a retry hashes like the original.
 */
export function requestHash(spec: ModelSpec, input: Record<string, unknown>): string {
  const { idempotencyKey: _key, ...rest } = input;
  return createHash('sha256').update(`${spec.key}\n${canonical(rest)}`).digest('hex');
}

/**
 * A create mutation: validate and normalise the input, then queue the job;
 * bad input creates nothing. With an idempotencyKey, a retry of the same
 * request returns the job the first one created.
 */
export async function resolveCreateJob(
  spec: ModelSpec,
  input: Record<string, unknown>,
  ctx: Context,
): Promise<Job | InvalidInput | IdempotencyConflict> {
  const key = input.idempotencyKey;
  if (typeof key === 'string' && (key.length === 0 || key.length > IDEMPOTENCY_KEY_MAX)) {
    return new InvalidInput([{
      field: 'input.idempotencyKey', rule: 'length', message: `idempotencyKey must be 1 to ${IDEMPOTENCY_KEY_MAX} characters`,
    }]);
  }
  const normalised = normaliseInput(spec, input, { maxImageBytes: ctx.config.limits.maxImageBytes });
  if (!normalised.ok) return new InvalidInput(normalised.violations);
  const outcome = await createJob(ctx.db, {
    apiKeyId: ctx.apiKey.id,
    spec,
    normalised: normalised.value,
    provider: ctx.providerName,
    idempotency: typeof key === 'string' ? { key, requestHash: requestHash(spec, input) } : undefined,
  });
  if (outcome.kind === 'conflict') return new IdempotencyConflict(key as string, { id: outcome.jobId, model: outcome.model });
  return outcome.job;
}
