// Errors the client must branch on are data: members of each mutation's
// result union, all implementing UserError. Errors of a malformed request are
// GraphQL errors (request-errors.ts).
import type { Violation } from '../models/normalise.js';
import { builder } from './builder.js';
import { jobGlobalId } from './job-ids.js';
import { BudgetPeriodEnum, MoneyType } from './money.js';
import { ProviderEnum } from './providers.js';
import { formatUsd } from '../services/money.js';

export class InvalidInput {
  constructor(readonly violations: Violation[]) {}
  get message(): string {
    return this.violations.map((v) => `${v.field}: ${v.message}`).join('; ');
  }
}

export class NotFound {
  constructor(readonly id: string) {}
  readonly message = 'No job with this id exists for this API key.';
}

export class IdempotencyConflict {
  constructor(
    readonly idempotencyKey: string,
    readonly job: { id: string; model: string },
  ) {}
  readonly message = 'This idempotencyKey was already used with a different request; nothing was created.';
}

export class NotCancelable {
  constructor(
    readonly id: string,
    readonly status: string,
  ) {}
  get message(): string {
    return `The job is already ${this.status} and cannot be canceled.`;
  }
}

export class BudgetExceeded {
  constructor(
    readonly period: 'MONTH' | 'TOTAL',
    readonly limitMicros: bigint,
    readonly remainingMicros: bigint,
    readonly requiredMicros: bigint,
  ) {}
  get message(): string {
    return `The job would cost $${formatUsd(this.requiredMicros)} but the ${this.period} budget has $${formatUsd(this.remainingMicros)} left `
      + `of $${formatUsd(this.limitMicros)}; nothing was created.`;
  }
}

export class UnsupportedOption {
  constructor(
    readonly provider: string,
    readonly options: ReadonlyArray<{ option: string; value: unknown; reason: string }>,
  ) {}
  get message(): string {
    const first = this.options[0]!;
    return `The ${this.provider} provider cannot honour ${first.option} = ${String(first.value)}: ${first.reason}; nothing was created.`;
  }
}

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

export { badInput, notFoundError } from './request-errors.js';
