/**
 * Order statistics for benchmark samples. Runs are few and noisy (two cores, loopback, child
 * processes), so the bench reports medians with the spread around them rather than means.
 */

/** The summary of one set of samples, in the samples' unit. */
export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  p50: number;
  p99: number;
  mean: number;
}

/** The value at percentile `p` (0–100) of ascending `sorted`, interpolated between neighbours. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (sorted.length === 1) return sorted[0]!;
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (rank - lo);
}

/** Median, extremes, p50/p99 and mean of `samples` (NaN everywhere when there are none). */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((x, y) => x - y);
  const median = percentile(sorted, 50);
  return {
    n: sorted.length,
    median,
    min: sorted.length ? sorted[0]! : Number.NaN,
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    p50: median,
    p99: percentile(sorted, 99),
    mean: sorted.length ? sorted.reduce((s, x) => s + x, 0) / sorted.length : Number.NaN,
  };
}

/** Ratio of two medians; NaN when either side is missing or the denominator is zero. */
export function ratio(numerator: number, denominator: number): number {
  if (!Number.isFinite(numerator) || !Number.isFinite(denominator) || denominator === 0) return Number.NaN;
  return numerator / denominator;
}

/** Milliseconds since an arbitrary origin, from the monotonic clock. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
