/**
 * Per-model inference metrics: requests, tokens (from `usage`), time to first token, whole-response
 * duration (a stream is measured to its last byte, not to its headers), requests in flight and
 * instances up. Each request also ends in one `inference` log line with the same numbers.
 */
import type { Counter, Histogram } from "prom-client";
import { boundHistogram, type PluginContext } from "gantry/plugin";
import type { InstanceSupervisor } from "./supervisor.ts";

/** Which client API a request came in on. */
export type InferenceApi = "openai" | "anthropic" | "ollama" | "upstream";

export interface Usage {
  prompt: number;
  completion: number;
}

const SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** Per-model numbers kept as plain fields: a request adds to them, a scrape reads them (collect). */
interface ModelSeries {
  inFlight: number;
  prompt: number;
  completion: number;
  ttft: { observe(v: number): void };
}
interface EndSeries {
  labels: { model: string; api: string; status: string };
  count: number;
  duration: { observe(v: number): void };
}

/**
 * The counts behind the counters and the gauge. They live on the requests counter, which core keeps
 * across plugin reloads (reference-counted), so a reloaded plugin keeps counting where it was and
 * the collect functions of the first registration read the same counts.
 */
class SeriesState {
  readonly models = new Map<string, ModelSeries>();
  readonly ends = new Map<string, EndSeries>();
  /** The instances and whether each runs; set by the newest generation of the plugin. */
  instances: () => { name: string; running: boolean }[] = () => [];
}
const STATE = "gantryInferenceState";
type Carrier = { [STATE]?: SeriesState };

export class InferenceMetrics {
  readonly #duration: Histogram<"model" | "api" | "status">;
  readonly #ttft: Histogram<"model">;
  readonly #state: SeriesState;

  /**
   * `instances` lists the instances for the up gauge, read at scrape time (so a deleted one
   * disappears); `logLines`: one `inference` log line per request (plugin.instances.log_inference).
   */
  constructor(private readonly ctx: PluginContext, instances: () => { name: string; running: boolean }[], private readonly logLines = true) {
    const m = ctx.metrics;
    // Counters and the in-flight gauge are filled from plain numbers at scrape time: a prom-client
    // label lookup per request costs more than the rest of the bookkeeping together.
    const requests: Counter<"model" | "api" | "status"> = m.counter({
      name: "gantry_inference_requests_total", help: "Inference requests by model (instance), client API and status", labelNames: ["model", "api", "status"],
      collect() {
        this.reset();
        for (const e of (this as Carrier)[STATE]?.ends.values() ?? []) this.inc(e.labels, e.count);
      },
    });
    this.#state = (requests as Carrier)[STATE] ??= new SeriesState();
    this.#state.instances = instances;
    const state = this.#state;
    m.counter({
      name: "gantry_inference_tokens_total", help: "Tokens as the model server reported them in usage (kind: prompt or completion)", labelNames: ["model", "kind"],
      collect() {
        this.reset();
        for (const [model, s] of state.models) {
          this.inc({ model, kind: "prompt" }, s.prompt);
          this.inc({ model, kind: "completion" }, s.completion);
        }
      },
    });
    m.gauge({
      name: "gantry_inference_in_flight", help: "Inference requests being answered now", labelNames: ["model"],
      collect() {
        for (const [model, s] of state.models) this.set({ model }, s.inFlight);
      },
    });
    this.#duration = m.histogram({ name: "gantry_inference_duration_seconds", help: "Whole inference responses, streams to their last byte", labelNames: ["model", "api", "status"], buckets: SECONDS });
    this.#ttft = m.histogram({ name: "gantry_inference_time_to_first_token_seconds", help: "Streamed responses: time from request to the first content chunk", labelNames: ["model"], buckets: SECONDS });
    m.gauge({
      name: "gantry_instance_up", help: "1 while an instance is running, else 0", labelNames: ["instance"],
      collect() {
        this.reset();
        for (const { name, running } of state.instances()) this.set({ instance: name }, running ? 1 : 0);
      },
    });
  }

  /** Starts measuring one request to `model` (the instance's name, whatever id the client sent). */
  begin(model: string, api: InferenceApi, requestId: string | undefined, stream: boolean): Observation {
    let series = this.#state.models.get(model);
    if (!series) {
      series = { inFlight: 0, prompt: 0, completion: 0, ttft: boundHistogram(this.#ttft, { model }) };
      this.#state.models.set(model, series);
    }
    series.inFlight++;
    return new Observation(this, series, model, api, requestId, stream);
  }

  /** Called once per request by its Observation. */
  end(o: Observation, series: ModelSeries, status: number, seconds: number): void {
    series.inFlight--;
    const key = `${o.model} ${o.api} ${status}`;
    let end = this.#state.ends.get(key);
    if (!end) {
      const labels = { model: o.model, api: o.api, status: String(status) };
      end = { labels, count: 0, duration: boundHistogram(this.#duration, labels) };
      this.#state.ends.set(key, end);
    }
    end.count++;
    end.duration.observe(seconds);
    if (o.usage) {
      series.prompt += o.usage.prompt;
      series.completion += o.usage.completion;
    }
    if (o.ttft !== null) series.ttft.observe(o.ttft);
    if (!this.logLines) return;
    this.ctx.log.info({
      reqId: o.requestId, model: o.model, api: o.api, status, stream: o.stream, ms: Math.round(seconds * 1e5) / 100,
      ttft_ms: o.ttft === null ? null : Math.round(o.ttft * 1e5) / 100, prompt_tokens: o.usage?.prompt ?? null, completion_tokens: o.usage?.completion ?? null,
      outcome: o.outcome ?? undefined, // left out of the line when undefined
    }, "inference");
  }
}

/** Told when an admitted request ends: frees its queue slot, charges its key's tokens (proxy.ts). */
export interface ObservationOwner {
  ended(o: Observation, seconds: number): void;
}

/** One request being measured: first token, usage, end (whichever of end/cancel comes first counts). */
export class Observation {
  readonly #start = performance.now();
  ttft: number | null = null;
  /** Set by the proxy for a request that holds a slot (no closure per request). */
  owner: ObservationOwner | null = null;
  /** The instance whose slot it holds, and the API key to charge (null when none has limits). */
  slot: InstanceSupervisor | null = null;
  keyId: string | null = null;
  usage: Usage | null = null;
  /** Why a stream ended early ("client left"), for the log line. */
  outcome: string | null = null;
  #ended = false;

  constructor(
    private readonly metrics: InferenceMetrics,
    private readonly series: ModelSeries,
    readonly model: string,
    readonly api: InferenceApi,
    readonly requestId: string | undefined,
    readonly stream: boolean,
  ) {}

  firstToken(): void {
    if (this.ttft === null) this.ttft = (performance.now() - this.#start) / 1000;
  }

  /** Token counts as reported; a count not given keeps what an earlier report said (Anthropic streams report input first, output last). */
  setUsage(prompt: unknown, completion: unknown): void {
    if (typeof prompt !== "number" && typeof completion !== "number") return;
    this.usage = {
      prompt: typeof prompt === "number" ? prompt : (this.usage?.prompt ?? 0),
      completion: typeof completion === "number" ? completion : (this.usage?.completion ?? 0),
    };
  }

  end(status: number): void {
    if (this.#ended) return;
    this.#ended = true;
    const seconds = (performance.now() - this.#start) / 1000;
    this.metrics.end(this, this.series, status, seconds);
    this.owner?.ended(this, seconds);
  }
}
