// Builds a model's GraphQL surface from its spec: the job type with its typed
// parameters, the create input with every documented default, the result
// union, and the create mutation.
import type { InputFieldRef } from '@pothos/core';
import type { EnumParam, ModelSpec, ParamSpec } from '../models/types.js';
import { SEED_MAX, SEED_MIN } from '../models/types.js';
import { resolveCreateJob } from '../resolvers/create-job.js';
import { builder } from './builder.js';
import { resultUnion } from './result-union.js';
import {
  BudgetExceeded, BudgetExceededError, IdempotencyConflict, IdempotencyConflictError, InvalidInput, InvalidInputError,
  UnsupportedOption, UnsupportedOptionError,
} from './errors.js';
import { ProviderEnum } from './providers.js';
import type { Context } from '../resolvers/context.js';
import { imageInput, ImageInputType } from './image-inputs.js';
import { SwapJob } from './job-interface.js';
import { jobParams, JOB_ROW_SELECT } from '../resolvers/job-rows-select.js';

// Enums shared by several models (ImageFormat, GenderFilter) are built once.
const enumRefs = new Map<string, ReturnType<typeof buildEnum>>();

function buildEnum(p: EnumParam) {
  return builder.enumType(p.enumName, {
    values: Object.fromEntries(
      Object.entries(p.values).map(([name, wire]) => [name, { value: wire, description: `"${wire}" on the wire` }]),
    ),
  });
}

function enumRef(p: EnumParam) {
  let ref = enumRefs.get(p.enumName);
  if (!ref) enumRefs.set(p.enumName, (ref = buildEnum(p)));
  return ref;
}

function ruleText(p: ParamSpec): string {
  switch (p.kind) {
    case 'int':
    case 'float':
      return p.min !== undefined && p.max !== undefined ? ` Range ${p.min}–${p.max}.` : '';
    case 'seed':
      return ` Range ${SEED_MIN}–${SEED_MAX}.`;
    case 'string':
      return ` At most ${p.maxLength} characters.`;
    case 'image':
      return ' An http(s) URL, a data: URI or base64.';
    default:
      return '';
  }
}

type AnyInputFields = Record<string, InputFieldRef<any, 'InputObject'>>;

function inputField(t: any, p: ParamSpec): InputFieldRef<any, 'InputObject'> {
  const description = `${p.description}${ruleText(p)} Upstream field: ${p.wire}.`;
  switch (p.kind) {
    case 'image':
      return p.required
        ? t.string({ required: true, description })
        : t.string({ required: false, description: p.default ? `${description} Default: the vendor sample.` : description });
    case 'enum':
      return t.field({ type: enumRef(p), required: true, defaultValue: p.default, description });
    case 'int':
      return t.int({ required: p.default !== undefined, defaultValue: p.default, description });
    case 'float':
      return t.float({ required: p.default !== undefined, defaultValue: p.default, description });
    case 'seed':
      return t.int({ required: false, description });
    case 'boolean':
      return t.boolean({ required: true, defaultValue: p.default, description });
    case 'string':
    case 'faceIndexList':
      return t.string({ required: true, defaultValue: p.default, description });
  }
}

/** In a rerun's overrides every field is optional and has no default: what is left out keeps the original's value. */
function overrideField(t: any, p: ParamSpec): InputFieldRef<any, 'InputObject'> {
  const description = `${p.description}${ruleText(p)} Left out: the original job's value.`;
  switch (p.kind) {
    case 'image':
    case 'string':
    case 'faceIndexList':
      return t.string({ required: false, description });
    case 'enum':
      return t.field({ type: enumRef(p), required: false, description });
    case 'int':
    case 'seed':
      return t.int({ required: false, description });
    case 'float':
      return t.float({ required: false, description });
    case 'boolean':
      return t.boolean({ required: false, description });
  }
}

