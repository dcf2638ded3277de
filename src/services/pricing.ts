// What a job costs, from the price table in configuration. The estimate is
// fixed on the job when it is created (its budget reservation); the charge is
// settled from it when the job ends (job-transitions.ts), so changing prices
// never changes what a job already in flight will cost.
import { MODELS } from '../models/registry.js';
import type { ModelKey } from '../models/types.js';
import { SENDING, type JobStatus } from './job-status.js';
import { parseUsd, USD_RULE } from './money.js';

export interface ModelPrice {
  /** A completed job, in micro-dollars. */
  priceMicros: bigint;
  /** A FAILED job whose outcome upstream is known (not run, or refused). Never above the price. */
  failureMicros: bigint;
  /** Prices that replace priceMicros for one parameter value: wire name → wire value → micros. */
  options: Record<string, Record<string, bigint>>;
}

export type PriceTable = Record<ModelKey, ModelPrice>;

export interface PriceSource {
  price: string;
  failurePrice?: string;
  options?: Record<string, Record<string, string>>;
  /** Where the figure comes from; documentation only. */
  source: string;
}

/**
 * Defaults, in US dollars per run. faceswap-comic and the body swap workflow
 * are the vendor's published figures; the others are placeholders until the
 * vendor publishes theirs: set PRICES to your own contract's figures.
 */
export const DEFAULT_PRICES: Record<ModelKey, PriceSource> = {
  FACESWAP_V4: { price: '0.04', options: { hardware: { fast: '0.04', cost: '0.02' } }, source: 'placeholder' },
  FACESWAP_V3_MULTI: { price: '0.01', source: 'placeholder' },
  FACESWAP_V2: { price: '0.01', source: 'placeholder' },
  FACESWAP_COMIC: { price: '0.065', source: 'vendor page: $0.065 per generation' },
  BODY_SWAP: { price: '0.2687', source: 'vendor page: about $0.2687 per run' },
};

function usd(text: unknown, where: string): bigint {
  const micros = typeof text === 'string' ? parseUsd(text) : null;
  if (micros === null) throw new Error(`${where} must be ${USD_RULE}, got ${JSON.stringify(text)}`);
  return micros;
}

/**
 * The price table: DEFAULT_PRICES with each model named in `overridesJson`
 * (the PRICES variable) replaced, e.g.
 * {"FACESWAP_V4":{"price":"0.05","options":{"hardware":{"cost":"0.03"}},"failurePrice":"0"}}.
 */
export function loadPriceTable(overridesJson: string | undefined, variable = 'PRICES'): PriceTable {
  let overrides: Record<string, unknown> = {};
  if (overridesJson) {
    try {
      overrides = JSON.parse(overridesJson) as Record<string, unknown>;
    } catch {
      throw new Error(`${variable} must be JSON such as {"FACESWAP_V2":{"price":"0.012"}}`);
    }
    if (!overrides || typeof overrides !== 'object' || Array.isArray(overrides)) throw new Error(`${variable} must be a JSON object`);
  }
  const known = new Set(MODELS.map((m) => m.key));
  for (const key of Object.keys(overrides)) {
    if (!known.has(key)) throw new Error(`${variable}: unknown model ${key}; models are ${[...known].join(', ')}`);
  }
  const table: PriceTable = {};
  for (const spec of MODELS) {
    const source = (overrides[spec.key] ?? DEFAULT_PRICES[spec.key]) as PriceSource;
    const where = `${variable}.${spec.key}`;
    const price = usd(source.price, `${where}.price`);
    const failure = usd(source.failurePrice ?? '0', `${where}.failurePrice`);
    const options: ModelPrice['options'] = {};
    for (const [wire, values] of Object.entries(source.options ?? {})) {
      const param = spec.params.find((p) => p.wire === wire);
      if (!param || param.kind !== 'enum') throw new Error(`${where}.options: ${wire} is not an enum parameter of ${spec.key}`);
      options[wire] = {};
      for (const [value, text] of Object.entries(values)) {
        if (!Object.values(param.values).includes(value)) {
          throw new Error(`${where}.options.${wire}: "${value}" is not one of ${Object.values(param.values).join(', ')}`);
        }
        options[wire][value] = usd(text, `${where}.options.${wire}.${value}`);
      }
    }
    const cheapest = [price, ...Object.values(options).flatMap((o) => Object.values(o))].reduce((a, b) => (b < a ? b : a));
    // A settlement never exceeds its reservation: that is what keeps budgets exact.
    if (failure > cheapest) throw new Error(`${where}.failurePrice must not exceed the model's lowest price`);
    table[spec.key] = { priceMicros: price, failureMicros: failure, options };
  }
  return table;
}

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

/**
 * The charge of a job moving to `to`, as an SQL expression over the job row
 * before the move; null for a status that is not final. A job pays its
 * estimate when it completed or when the upstream may have run it (an unknown
 * outcome, a deadline passed upstream, a cancel after sending); a known
 * failure pays the failure price (0 unless PRICES says otherwise); a cancel
 * before sending pays nothing. Never more than the estimate, so a settlement
 * only ever releases budget.
 */
export function settlementSql(to: JobStatus, errorCode: string | null | undefined): string | null {
  switch (to) {
    case 'COMPLETED':
      return 'estimated_micros';
    case 'FAILED':
      return errorCode && MAY_HAVE_RUN.has(errorCode) ? 'estimated_micros' : 'failure_micros';
    case 'CANCELED':
      return `CASE WHEN upstream_request_id IS NOT NULL OR upstream_status = '${SENDING}' THEN estimated_micros ELSE 0 END`;
    default:
      return null;
  }
}
