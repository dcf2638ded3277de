// Reruns: rerunJob, and the lineage and reproducibility of a job.
import type { Job } from '../generated/prisma/client.js';
import { overridesFieldName, resolveRerunJob } from '../resolvers/rerun-job.js';
import { canonicalJson } from '../resolvers/create-job.js';
import { builder } from './builder.js';
import { resultUnion } from './result-union.js';
import {
  BudgetExceeded, BudgetExceededError, JobErased, JobErasedError, IdempotencyConflict, IdempotencyConflictError, InvalidInput, InvalidInputError, NotFound, NotFoundError,
  UnsupportedOption, UnsupportedOptionError,
} from './errors.js';
import { ProviderEnum } from './providers.js';
import { SwapJob } from './job-interface.js';
import { jobParams } from '../resolvers/job-rows-select.js';
import type { defineModelSchema } from './model-types.js';

type ModelSchema = ReturnType<typeof defineModelSchema>;

export type Reproducibility = 'REPRODUCED' | 'NOT_REPRODUCED' | 'UNKNOWN';

/**
 * For a rerun with the original's exact parameters: whether both outputs have
 * the same sha256, UNKNOWN until both exist; null for any other job.
 */
type Compared = Pick<Job, 'params' | 'outputSha256'>;

export async function reproducibility(
  job: Compared & Pick<Job, 'rerunOfId'>,
  loadOriginal: () => Promise<Compared | null>,
): Promise<Reproducibility | null> {
  if (!job.rerunOfId) return null;
  const original = await loadOriginal();
  if (!original || canonicalJson(original.params) !== canonicalJson(job.params)) return null;
  if (!job.outputSha256 || !original.outputSha256) return 'UNKNOWN';
  return job.outputSha256 === original.outputSha256 ? 'REPRODUCED' : 'NOT_REPRODUCED';
}

const ReproducibilityEnum = builder.enumType('Reproducibility', {
  values: {
    REPRODUCED: { description: "The rerun's output has the original's sha256." },
    NOT_REPRODUCED: { description: 'Both finished with different outputs.' },
    UNKNOWN: { description: 'The rerun or the original has no output (yet): still running, or failed.' },
  },
});

export function defineRerunSchema(models: ModelSchema[]): void {
  const RerunOverrides = builder.inputType('RerunOverrides', {
    description: "Overrides for a rerun: set only the field of the original job's model.",
    fields: (t) => Object.fromEntries(models.map((m) => [overridesFieldName(m.spec), t.field({ type: m.overrides, required: false })])),
  });

  const RerunJobResult = resultUnion('RerunJobResult', {
    description: 'The new job, or why nothing was created.',
    members: [
      [InvalidInput, InvalidInputError], [NotFound, NotFoundError], [IdempotencyConflict, IdempotencyConflictError],
      [BudgetExceeded, BudgetExceededError], [UnsupportedOption, UnsupportedOptionError], [JobErased, JobErasedError],
    ],
    others: { types: models.map((m) => m.jobType), resolve: (v) => models.find((m) => m.spec.key === (v as Job).model)!.jobType },
  });

  builder.mutationField('rerunJob', (t) =>
    t.field({
      type: RerunJobResult,
      description:
        "Run a job again with the original's stored normalised parameters and seed, changing only the overrides given. "
        + 'The new job links to the original (rerunOf / reruns).',
      args: {
        id: t.arg.id({ required: true }),
        overrides: t.arg({ type: RerunOverrides, required: false }),
        idempotencyKey: t.arg.string({ required: false }),
        provider: t.arg({ type: ProviderEnum, required: false, description: "Where the rerun runs; left out: the original's provider." }),
      },
      resolve: (_root, args, ctx) => resolveRerunJob(ctx, args as never) as never,
    }),
  );

  builder.prismaInterfaceFields(SwapJob, (t) => ({
    rerunOf: t.relation('rerunOf', { nullable: true, description: 'The job this one reruns.' }),
    reruns: t.relation('reruns', { description: 'Reruns of this job, oldest first.', query: { orderBy: { createdAt: 'asc' } } }),
    reproducibility: t.field({
      type: ReproducibilityEnum,
      nullable: true,
      description:
        "For a rerun with the original's exact parameters (no overrides): whether its output's sha256 equals the original's. "
        + 'Null for jobs that are not such a rerun.',
      resolve: async (job, _args, ctx) => {
        if (!job.rerunOfId) return null;
        const compared = { params: await jobParams(ctx, job) as Job['params'], outputSha256: job.outputSha256, rerunOfId: job.rerunOfId };
        return reproducibility(compared, () =>
          ctx.db.prisma.job.findUnique({ where: { id: job.rerunOfId! }, select: { params: true, outputSha256: true } }));
      },
    }),
  }));
}
