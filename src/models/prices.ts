// The price table: what each model costs upstream, from the defaults with the
// PRICES variable's overrides, checked at start (config.ts loads it).
import { MODELS } from './registry.js';
import type { ModelKey, PriceSource } from './types.js';
import { parseUsd, USD_RULE } from '../util/money.js';

export interface ModelPrice {
  /** A completed job, in micro-dollars. */
  priceMicros: bigint;
  /** A FAILED job whose outcome upstream is known (not run, or refused). Never above the price. */
  failureMicros: bigint;
  /** Prices that replace priceMicros for one parameter value: wire name → wire value → micros. */
  options: Record<string, Record<string, bigint>>;
}

export type PriceTable = Partial<Record<ModelKey, ModelPrice>>;

export type { PriceSource };

function usd(text: unknown, where: string): bigint {
  const micros = typeof text === 'string' ? parseUsd(text) : null;
  if (micros === null) throw new Error(`${where} must be ${USD_RULE}, got ${JSON.stringify(text)}`);
  return micros;
}

/**
 * The price table: each spec's price with each model named in `overridesJson`
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
  const known = new Set<string>(MODELS.map((m) => m.key));
  for (const key of Object.keys(overrides)) {
    if (!known.has(key)) throw new Error(`${variable}: unknown model ${key}; models are ${[...known].join(', ')}`);
  }
  const table: PriceTable = {};
  for (const spec of MODELS) {
    const source = (overrides[spec.key] ?? spec.price) as PriceSource;
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
