// The upstream account's balance, for admins reconciling the ledger with the
// vendor: the latest reading, or a fresh one on demand (throttled per account,
// src/services/credit-readings.ts).
import { balanceOnDemand, type CreditBalance } from '../services/credit-readings.js';
import { forbidden } from './api-keys.js';
import { builder } from './builder.js';
import { MoneyType } from './money.js';

/** A reading's own deadline: the query waits for it. */
const READING_TIMEOUT_MS = 5_000;

const UpstreamCreditsType = builder.objectRef<CreditBalance>('UpstreamCredits').implement({
  description: "The upstream account's remaining credits (paid and free), as the vendor reported them.",
  fields: (t) => ({
    credits: t.field({ type: MoneyType, resolve: (b) => b.creditsMicros }),
    readAt: t.field({ type: 'DateTime', resolve: (b) => b.readAt }),
  }),
});

builder.queryField('upstreamCredits', (t) =>
  t.field({
    type: UpstreamCreditsType,
    nullable: true,
    description:
      "The upstream account's balance (admin keys only): the latest reading, or with refresh: true one read now, "
      + 'unless an on-demand reading was taken within UPSTREAM_CREDIT_READING_INTERVAL_MS (then the latest). '
      + 'Null when no reading was ever taken.',
    args: { refresh: t.arg.boolean({ required: false, defaultValue: false }) },
    resolve: async (_root, args, ctx) => {
      if (!ctx.apiKey.isAdmin) throw forbidden('upstreamCredits', 'only admin keys can read the upstream balance');
      if (!ctx.upstream) return null;
      return balanceOnDemand(ctx.db.pool, ctx.upstream, {
        refresh: args.refresh ?? false,
        intervalMs: ctx.config.upstream.creditReadingIntervalMs,
        signal: AbortSignal.timeout(READING_TIMEOUT_MS),
      });
    },
  }),
);
