// What a resolver answers when the client must branch: each class is one
// member of a mutation's result union (their GraphQL types are in
// src/schema/errors.ts). Kept here so resolvers never import the schema.
import type { BudgetPeriod } from '../generated/prisma/enums.js';
import type { Violation } from '../models/normalise.js';
import { formatUsd } from '../util/money.js';

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

export class NotFinished {
  constructor(
    readonly id: string,
    readonly status: string,
  ) {}
  get message(): string {
    return `The job is still ${this.status}: cancel it (cancelJob) or wait until it finishes, then delete it.`;
  }
}

/** A job whose images were erased (deleted, or past IMAGE_RETENTION_DAYS) cannot be rerun: its inputs are gone. */
export class JobErased {
  constructor(
    readonly id: string,
    readonly deletedAt: Date | null,
    readonly imagesErasedAt: Date,
  ) {}
  get message(): string {
    return this.deletedAt
      ? 'The job was deleted: its images are erased, so it cannot be rerun; nothing was created.'
      : 'The job\'s images were erased (IMAGE_RETENTION_DAYS), so it cannot be rerun; nothing was created.';
  }
}

export class BudgetExceeded {
  constructor(
    readonly period: BudgetPeriod,
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
