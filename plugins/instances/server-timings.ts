/**
 * llama.cpp's per-request timing lines (`slot print_timing: ... prompt eval time = ...`, `eval time`,
 * `total time`) read from its log and turned into per-model Prometheus metrics: prompt and generation
 * time, time to first token and tokens per second as the server itself measured them.
 */
import type { PluginContext } from "gantry/plugin";

/** One request's numbers from a llama-server timing block. */
export interface ServerTiming {
  promptMs: number;
  promptTokens: number;
  evalMs: number;
  evalTokens: number;
}

// `0.01.540.607 I slot print_timing: id  3 | task 0 | prompt eval time =   1.05 ms /    20 tokens (...)`
const TIMING = /print_timing: id\s+\d+ \| task (\d+) \|\s+(prompt eval|eval|total) time =\s+([\d.]+) ms \/\s+(\d+) tokens/;

/** Collects the lines of each task's timing block; hands a whole block over at its `total time` line. */
export class TimingLines {
  readonly #open = new Map<string, Partial<ServerTiming>>();

  constructor(private readonly onTiming: (timing: ServerTiming) => void) {}

  /** Reads one log line; most lines are rejected by the `includes` before any regex runs. */
  feed(line: string): void {
    if (!line.includes("print_timing")) return;
    const match = TIMING.exec(line);
    if (!match) return;
    const [, task, kind, ms, tokens] = match as unknown as [string, string, string, string, string];
    const timing = this.#open.get(task) ?? {};
    if (kind === "prompt eval") this.#open.set(task, { ...timing, promptMs: Number(ms), promptTokens: Number(tokens) });
    else if (kind === "eval") this.#open.set(task, { ...timing, evalMs: Number(ms), evalTokens: Number(tokens) });
    else {
      this.#open.delete(task);
      if (timing.promptMs !== undefined && timing.evalMs !== undefined) this.onTiming(timing as ServerTiming);
    }
    // A server that never printed a block's end must not grow this map without bound.
    if (this.#open.size > 1024) this.#open.clear();
  }
}

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** The metrics a timing block feeds, labelled by model (the instance's name). */
export class ServerTimingMetrics {
  readonly #prompt;
  readonly #eval;
  readonly #ttft;
  readonly #rate;

  constructor(metrics: PluginContext["metrics"]) {
    const histogram = (name: string, help: string) => metrics.histogram({ name, help, labelNames: ["model"], buckets: SECONDS });
    this.#prompt = histogram("gantry_model_server_prompt_seconds", "Prompt processing time per request, as llama.cpp's print_timing reports it");
    this.#eval = histogram("gantry_model_server_eval_seconds", "Generation time per request, as llama.cpp's print_timing reports it");
    this.#ttft = histogram("gantry_model_server_ttft_seconds", "Time to first token inside the model server: prompt time plus one generated token (llama.cpp's print_timing)");
    this.#rate = metrics.gauge({ name: "gantry_model_server_tokens_per_second", help: "Tokens per second of the last request with timings (phase: prompt or eval)", labelNames: ["model", "phase"] });
  }

  /** Records one request's timing for `model`. */
  observe(model: string, t: ServerTiming): void {
    const labels = { model };
    this.#prompt.observe(labels, t.promptMs / 1000);
    this.#eval.observe(labels, t.evalMs / 1000);
    const firstToken = t.evalTokens > 0 ? t.evalMs / t.evalTokens : 0;
    this.#ttft.observe(labels, (t.promptMs + firstToken) / 1000);
    if (t.promptMs > 0) this.#rate.set({ model, phase: "prompt" }, (t.promptTokens * 1000) / t.promptMs);
    if (t.evalMs > 0) this.#rate.set({ model, phase: "eval" }, (t.evalTokens * 1000) / t.evalMs);
  }
}
