/** Prometheus metrics: core's HTTP metrics, process metrics, and metrics that plugins register. */
import client, { Counter, Gauge, Histogram, Registry, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration, type Metric } from "prom-client";
import { Errors } from "./errors.ts";
import type { Owner } from "./owned-registry.ts";
import { boundCounter, boundHistogram } from "./bound-series.ts";

export type { Counter, Gauge, Histogram };

/** What `ctx.metrics` offers a plugin. */
export interface PluginMetrics {
  counter<L extends string>(config: Omit<CounterConfiguration<L>, "registers">): Counter<L>;
  gauge<L extends string>(config: Omit<GaugeConfiguration<L>, "registers">): Gauge<L>;
  histogram<L extends string>(config: Omit<HistogramConfiguration<L>, "registers">): Histogram<L>;
}

interface OwnedMetric {
  metric: Metric;
  plugin: string;
  kind: string;
  refs: number;
}

const EVENT_LOOP_SAMPLE_MS = 1000;
const GAUGES_NAMED_LIKE_COUNTERS = ["nodejs_active_handles", "nodejs_active_requests", "nodejs_active_resources"];

export class MetricsRegistry {
  readonly registry = new Registry();
  readonly httpRequests: Counter<"method" | "route" | "status">;
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  readonly #owned = new Map<string, OwnedMetric>();
  /** Label-bound series per (method, route, status): prom-client hashes labels on every call otherwise. */
  readonly #requestSeries = new Map<string, { count: { inc(): void }; duration: { observe(v: number): void } }>();

  constructor() {
    // The event-loop delay histogram samples once a second: at prom-client's default 10 ms it woke an
    // idle gantry ~100 times a second and was most of its idle CPU.
    client.collectDefaultMetrics({ register: this.registry, prefix: "gantry_", eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    // prom-client names three gauges *_total, which Prometheus reserves for counters (promtool check
    // metrics fails on them). They are dropped: the per-type gauges without the suffix remain, and
    // their sum is the same number.
    for (const name of GAUGES_NAMED_LIKE_COUNTERS) this.registry.removeSingleMetric(`gantry_${name}_total`);
    this.httpRequests = new Counter({
      name: "gantry_http_requests_total", help: "HTTP requests by route pattern and status",
      labelNames: ["method", "route", "status"], registers: [this.registry],
    });
    this.httpDuration = new Histogram({
      name: "gantry_http_request_duration_seconds", help: "HTTP request duration by route pattern and status",
      labelNames: ["method", "route", "status"], registers: [this.registry],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
  }

  /** Counts one HTTP request and its duration. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let series = this.#requestSeries.get(key);
    if (!series) {
      const labels = { method, route, status: String(status) };
      series = { count: boundCounter(this.httpRequests, labels), duration: boundHistogram(this.httpDuration, labels) };
      this.#requestSeries.set(key, series);
    }
    series.count.inc();
    series.duration.observe(seconds);
  }

  /**
   * Registers a plugin metric. A reloaded plugin re-registering the same name gets the same
   * metric object back, so its counts survive the reload; uninstall removes it.
   */
  register<M extends Metric>(owner: Owner, kind: string, name: string, create: () => M): [M, () => void] {
    const existing = this.#owned.get(name);
    if (existing && (existing.plugin !== owner.plugin || existing.kind !== kind)) {
      throw Errors.PLUGIN_REGISTRATION_CONFLICT(["Metric", name, existing.plugin]);
    }
    if (!existing && this.registry.getSingleMetric(name)) throw Errors.PLUGIN_REGISTRATION_CONFLICT(["Metric", name, "core"]);
    const entry = existing ?? { metric: create(), plugin: owner.plugin, kind, refs: 0 };
    entry.refs++;
    this.#owned.set(name, entry);
    const release = () => {
      if (--entry.refs > 0) return;
      this.#owned.delete(name);
      this.registry.removeSingleMetric(name);
    };
    return [entry.metric as M, release];
  }

  /** Names of the metrics plugins registered (for install drops and leak checks). */
  pluginMetricNames(): string[] {
    return [...this.#owned.keys()];
  }

  /** Prometheus text exposition. */
  async expose(): Promise<string> {
    return this.registry.metrics();
  }

  /** Sets every metric back to its initial state (the operations API's POST /metrics/reset). */
  reset(): void {
    this.registry.resetMetrics();
    this.#requestSeries.clear(); // reset drops the children the cache holds
  }
}
