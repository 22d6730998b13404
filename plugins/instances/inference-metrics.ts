/**
 * Per-model inference metrics: requests, tokens (from `usage`), time to first token, whole-response
 * duration (a stream is measured to its last byte, not to its headers), requests in flight and
 * instances up. Each request also ends in one `inference` log line with the same numbers.
 */
import type { Counter, Gauge, Histogram } from "prom-client";
import type { PluginContext } from "gantry/plugin";

/** Which client API a request came in on. */
export type InferenceApi = "openai" | "anthropic" | "ollama" | "upstream";

export interface Usage {
  prompt: number;
  completion: number;
}

const SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

interface ModelSeries {
  inFlight: { inc(): void; dec(): void };
  ttft: { observe(v: number): void };
  prompt: { inc(v: number): void };
  completion: { inc(v: number): void };
}

export class InferenceMetrics {
  readonly #requests: Counter<"model" | "api" | "status">;
  readonly #duration: Histogram<"model" | "api" | "status">;
  readonly #ttft: Histogram<"model">;
  readonly #tokens: Counter<"model" | "kind">;
  readonly #inFlight: Gauge<"model">;
  readonly #up: Gauge<"instance">;
  /** Label-bound children (prom-client hashes the labels on every call otherwise). */
  readonly #series = new Map<string, ModelSeries>();
  readonly #ends = new Map<string, { count: { inc(): void }; duration: { observe(v: number): void } }>();

  constructor(private readonly ctx: PluginContext) {
    const m = ctx.metrics;
    this.#requests = m.counter({ name: "gantry_inference_requests_total", help: "Inference requests by model (instance), client API and status", labelNames: ["model", "api", "status"] });
    this.#duration = m.histogram({ name: "gantry_inference_duration_seconds", help: "Whole inference responses, streams to their last byte", labelNames: ["model", "api", "status"], buckets: SECONDS });
    this.#ttft = m.histogram({ name: "gantry_inference_time_to_first_token_seconds", help: "Streamed responses: time from request to the first content chunk", labelNames: ["model"], buckets: SECONDS });
    this.#tokens = m.counter({ name: "gantry_inference_tokens_total", help: "Tokens as the model server reported them in usage (kind: prompt or completion)", labelNames: ["model", "kind"] });
    this.#inFlight = m.gauge({ name: "gantry_inference_in_flight", help: "Inference requests being answered now", labelNames: ["model"] });
    this.#up = m.gauge({ name: "gantry_instance_up", help: "1 while an instance is running, else 0", labelNames: ["instance"] });
  }

  /** Sets an instance's up gauge (status changes, and at setup for every instance). */
  setUp(instance: string, running: boolean): void {
    this.#up.set({ instance }, running ? 1 : 0);
  }

  forget(instance: string): void {
    this.#up.remove({ instance });
  }

  /** Starts measuring one request to `model` (the instance's name, whatever id the client sent). */
  begin(model: string, api: InferenceApi, requestId: string | undefined, stream: boolean): Observation {
    let series = this.#series.get(model);
    if (!series) {
      series = {
        inFlight: this.#inFlight.labels({ model }), ttft: this.#ttft.labels({ model }),
        prompt: this.#tokens.labels({ model, kind: "prompt" }), completion: this.#tokens.labels({ model, kind: "completion" }),
      };
      this.#series.set(model, series);
    }
    series.inFlight.inc();
    return new Observation(this, series, model, api, requestId, stream);
  }

  /** Called once per request by its Observation. */
  end(o: Observation, series: ModelSeries, status: number, seconds: number): void {
    series.inFlight.dec();
    const key = `${o.model} ${o.api} ${status}`;
    let end = this.#ends.get(key);
    if (!end) {
      const labels = { model: o.model, api: o.api, status: String(status) };
      end = { count: this.#requests.labels(labels), duration: this.#duration.labels(labels) };
      this.#ends.set(key, end);
    }
    end.count.inc();
    end.duration.observe(seconds);
    if (o.usage) {
      series.prompt.inc(o.usage.prompt);
      series.completion.inc(o.usage.completion);
    }
    if (o.ttft !== null) series.ttft.observe(o.ttft);
    this.ctx.log.info({
      reqId: o.requestId, model: o.model, api: o.api, status, stream: o.stream, ms: Math.round(seconds * 1e5) / 100,
      ttft_ms: o.ttft === null ? null : Math.round(o.ttft * 1e5) / 100, prompt_tokens: o.usage?.prompt ?? null, completion_tokens: o.usage?.completion ?? null,
      ...(o.outcome ? { outcome: o.outcome } : {}),
    }, "inference");
  }
}

/** One request being measured: first token, usage, end (whichever of end/cancel comes first counts). */
export class Observation {
  readonly #start = performance.now();
  ttft: number | null = null;
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
    this.metrics.end(this, this.series, status, (performance.now() - this.#start) / 1000);
  }
}

/** A stream whose chunks are handed to `onChunk` (which may replace them) and whose end or cancel ends `o`. */
export function measuredStream(body: ReadableStream<Uint8Array>, o: Observation, status: number, onChunk?: (chunk: Uint8Array) => Uint8Array | null): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          o.end(status);
          return controller.close();
        }
        const out = onChunk ? onChunk(value) : value;
        if (out && out.byteLength > 0) controller.enqueue(out);
      } catch (error) {
        o.outcome = "upstream failed mid-stream";
        o.end(status);
        controller.error(error);
      }
    },
    cancel(reason) {
      o.outcome = "client left";
      o.end(status);
      return reader.cancel(reason);
    },
  });
}
