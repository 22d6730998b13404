/** Figures with 95% confidence intervals: Wilson's for rates, Student's t for means; and how alike two answers are. */

const Z = 1.959963984540054;
/** Two-sided 95% critical values of Student's t for 1–30 degrees of freedom; above 30 the normal one is close enough. */
const T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

export const round = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Wilson score interval of `k` out of `n` (well-behaved near 0 and 1 and for small n). */
export function wilson(k: number, n: number): [number, number] {
  if (n === 0) return [0, 0];
  const p = k / n;
  const d = 1 + (Z * Z) / n;
  const centre = (p + (Z * Z) / (2 * n)) / d;
  const half = (Z * Math.sqrt((p * (1 - p)) / n + (Z * Z) / (4 * n * n))) / d;
  return [round(Math.max(0, centre - half)), round(Math.min(1, centre + half))];
}

/** A rate with its interval. */
export function rate(k: number, n: number) {
  return { n, rate: n === 0 ? 0 : round(k / n), ci95: wilson(k, n) };
}

/** Mean, median and the t-interval of the mean. */
export function meanInterval(values: number[]) {
  const n = values.length;
  if (n === 0) return { n, mean: 0, p50: 0, ci95: [0, 0] as [number, number] };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  const half = n > 1 ? ((T95[n - 2] ?? Z) * sd) / Math.sqrt(n) : 0;
  return { n, mean: round(mean, 3), p50: round(median(values), 3), ci95: [round(mean - half, 3), round(mean + half, 3)] as [number, number] };
}

export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = (sorted.length - 1) / 2;
  return (sorted[Math.floor(mid)]! + sorted[Math.ceil(mid)]!) / 2;
}

/** Case, punctuation and spacing left out: two answers that say the same words compare equal. */
export function normalizeText(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ").trim();
}

export function cosine(a: number[], b: number[]): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
