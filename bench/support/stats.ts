// Percentiles from raw samples (nearest-rank), never from pre-aggregated buckets.

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(samples: number[]): Summary {
  const sorted = Float64Array.from(samples).sort();
  const arr = Array.from(sorted);
  const sum = arr.reduce((a, b) => a + b, 0);
  return {
    n: arr.length,
    min: arr[0] ?? Number.NaN,
    p50: percentile(arr, 50),
    p90: percentile(arr, 90),
    p99: percentile(arr, 99),
    max: arr[arr.length - 1] ?? Number.NaN,
    mean: arr.length ? sum / arr.length : Number.NaN,
  };
}

/** Milliseconds with 3 decimals (the JSON keeps full precision). */
export function ms(x: number): string {
  return Number.isFinite(x) ? x.toFixed(3) : String(x);
}
