// rerunJob: a new job with the original's stored normalised parameters and
// seed, changing only the overrides given, linked to the original.
import type { ProviderName } from '../config.js';
import { MODELS } from '../models/registry.js';
import type { ModelSpec } from '../models/types.js';
import type { Context } from './context.js';
import { InvalidInput, JobErased, NotFound } from './results.js';
import { decodeJobId } from '../models/job-ids.js';
import { findJob } from '../services/jobs.js';
import { submitJob, type SubmitResult } from './create-job.js';

/** The overrides field of a model, e.g. faceswapV4 for FaceswapV4. */
export function overridesFieldName(spec: ModelSpec): string {
  return spec.graphqlName[0]!.toLowerCase() + spec.graphqlName.slice(1);
}

/** A stored job's wire parameters as the model's GraphQL input. */
function inputFromParams(spec: ModelSpec, params: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(spec.params.filter((p) => p.wire in params).map((p) => [p.name, params[p.wire]]));
}

export async function resolveRerunJob(
  ctx: Context,
  args: {
    id: string; overrides?: Record<string, Record<string, unknown> | null | undefined> | null; idempotencyKey?: string | null;
    provider?: ProviderName | null;
  },
): Promise<SubmitResult | NotFound | JobErased> {
  let decoded: ReturnType<typeof decodeJobId>;
  try {
    decoded = decodeJobId(args.id, 'id');
  } catch {
    return new InvalidInput([{ field: 'id', rule: 'global-id', message: 'id is not a job id' }]);
  }
  const original = await findJob(ctx.db.prisma, ctx.apiKey.id, decoded.id, decoded.model);
  if (!original) return new NotFound(args.id);
  if (original.imagesErasedAt) return new JobErased(args.id, original.deletedAt, original.imagesErasedAt);
  const spec = MODELS.find((m) => m.key === original.model)!;
  const ownField = overridesFieldName(spec);

  const given = Object.entries(args.overrides ?? {}).filter(([, v]) => v !== null && v !== undefined);
  const foreign = given.filter(([field]) => field !== ownField);
  if (foreign.length > 0) {
    return new InvalidInput(foreign.map(([field]) => ({
      field: `overrides.${field}`,
      rule: 'model',
      message: `the job is a ${spec.graphqlName}Job: only overrides.${ownField} applies`,
    })));
  }
  const overrides = Object.fromEntries(
    Object.entries((given[0]?.[1] ?? {}) as Record<string, unknown>).filter(([, v]) => v !== null && v !== undefined),
  );
  const input = { ...inputFromParams(spec, original.params as Record<string, unknown>), ...overrides };
  return submitJob(spec, input, ctx, {
    idempotencyKey: args.idempotencyKey,
    idempotencyKeyField: 'idempotencyKey',
    request: { rerunOf: original.id, overrides, provider: args.provider ?? undefined },
    rerunOfId: original.id,
    provider: args.provider ?? (original.provider as ProviderName),
    path: `overrides.${ownField}`,
  });
}
