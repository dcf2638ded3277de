import { createHash } from 'node:crypto';
import type { Job } from '../generated/prisma/client.js';
import { normaliseInput } from '../models/normalise.js';
import type { ModelSpec } from '../models/types.js';
import type { Context } from './context.js';
import type { ProviderName } from '../config.js';
import { BudgetExceeded, IdempotencyConflict, InvalidInput, UnsupportedOption } from './results.js';
import { unsupportedBy } from '../services/providers/index.js';
import { estimateCost } from '../services/pricing.js';
import { storeInlineImages } from '../services/input-artifacts.js';
import { createJob } from '../services/jobs.js';

export const IDEMPOTENCY_KEY_MAX = 255;

/** Stable JSON: object keys sorted, so the same request always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** sha256 of the model and a request as the client sent it (GraphQL defaults applied, before a seed is drawn). */
export function requestHash(spec: ModelSpec, request: unknown): string {
  return createHash('sha256').update(`${spec.key}\n${canonicalJson(request)}`).digest('hex');
}

export type SubmitResult = Job | InvalidInput | IdempotencyConflict | BudgetExceeded | UnsupportedOption;

/**
 * Validates and normalises a model input, then queues the job; bad input
 * creates nothing. With an idempotency key, a retry of the same request
 * (`request`, what the hash is taken of) returns the job the first one created.
 */
export async function submitJob(
  spec: ModelSpec,
  input: Record<string, unknown>,
  ctx: Context,
  opts: {
    idempotencyKey: unknown; idempotencyKeyField: string; request: unknown; rerunOfId?: string; path?: string;
    /** Runs the job; the configured default when left out. */
    provider?: ProviderName | null;
  },
): Promise<SubmitResult> {
  const key = opts.idempotencyKey;
  if (typeof key === 'string' && (key.length === 0 || key.length > IDEMPOTENCY_KEY_MAX)) {
    return new InvalidInput([{
      field: opts.idempotencyKeyField, rule: 'length', message: `idempotencyKey must be 1 to ${IDEMPOTENCY_KEY_MAX} characters`,
    }]);
  }
  const normalised = normaliseInput(spec, input, {
    maxImageBytes: ctx.config.limits.maxImageBytes, path: opts.path, storedImages: opts.rerunOfId !== undefined,
  });
  if (!normalised.ok) return new InvalidInput(normalised.violations);
  const provider = opts.provider ?? ctx.config.providers.default;
  const unsupported = unsupportedBy(provider, spec.key, normalised.value.params);
  if (unsupported.length > 0) return new UnsupportedOption(provider, unsupported);
  // Only now, when nothing refused the input: the job row keeps references, not the bytes.
  const params = await storeInlineImages(spec, normalised.value.params, ctx.artifacts);
  const outcome = await createJob(ctx.db, {
    apiKeyId: ctx.apiKey.id,
    spec,
    normalised: { ...normalised.value, params },
    provider,
    idempotency: typeof key === 'string' ? { key, requestHash: requestHash(spec, opts.request) } : undefined,
    rerunOfId: opts.rerunOfId,
    cost: estimateCost(ctx.config.prices, provider, spec.key, normalised.value.params),
  });
  if (outcome.kind === 'conflict') return new IdempotencyConflict(key as string, { id: outcome.jobId, model: outcome.model });
  if (outcome.kind === 'over-budget') {
    return new BudgetExceeded(outcome.period, outcome.limitMicros, outcome.remainingMicros, outcome.requiredMicros);
  }
  return outcome.job;
}

/** A create mutation. */
export function resolveCreateJob(spec: ModelSpec, input: Record<string, unknown>, ctx: Context): Promise<SubmitResult> {
  const { idempotencyKey, provider, ...params } = input;
  const request = provider === undefined || provider === null ? params : { ...params, provider };
  return submitJob(spec, params, ctx, {
    idempotencyKey, idempotencyKeyField: 'input.idempotencyKey', request, provider: provider as ProviderName | null | undefined,
  });
}
