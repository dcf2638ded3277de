// creditSpend: charges over a time range, totalled per group.
import type { ModelKey } from '../models/types.js';
import { creditSpend, usage, type Spend, type SpendGroup, type SpendGrouping } from '../services/spend.js';
import { apiKeyGlobalId, targetKey } from './api-keys.js';
import { builder } from './builder.js';
import { badInput } from './errors.js';
import { JobModelEnum, JobStatusEnum } from './job-interface.js';
import { MoneyType } from './money.js';
import { UsageType } from './usage.js';

const SpendGroupingEnum = builder.enumType('SpendGrouping', {
  values: {
    MODEL: { description: 'Per model.' },
    DAY: { description: 'Per UTC calendar day of the charge.' },
    API_KEY: { description: 'Per API key (only your own unless you are an admin).' },
    STATUS: { description: 'Per final status of the job: COMPLETED, FAILED or CANCELED.' },
  },
});

const SpendGroupType = builder.objectRef<SpendGroup>('CreditSpendGroup').implement({
  description: 'One group: the values of the groupings asked for (null for those not asked for), its total and count.',
  fields: (t) => ({
    model: t.field({ type: JobModelEnum, nullable: true, resolve: (g) => g.model as ModelKey | null }),
    day: t.string({ nullable: true, description: 'YYYY-MM-DD (UTC).', resolve: (g) => g.day }),
    apiKeyId: t.id({ nullable: true, resolve: (g) => (g.apiKeyId ? apiKeyGlobalId(g.apiKeyId) : null) }),
    status: t.field({ type: JobStatusEnum, nullable: true, resolve: (g) => g.status }),
    total: t.field({ type: MoneyType, resolve: (g) => g.totalMicros }),
    count: t.int({ description: 'Charges (one per finished job, zero-amount ones included).', resolve: (g) => g.count }),
  }),
});

const SpendType = builder.objectRef<Spend & { from: Date; to: Date }>('CreditSpend').implement({
  fields: (t) => ({
    from: t.expose('from', { type: 'DateTime' }),
    to: t.expose('to', { type: 'DateTime' }),
    total: t.field({ type: MoneyType, resolve: (s) => s.totalMicros }),
    count: t.int({ resolve: (s) => s.count }),
    groups: t.field({ type: [SpendGroupType], description: 'Ordered by the grouping values; empty without groupBy.', resolve: (s) => s.groups }),
  }),
});

const MAX_RANGE_DAYS = 1_000;

builder.queryField('creditSpend', (t) =>
  t.field({
    type: SpendType,
    description:
      'Charges settled in [from, to) — one per finished job, from the append-only ledger — with their total and count, '
      + 'per group. Ordinary keys see their own charges; admin keys see every key, or one key with apiKey.',
    args: {
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime', required: true }),
      groupBy: t.arg({ type: [SpendGroupingEnum], required: true, defaultValue: [] }),
      apiKey: t.arg.id({ required: false, description: 'ApiKey.id; another key than your own needs an admin key.' }),
    },
    resolve: async (_root, args, ctx) => {
      if (args.to <= args.from) throw badInput('to', 'after-from', 'must be later than from');
      if (args.to.getTime() - args.from.getTime() > MAX_RANGE_DAYS * 86_400_000) {
        throw badInput('to', 'range', `the range may span at most ${MAX_RANGE_DAYS} days`);
      }
      const apiKeyId = args.apiKey || !ctx.apiKey.isAdmin ? await targetKey(ctx, args.apiKey, 'apiKey') : null;
      const spend = await creditSpend(ctx.db.pool, { from: args.from, to: args.to, groupBy: args.groupBy as SpendGrouping[], apiKeyId });
      return { ...spend, from: args.from, to: args.to };
    },
  }),
);

builder.queryField('usage', (t) =>
  t.field({
    type: UsageType,
    description: "Your key's spend, reservations and budgets; admin keys may name another key.",
    args: { apiKey: t.arg.id({ required: false }) },
    resolve: async (_root, args, ctx) => usage(ctx.db.pool, await targetKey(ctx, args.apiKey, 'apiKey')),
  }),
);
