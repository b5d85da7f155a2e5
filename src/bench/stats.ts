/** Percentiles of measurement samples. */
import type { Percentiles } from "./types.js";

/**
 * The q-quantile (0..1) of ascending `sorted` samples, interpolating linearly between
 * the closest ranks (numpy's default), so p50 of [1, 2, 3, 4] is 2.5.
 */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** p50/p90/p99 and the mean; null without samples. */
export function percentiles(samples: readonly number[]): Percentiles | null {
  if (samples.length === 0) return null;
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i];
  return { p50: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), p99: quantile(sorted, 0.99), mean: sum / sorted.length };
}
