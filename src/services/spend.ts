// Credit spend, usage and budgets, read from the ledger (one settlement per
// finished job) and the jobs' reservations. Every figure is an exact bigint
// sum computed by PostgreSQL.
import type pg from 'pg';
import type { JobStatus } from './job-status.js';

export type SpendGrouping = 'MODEL' | 'DAY' | 'API_KEY' | 'STATUS';
export type { BudgetPeriod } from '../generated/prisma/enums.js';
import type { BudgetPeriod } from '../generated/prisma/enums.js';

/** Each grouping's SQL expression over the charges c (below); DAY is the UTC calendar day of the charge. */
const GROUP_SQL: Record<SpendGrouping, string> = {
  MODEL: 'c.model',
  DAY: `to_char(c.day, 'YYYY-MM-DD')`,
  API_KEY: 'c.api_key_id::text',
  STATUS: 'c.status::text',
};

const DAY_MS = 86_400_000;
const GROUP_COLUMN: Record<SpendGrouping, keyof SpendGroup> = { MODEL: 'model', DAY: 'day', API_KEY: 'apiKeyId', STATUS: 'status' };

export interface SpendQuery {
  from: Date;
  to: Date;
  groupBy: readonly SpendGrouping[];
  /** Only this key's charges; null for every key (admins). */
  apiKeyId: string | null;
}

export interface SpendGroup {
  model: string | null;
  day: string | null;
  apiKeyId: string | null;
  status: JobStatus | null;
  totalMicros: bigint;
  count: number;
}

export interface Spend {
  totalMicros: bigint;
  count: number;
  groups: SpendGroup[];
}

/**
 * Charges settled in [from, to), totalled per group (ordered by the group
 * values) and overall. Whole UTC days come from the ledger_daily rollup and
 * only the partial days at either end from the ledger itself, so the cost
 * follows the number of days and groups, not of charges.
 */
export async function creditSpend(pool: pg.Pool, q: SpendQuery): Promise<Spend> {
  const groupBy = [...new Set(q.groupBy)];
  const exprs = groupBy.map((g) => GROUP_SQL[g]);
  const select = groupBy.map((g, i) => `${exprs[i]} AS "${GROUP_COLUMN[g]}"`);
  // [fullFrom, fullTo): the whole days inside the range; empty when there are none.
  let fullFrom = new Date(Math.ceil(q.from.getTime() / DAY_MS) * DAY_MS);
  let fullTo = new Date(Math.floor(q.to.getTime() / DAY_MS) * DAY_MS);
  if (fullFrom >= fullTo) fullFrom = fullTo = q.to;
  const params: unknown[] = [q.from, q.to, fullFrom, fullTo];
  let ledgerKey = '';
  let dailyKey = '';
  if (q.apiKeyId) {
    params.push(q.apiKeyId);
    ledgerKey = ` AND l.api_key_id = $${params.length}`;
    dailyKey = ` AND d.api_key_id = $${params.length}`;
  }
  const { rows } = await pool.query<Record<string, string | number | null>>(
    `WITH c AS (
       SELECT (l.created_at AT TIME ZONE 'UTC')::date AS day, l.api_key_id, l.model, l.status, 1::bigint AS n, l.amount_micros AS micros
       FROM ledger_entries l
       WHERE ((l.created_at >= $1 AND l.created_at < $3) OR (l.created_at >= $4 AND l.created_at < $2))${ledgerKey}
       UNION ALL
       SELECT d.day, d.api_key_id, d.model, d.status, d.entries, d.amount_micros
       FROM ledger_daily d
       WHERE d.day >= ($3::timestamptz AT TIME ZONE 'UTC')::date AND d.day < ($4::timestamptz AT TIME ZONE 'UTC')::date${dailyKey}
     )
     SELECT ${[...select, 'sum(c.micros)::text AS micros', 'sum(c.n)::int AS n'].join(', ')}
     FROM c
     ${groupBy.length ? `GROUP BY ${exprs.join(', ')} ORDER BY ${exprs.join(', ')}` : ''}`,
    params,
  );
  const groups: SpendGroup[] = rows
    .filter((r) => ((r.n as number | null) ?? 0) > 0)
    .map((r) => ({
      model: (r.model as string | undefined) ?? null,
      day: (r.day as string | undefined) ?? null,
      apiKeyId: (r.apiKeyId as string | undefined) ?? null,
      status: (r.status as JobStatus | undefined) ?? null,
      totalMicros: BigInt((r.micros as string | null) ?? '0'),
      count: r.n as number,
    }));
  return {
    totalMicros: groups.reduce((sum, g) => sum + g.totalMicros, 0n),
    count: groups.reduce((sum, g) => sum + g.count, 0),
    groups: groupBy.length ? groups : [],
  };
}

