// What a job costs, from the price table in configuration. The estimate is
// fixed on the job when it is created (its budget reservation); the charge is
// settled from it when the job ends (job-transitions.ts), so changing prices
// never changes what a job already in flight will cost.
import type { PriceTable } from '../models/prices.js';
import type { ModelKey } from '../models/types.js';
import { SENDING, type JobStatus } from './job-status.js';

export interface Estimate {
  estimatedMicros: bigint;
  failureMicros: bigint;
}

/** Providers that run on this machine cost nothing. */
const FREE_PROVIDERS = new Set(['local']);

/** The cost of running `params` (normalised wire parameters) of `model` on `provider`. */
export function estimateCost(table: PriceTable, provider: string, model: ModelKey, params: Record<string, unknown>): Estimate {
  if (FREE_PROVIDERS.has(provider)) return { estimatedMicros: 0n, failureMicros: 0n };
  const price = table[model];
  if (!price) throw new Error(`no price for model ${model}`);
  let estimated = price.priceMicros;
  for (const [wire, values] of Object.entries(price.options)) {
    const value = params[wire];
    if (typeof value === 'string' && values[value] !== undefined) estimated = values[value];
  }
  return { estimatedMicros: estimated, failureMicros: price.failureMicros };
}

/** Failures after which the upstream may have run (and billed) the swap. */
const MAY_HAVE_RUN: ReadonlySet<string> = new Set(['UPSTREAM_OUTCOME_UNKNOWN', 'TIMEOUT']);

/** Failures where every call was refused (429, 5xx before acceptance): nothing ran, nothing is billed. */
const REFUSED: ReadonlySet<string> = new Set(['RATE_LIMITED', 'UPSTREAM_UNAVAILABLE']);

/** What a settlement charges and the rule that says so (recorded on the ledger entry). */
export interface Settlement {
  /** SQL over the job row before the move. */
  amountSql: string;
  /** SQL text value: the rule's name. */
  ruleSql: string;
}

/**
 * The charge of a job moving to `to`, and its rule; null for a status that is
 * not final. The ledger follows what the vendor bills, as far as its docs
 * tell: a call answered 2xx is billed. So a job pays its estimate when it
 * completed, when the upstream answered 2xx but its output was unusable
 * (`billed`: not an image, gone before it was fetched), or when the upstream
 * may have run it (an unknown outcome, a deadline passed upstream, a cancel
 * after sending). Refused calls are free: a job whose every submission was
 * refused pays 0, whatever the failure price. Other known failures pay the
 * failure price (0 unless PRICES says otherwise); a cancel before sending pays
 * nothing. Never more than the estimate, so a settlement only ever releases budget.
 */
export function settlement(to: JobStatus, errorCode: string | null | undefined, billed = false): Settlement | null {
  const rule = (name: string) => `'${name}'`;
  switch (to) {
    case 'COMPLETED':
      return { amountSql: 'estimated_micros', ruleSql: rule('completed') };
    case 'FAILED':
      if (billed) return { amountSql: 'estimated_micros', ruleSql: rule('billed-unusable') };
      if (errorCode && MAY_HAVE_RUN.has(errorCode)) return { amountSql: 'estimated_micros', ruleSql: rule('may-have-run') };
      if (errorCode && REFUSED.has(errorCode)) return { amountSql: '0', ruleSql: rule('refused') };
      return { amountSql: 'failure_micros', ruleSql: rule('failure-price') };
    case 'CANCELED': {
      const sent = `upstream_request_id IS NOT NULL OR upstream_status = '${SENDING}'`;
      return {
        amountSql: `CASE WHEN ${sent} THEN estimated_micros ELSE 0 END`,
        ruleSql: `CASE WHEN ${sent} THEN 'canceled-after-send' ELSE 'canceled-before-send' END`,
      };
    }
    default:
      return null;
  }
}

/** The charge alone (see `settlement`). */
export function settlementSql(to: JobStatus, errorCode: string | null | undefined, billed = false): string | null {
  return settlement(to, errorCode, billed)?.amountSql ?? null;
}
