// Errors the client must branch on are data: members of each mutation's
// result union, all implementing UserError. Errors of a malformed request are
// GraphQL errors (src/util/request-errors.ts). The classes themselves are in
// src/resolvers/results.ts, where resolvers create them.
import { jobGlobalId } from '../models/job-ids.js';
import type { Violation } from '../models/normalise.js';
import { builder } from './builder.js';
import { BudgetPeriodEnum, MoneyType } from './money.js';
import { ProviderEnum } from './providers.js';
import { BudgetExceeded, IdempotencyConflict, InvalidInput, JobErased, NotCancelable, NotFinished, NotFound, UnsupportedOption } from '../resolvers/results.js';

export const UserError = builder.interfaceRef<{ message: string }>('UserError').implement({
  description: 'A problem the client can fix or branch on.',
  fields: (t) => ({ message: t.exposeString('message') }),
});

const FieldViolation = builder.objectRef<Violation>('FieldViolation').implement({
  description: 'One broken rule of one input field.',
  fields: (t) => ({
    field: t.exposeString('field', { description: 'Path of the input field, e.g. "input.imageQuality".' }),
    rule: t.exposeString('rule', { description: 'The rule it broke, e.g. "range", "enum", "image-uri".' }),
    message: t.exposeString('message'),
  }),
});

export const InvalidInputError = builder.objectType(InvalidInput, {
  name: 'InvalidInputError',
  description: 'The input broke one or more rules; nothing was created.',
  interfaces: [UserError],
  fields: (t) => ({
    field: t.string({ description: 'The first offending field.', resolve: (e) => e.violations[0]!.field }),
    rule: t.string({ description: 'The rule the first offending field broke.', resolve: (e) => e.violations[0]!.rule }),
    violations: t.field({ type: [FieldViolation], resolve: (e) => e.violations }),
  }),
});

export const IdempotencyConflictError = builder.objectType(IdempotencyConflict, {
  name: 'IdempotencyConflictError',
  description: 'The idempotencyKey was used before with a different request. Use a new key for a new request.',
  interfaces: [UserError],
  fields: (t) => ({
    idempotencyKey: t.exposeString('idempotencyKey'),
    jobId: t.id({ description: 'The job the key was first used for.', resolve: (e) => jobGlobalId(e.job) }),
  }),
});

export const BudgetExceededError = builder.objectType(BudgetExceeded, {
  name: 'BudgetExceededError',
  description: "The job's estimated cost is more than a budget of the API key has left; nothing was created.",
  interfaces: [UserError],
  fields: (t) => ({
    period: t.field({ type: BudgetPeriodEnum, resolve: (e) => e.period }),
    limit: t.field({ type: MoneyType, resolve: (e) => e.limitMicros }),
    remaining: t.field({ type: MoneyType, description: 'What the budget has left after charges and reservations.', resolve: (e) => e.remainingMicros }),
    required: t.field({ type: MoneyType, description: "The job's estimated cost.", resolve: (e) => e.requiredMicros }),
  }),
});

const UnsupportedOptionDetail = builder.objectRef<{ option: string; value: unknown; reason: string }>('UnsupportedOptionDetail').implement({
  fields: (t) => ({
    option: t.string({ description: 'The upstream field name, or "model" when the provider cannot run the model at all.', resolve: (o) => o.option }),
    value: t.string({ resolve: (o) => String(o.value) }),
    reason: t.string({ resolve: (o) => o.reason }),
  }),
});

export const UnsupportedOptionError = builder.objectType(UnsupportedOption, {
  name: 'UnsupportedOptionError',
  description: 'The chosen provider cannot honour an option (or the model) of this job; nothing was created. Options are never silently dropped.',
  interfaces: [UserError],
  fields: (t) => ({
    provider: t.field({ type: ProviderEnum, resolve: (e) => e.provider as 'segmind' | 'local' }),
    option: t.string({ description: 'The first option refused.', resolve: (e) => e.options[0]!.option }),
    options: t.field({ type: [UnsupportedOptionDetail], description: 'Every option refused.', resolve: (e) => e.options }),
  }),
});

export const NotFoundError = builder.objectType(NotFound, {
  name: 'NotFoundError',
  description: 'No job with this id belongs to the calling API key.',
  interfaces: [UserError],
  fields: (t) => ({ id: t.exposeID('id') }),
});

export const JobNotCancelableError = builder.objectType(NotCancelable, {
  name: 'JobNotCancelableError',
  description: 'The job already reached a final status.',
  interfaces: [UserError],
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.exposeString('status'),
  }),
});

export const JobNotFinishedError = builder.objectType(NotFinished, {
  name: 'JobNotFinishedError',
  description: 'The job is still running; only finished jobs (COMPLETED, FAILED, CANCELED) can be deleted.',
  interfaces: [UserError],
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.exposeString('status'),
  }),
});

export const JobErasedError = builder.objectType(JobErased, {
  name: 'JobErasedError',
  description: "The job's images were erased (it was deleted, or they passed IMAGE_RETENTION_DAYS), so it cannot be rerun.",
  interfaces: [UserError],
  fields: (t) => ({
    id: t.exposeID('id'),
    deletedAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.deletedAt }),
    imagesErasedAt: t.field({ type: 'DateTime', resolve: (e) => e.imagesErasedAt }),
  }),
});

export { BudgetExceeded, IdempotencyConflict, InvalidInput, JobErased, NotCancelable, NotFinished, NotFound, UnsupportedOption };
export { badInput, notFoundError } from '../util/request-errors.js';