export interface BudgetState {
  period: BudgetPeriod;
  limitMicros: bigint;
  /** Charges in the period plus reservations of unsettled jobs. */
  committedMicros: bigint;
  remainingMicros: bigint;
}

export interface Usage {
  apiKeyId: string;
  spentThisMonthMicros: bigint;
  spentTotalMicros: bigint;
  /** Estimates of the key's jobs that have not finished yet. */
  reservedMicros: bigint;
  jobsThisMonth: number;
  budgets: BudgetState[];
}

// The month is the UTC calendar month, as for MONTH budgets (budget_violations in the migrations).
const MONTH_START = `date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`;

export async function usage(pool: pg.Pool, apiKeyId: string): Promise<Usage> {
  const { rows } = await pool.query<{ month: string; total: string; reserved: string; jobs: number }>(
    `SELECT
       (SELECT coalesce(sum(amount_micros), 0) FROM ledger_entries WHERE api_key_id = $1 AND created_at >= ${MONTH_START})::text AS month,
       (SELECT coalesce(sum(amount_micros), 0) FROM ledger_entries WHERE api_key_id = $1)::text AS total,
       (SELECT coalesce(sum(estimated_micros), 0) FROM jobs WHERE api_key_id = $1 AND charged_micros IS NULL)::text AS reserved,
       (SELECT count(*)::int FROM jobs WHERE api_key_id = $1 AND created_at >= ${MONTH_START}) AS jobs`,
    [apiKeyId],
  );
  const row = rows[0]!;
  const month = BigInt(row.month);
  const total = BigInt(row.total);
  const reserved = BigInt(row.reserved);
  const budgets = await listBudgets(pool, apiKeyId);
  return {
    apiKeyId,
    spentThisMonthMicros: month,
    spentTotalMicros: total,
    reservedMicros: reserved,
    jobsThisMonth: row.jobs,
    budgets: budgets.map((b) => {
      const committed = reserved + (b.period === 'MONTH' ? month : total);
      return { ...b, committedMicros: committed, remainingMicros: b.limitMicros > committed ? b.limitMicros - committed : 0n };
    }),
  };
}

async function listBudgets(pool: pg.Pool, apiKeyId: string): Promise<Array<{ period: BudgetPeriod; limitMicros: bigint }>> {
  const { rows } = await pool.query<{ period: BudgetPeriod; limit: string }>(
    `SELECT period, limit_micros::text AS limit FROM budgets WHERE api_key_id = $1 ORDER BY period`,
    [apiKeyId],
  );
  return rows.map((r) => ({ period: r.period, limitMicros: BigInt(r.limit) }));
}

/** Sets (or replaces) a key's budget for a period; false when the key does not exist. */
export async function setBudget(pool: pg.Pool, apiKeyId: string, period: BudgetPeriod, limitMicros: bigint): Promise<boolean> {
  const { rowCount } = await pool.query(
    `INSERT INTO budgets (api_key_id, period, limit_micros)
     SELECT id, $2::"BudgetPeriod", $3 FROM api_keys WHERE id = $1
     ON CONFLICT (api_key_id, period) DO UPDATE SET limit_micros = EXCLUDED.limit_micros, updated_at = now()`,
    [apiKeyId, period, limitMicros.toString()],
  );
  return (rowCount ?? 0) > 0;
}

/** Removes a key's budget for a period; false when there was none. */
export async function removeBudget(pool: pg.Pool, apiKeyId: string, period: BudgetPeriod): Promise<boolean> {
  const { rowCount } = await pool.query(`DELETE FROM budgets WHERE api_key_id = $1 AND period = $2::"BudgetPeriod"`, [apiKeyId, period]);
  return (rowCount ?? 0) > 0;
}
