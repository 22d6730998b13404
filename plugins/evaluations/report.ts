/** A run's aggregates (per metric mean and 95% interval, latency, tokens) and the comparison of two runs. */
import { BINARY } from "./metrics.ts";
import type { EvaluationSpec } from "./schema.ts";
import { meanStd, normalInterval, quantile, round, wilson } from "./stats.ts";
import type { EvaluationStore, RowResult } from "./store.ts";

async function allFinished(store: EvaluationStore, id: string): Promise<RowResult[]> {
  const rows: RowResult[] = [];
  for (let page = await store.finished(id, 0, 1000); page.length > 0; page = await store.finished(id, page.at(-1)!.row, 1000)) rows.push(...page);
  return rows;
}

/**
 * Aggregates over the finished rows. A row the model failed to answer scores 0 on every metric
 * (a missing answer is a wrong one) and is counted in `failed_rows`.
 */
export async function summarize(store: EvaluationStore, id: string, spec: EvaluationSpec, elapsedMs: number) {
  const rows = await allFinished(store, id);
  const metrics: Record<string, { type: string; n: number; mean: number; ci95: [number, number]; passes?: number }> = {};
  for (const m of spec.metrics) {
    const values = rows.map((r) => r.scores?.[m.name] ?? 0);
    const { mean } = meanStd(values);
    if (BINARY.has(m.type)) {
      const passes = values.filter((v) => v >= 1).length;
      metrics[m.name] = { type: m.type, n: values.length, mean: round(mean), passes, ci95: wilson(passes, values.length).map((x) => round(x)) as [number, number] };
    } else {
      metrics[m.name] = { type: m.type, n: values.length, mean: round(mean), ci95: normalInterval(values, 0, 1).map((x) => round(x)) as [number, number] };
    }
  }
  const latencies = rows.filter((r) => r.latencyMs !== null).map((r) => r.latencyMs!).sort((a, b) => a - b);
  return {
    rows: rows.length,
    failed_rows: rows.filter((r) => r.status === "failed").length,
    metrics,
    latency_ms: { mean: round(meanStd(latencies).mean, 2), p50: round(quantile(latencies, 0.5), 2), p95: round(quantile(latencies, 0.95), 2), max: round(latencies.at(-1) ?? 0, 2) },
    tokens: { prompt: rows.reduce((a, r) => a + (r.promptTokens ?? 0), 0), completion: rows.reduce((a, r) => a + (r.completionTokens ?? 0), 0) },
    elapsed_ms: Math.round(elapsedMs),
  };
}

/** Row-by-row comparison of two runs on the same rows: mean of each, the paired difference with its interval, rows better/worse. */
export async function compare(store: EvaluationStore, a: { id: string; spec: EvaluationSpec }, b: { id: string; spec: EvaluationSpec }) {
  const [rowsA, rowsB] = [await allFinished(store, a.id), await allFinished(store, b.id)];
  const byRow = new Map(rowsB.map((r) => [r.row, r]));
  const pairs = rowsA.filter((r) => byRow.has(r.row)).map((r) => [r, byRow.get(r.row)!] as const);
  const shared = a.spec.metrics.filter((m) => b.spec.metrics.some((n) => n.name === m.name && n.type === m.type));
  const metrics: Record<string, { a_mean: number; b_mean: number; delta: number; delta_ci95: [number, number]; improved: number; regressed: number; unchanged: number }> = {};
  for (const m of shared) {
    const diffs = pairs.map(([x, y]) => (y.scores?.[m.name] ?? 0) - (x.scores?.[m.name] ?? 0));
    metrics[m.name] = {
      a_mean: round(meanStd(pairs.map(([x]) => x.scores?.[m.name] ?? 0)).mean),
      b_mean: round(meanStd(pairs.map(([, y]) => y.scores?.[m.name] ?? 0)).mean),
      delta: round(meanStd(diffs).mean),
      delta_ci95: normalInterval(diffs, -1, 1).map((x) => round(x)) as [number, number],
      improved: diffs.filter((d) => d > 0).length, regressed: diffs.filter((d) => d < 0).length, unchanged: diffs.filter((d) => d === 0).length,
    };
  }
  return { rows_compared: pairs.length, metrics };
}
