/**
 * Drift of the live version against its baseline: the first requests after a promotion set the
 * baseline (median latency, error rate, mean output length); every following window of requests
 * is compared with it, and a figure past its threshold raises one alert until it comes back.
 */
import type { DriftBaseline } from "./schema.ts";
import { median, round } from "./stats.ts";

export interface DriftSettings {
  baselineRequests: number;
  windowRequests: number;
  /** Alert when the window's median latency is more than this many times the baseline's ... */
  latencyFactor: number;
  /** ... and higher by at least this many milliseconds (a 1 ms server doubling to 2 ms is noise). */
  latencyMinIncreaseMs: number;
  /** Alert when the window's error rate exceeds the baseline's by more than this (0–1). */
  errorRateIncrease: number;
  /** Alert when the mean output length moves past this factor either way. */
  outputLengthFactor: number;
}

export interface DriftObservation {
  latencyMs: number;
  error: boolean;
  /** Characters of the answer's text; null for answers without text (errors, embeddings). */
  outputLength: number | null;
}

export interface DriftAlert {
  metric: "latency_p50_ms" | "error_rate" | "output_length_mean";
  baseline: number;
  current: number;
  threshold: string;
}

function summarize(window: DriftObservation[]): DriftBaseline {
  const lengths = window.map((o) => o.outputLength).filter((n): n is number => n !== null);
  return {
    requests: window.length,
    latency_p50_ms: round(median(window.map((o) => o.latencyMs)), 3),
    error_rate: round(window.filter((o) => o.error).length / Math.max(1, window.length)),
    output_length_mean: round(lengths.reduce((a, b) => a + b, 0) / Math.max(1, lengths.length), 2),
  };
}

/** One live version's drift watch; `baseline` is null until enough requests were seen. */
export class DriftMonitor {
  #window: DriftObservation[] = [];
  /** Metrics alerting now: an alert is raised once, again only after the figure came back. */
  readonly #alerting = new Set<DriftAlert["metric"]>();

  constructor(readonly version: string, public baseline: DriftBaseline | null, private readonly settings: () => DriftSettings) {}

  /** Adds one request; answers the new baseline when it was just taken, and the alerts a full window raised. */
  observe(o: DriftObservation): { baseline?: DriftBaseline; alerts: DriftAlert[]; window?: DriftBaseline } {
    const s = this.settings();
    this.#window.push(o);
    if (!this.baseline) {
      if (this.#window.length < s.baselineRequests) return { alerts: [] };
      this.baseline = summarize(this.#window);
      this.#window = [];
      return { baseline: this.baseline, alerts: [] };
    }
    if (this.#window.length < s.windowRequests) return { alerts: [] };
    const current = summarize(this.#window);
    this.#window = [];
    return { alerts: this.#compare(this.baseline, current, s), window: current };
  }

  #compare(b: DriftBaseline, c: DriftBaseline, s: DriftSettings): DriftAlert[] {
    const checks: [DriftAlert["metric"], boolean, string][] = [
      ["latency_p50_ms", c.latency_p50_ms > b.latency_p50_ms * s.latencyFactor && c.latency_p50_ms - b.latency_p50_ms >= s.latencyMinIncreaseMs, `> ${s.latencyFactor}× baseline and +${s.latencyMinIncreaseMs} ms`],
      ["error_rate", c.error_rate > b.error_rate + s.errorRateIncrease, `> baseline + ${s.errorRateIncrease}`],
      ["output_length_mean", b.output_length_mean > 0 && (c.output_length_mean > b.output_length_mean * s.outputLengthFactor || c.output_length_mean < b.output_length_mean / s.outputLengthFactor), `outside baseline ÷/× ${s.outputLengthFactor}`],
    ];
    const alerts: DriftAlert[] = [];
    for (const [metric, past, threshold] of checks) {
      if (!past) {
        this.#alerting.delete(metric);
        continue;
      }
      if (this.#alerting.has(metric)) continue;
      this.#alerting.add(metric);
      alerts.push({ metric, baseline: b[metric], current: c[metric], threshold });
    }
    return alerts;
  }
}
