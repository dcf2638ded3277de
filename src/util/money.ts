// Money is integer micro-dollars (1 USD = 1,000,000 micros) held in bigint
// and BIGINT columns, so sums are exact; decimal strings only at the edges.

export const MICROS_PER_USD = 1_000_000n;

/** Up to nine whole digits (a billion dollars) and six decimals. */
const USD_PATTERN = /^(\d{1,9})(?:\.(\d{1,6}))?$/;

/** "0.065" → 65000n; null when the text is not a non-negative amount with at most six decimals. */
export function parseUsd(text: string): bigint | null {
  const match = USD_PATTERN.exec(text.trim());
  if (!match) return null;
  return BigInt(match[1]!) * MICROS_PER_USD + BigInt((match[2] ?? '').padEnd(6, '0'));
}

/** 65000n → "0.065", 1000000n → "1.00": exact, at least two decimals, no trailing zeros beyond them. */
export function formatUsd(micros: bigint): string {
  const sign = micros < 0n ? '-' : '';
  const abs = micros < 0n ? -micros : micros;
  const fraction = (abs % MICROS_PER_USD).toString().padStart(6, '0').replace(/0+$/, '').padEnd(2, '0');
  return `${sign}${abs / MICROS_PER_USD}.${fraction}`;
}

/** A rule for error messages. */
export const USD_RULE = 'a decimal amount of US dollars ≥ 0 with at most 6 decimals, e.g. "12.50"';