function outputField(t: any, p: ParamSpec) {
  const resolve = async (job: { id: string }, _args: unknown, ctx: Context) => (await jobParams(ctx, job))[p.wire] ?? null;
  const description = `${p.description} Upstream field: ${p.wire}.`;
  switch (p.kind) {
    case 'image':
      return t.field({
        type: ImageInputType,
        // Null also once the job's images are erased (deleteJob, IMAGE_RETENTION_DAYS).
        nullable: true,
        description,
        resolve: async (job: { id: string; model: string }, _args: unknown, ctx: Context) =>
          imageInput(await resolve(job, _args, ctx), p, job, ctx.publicUrl),
      });
    case 'enum':
      return t.field({ type: enumRef(p), description, resolve });
    case 'int':
      return t.int({ nullable: p.default === undefined, description, resolve });
    case 'seed':
      // Nullable as SwapJob.seed is (models without a seed have none): a field whose type
      // differs between an interface and its implementation cannot be selected on both
      // in one query ("Fields "seed" conflict").
      return t.int({ nullable: true, description, resolve });
    case 'float':
      return t.float({ nullable: p.default === undefined, description, resolve });
    case 'boolean':
      return t.boolean({ description, resolve });
    case 'string':
    case 'faceIndexList':
      return t.string({ description, resolve });
  }
}

export function defineModelSchema(spec: ModelSpec) {
  const jobType = builder.prismaNode('Job', {
    variant: `${spec.graphqlName}Job`,
    description: `A job of model ${spec.slug}. ${spec.description}`,
    interfaces: [SwapJob],
    select: JOB_ROW_SELECT,
    id: { field: 'id' },
    nullable: true,
    // node(id) sees only the caller's jobs, and only of this model.
    findUnique: (id, ctx) => ({ id, apiKeyId: ctx.apiKey.id, model: spec.key }),
    fields: (t) => Object.fromEntries(spec.params.map((p) => [p.name, outputField(t, p)])),
  });

  const input = builder.inputType(`Create${spec.graphqlName}JobInput`, {
    description: `Parameters of a ${spec.slug} job; defaults are the vendor's.`,
    fields: (t) => ({
      ...(Object.fromEntries(spec.params.map((p) => [p.name, inputField(t, p)])) as AnyInputFields),
      provider: t.field({
        type: ProviderEnum,
        required: false,
        description: 'Where the job runs; left out: SWAPYARD_PROVIDER (LOCAL on an install without a Segmind key). Recorded on the job.',
      }),
      idempotencyKey: t.string({
        required: false,
        description:
          'Makes the mutation safe to retry: the same key with the same input returns the job the first call created; '
          + 'with different input it is an IdempotencyConflictError. At most 255 characters, scoped to your API key.',
      }),
    }),
  });

  const result = resultUnion(`${spec.graphqlName}Result`, {
    description: `The created ${spec.graphqlName}Job, or why nothing was created.`,
    members: [
      [InvalidInput, InvalidInputError], [IdempotencyConflict, IdempotencyConflictError],
      [BudgetExceeded, BudgetExceededError], [UnsupportedOption, UnsupportedOptionError],
    ],
    others: { types: [jobType], resolve: () => jobType },
  });

  builder.mutationField(`create${spec.graphqlName}Job`, (t) =>
    t.field({
      type: result,
      description: `Queue a ${spec.slug} job. ${spec.description}`,
      args: { input: t.arg({ type: input, required: true }) },
      resolve: (_root, args, ctx) => resolveCreateJob(spec, args.input as Record<string, unknown>, ctx) as never,
    }),
  );

  const overrides = builder.inputType(`${spec.graphqlName}Overrides`, {
    description: `What a rerun of a ${spec.graphqlName}Job changes; everything else, seed included, is the original's.`,
    fields: (t) => Object.fromEntries(spec.params.map((p) => [p.name, overrideField(t, p)])) as AnyInputFields,
  });

  return { spec, jobType, input, result, overrides };
}
