/** Aggregates with 95% confidence intervals: Wilson's for pass rates, the normal approximation for means. */

const Z = 1.959963984540054;

/** Wilson score interval of `passes` out of `n` (well-behaved near 0 and 1 and for small n). */
export function wilson(passes: number, n: number): [number, number] {
  if (n === 0) return [0, 0];
  const p = passes / n;
  const denominator = 1 + (Z * Z) / n;
  const centre = (p + (Z * Z) / (2 * n)) / denominator;
  const half = (Z * Math.sqrt((p * (1 - p)) / n + (Z * Z) / (4 * n * n))) / denominator;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** Mean and sample standard deviation. */
export function meanStd(values: number[]): { mean: number; std: number } {
  const n = values.length;
  if (n === 0) return { mean: 0, std: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

/** Mean ± z·sd/√n, clamped to [lo, hi]. */
export function normalInterval(values: number[], lo = -Infinity, hi = Infinity): [number, number] {
  const { mean, std } = meanStd(values);
  const half = values.length > 0 ? (Z * std) / Math.sqrt(values.length) : 0;
  return [Math.max(lo, mean - half), Math.min(hi, mean + half)];
}

/** The q-quantile (0..1) of sorted values, linearly interpolated. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

export const round = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits;
