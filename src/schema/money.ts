// Money on the API: exact micro-dollars as a decimal string (GraphQL's Int
// is 32-bit) beside the same amount in dollars, never a float.
import type { BudgetPeriod } from '../generated/prisma/enums.js';
import { formatUsd } from '../util/money.js';
import { builder } from './builder.js';

export const MoneyType = builder.objectRef<bigint>('Money').implement({
  description: 'An exact amount of US dollars.',
  fields: (t) => ({
    micros: t.string({ description: 'Millionths of a dollar, as an integer in a string: "65000" is $0.065.', resolve: (m) => m.toString() }),
    usd: t.string({ description: 'Dollars as a decimal string, e.g. "0.065".', resolve: (m) => formatUsd(m) }),
    currency: t.string({ resolve: () => 'USD' }),
  }),
});

export const BudgetPeriodEnum = builder.enumType('BudgetPeriod', {
  values: {
    MONTH: { description: 'The calendar month (UTC): charges this month plus reservations of unfinished jobs.' },
    TOTAL: { description: 'All time: every charge plus reservations of unfinished jobs.' },
  } satisfies Record<BudgetPeriod, { description: string }>,
});
