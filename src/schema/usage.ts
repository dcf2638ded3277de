// Usage and budgets of one key, and the cost of each job.
import type { BudgetState, Usage } from '../services/spend.js';
import { builder } from './builder.js';
import { SwapJob } from './job-interface.js';
import { BudgetPeriodEnum, MoneyType } from './money.js';

const BudgetType = builder.objectRef<BudgetState>('Budget').implement({
  description: "A cap on a key's committed spend.",
  fields: (t) => ({
    period: t.field({ type: BudgetPeriodEnum, resolve: (b) => b.period }),
    limit: t.field({ type: MoneyType, resolve: (b) => b.limitMicros }),
    committed: t.field({ type: MoneyType, description: 'Charges in the period plus reservations of unfinished jobs.', resolve: (b) => b.committedMicros }),
    remaining: t.field({ type: MoneyType, resolve: (b) => b.remainingMicros }),
  }),
});

export const UsageType = builder.objectRef<Usage>('Usage').implement({
  description: "A key's spend. Charges are settled when jobs finish; unfinished jobs hold a reservation of their estimate.",
  fields: (t) => ({
    spentThisMonth: t.field({ type: MoneyType, description: 'Charges this calendar month (UTC).', resolve: (u) => u.spentThisMonthMicros }),
    spentTotal: t.field({ type: MoneyType, description: 'All charges ever.', resolve: (u) => u.spentTotalMicros }),
    reserved: t.field({ type: MoneyType, description: 'Estimates of jobs not finished yet.', resolve: (u) => u.reservedMicros }),
    jobsThisMonth: t.int({ resolve: (u) => u.jobsThisMonth }),
    budgets: t.field({ type: [BudgetType], resolve: (u) => u.budgets }),
  }),
});

interface JobCostShape {
  estimatedMicros: bigint;
  chargedMicros: bigint | null;
  jobId: string;
}

const JobCost = builder.objectRef<JobCostShape>('JobCost').implement({
  description: 'What a job costs: its estimate from the price table when created, its charge when it finished.',
  fields: (t) => ({
    estimated: t.field({ type: MoneyType, description: 'Reserved against budgets while the job runs.', resolve: (c) => c.estimatedMicros }),
    charged: t.field({
      type: MoneyType,
      nullable: true,
      description:
        'Settled when the job finished (null before): the estimate when completed or when the upstream may have run it '
        + '(UPSTREAM_OUTCOME_UNKNOWN, TIMEOUT, canceled after sending); the failure price (default 0) for other failures; '
        + '0 when canceled before sending.',
      resolve: (c) => c.chargedMicros,
    }),
    upstreamCreditsRemaining: t.field({
      type: MoneyType,
      nullable: true,
      description: "The upstream account's remaining credits read right after the job completed, for reconciliation; "
        + 'null when not read (yet: the reading follows the completion by an upstream call).',
      resolve: async (c, _a, ctx) => {
        if (c.chargedMicros === null) return null;
        const reading = await ctx.db.prisma.upstreamCreditReading.findUnique({ where: { jobId: c.jobId }, select: { creditsMicros: true } });
        return reading?.creditsMicros ?? null;
      },
    }),
  }),
});

builder.prismaInterfaceFields(SwapJob, (t) => ({
  cost: t.field({
    type: JobCost,
    resolve: (job) => ({ estimatedMicros: job.estimatedMicros, chargedMicros: job.chargedMicros, jobId: job.id }),
  }),
}));
