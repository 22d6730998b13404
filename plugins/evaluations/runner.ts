/**
 * Works evaluation runs: `concurrency` workers per run take the pending rows, ask the model through
 * the inference service (the proxy's path to the instance), score the answer with every metric and
 * record it; `evaluation_progress` events report progress (at most every 250 ms, and at the end),
 * and the last row writes the report.
 */
import type { InferenceService, KeepScope } from "gantry/plugin";
import { score, type MetricSpec, type ScoringTools } from "./metrics.ts";
import { summarize } from "./report.ts";
import type { EvaluationRow, EvaluationStore } from "./store.ts";

const textOf = (answer: Record<string, unknown>) => String((answer.choices as { message?: { content?: string | null } }[] | undefined)?.[0]?.message?.content ?? "");

/**
 * The runner is kept across plugin reloads (ctx.keep): rows in flight go on, and the new
 * generation finds its runs already being worked. Events and logs go through the newest
 * generation's context; `scope.signal` aborts only when the plugin goes away.
 */
export class EvaluationRunner {
  readonly #active = new Set<string>();
  /** When each run last reported progress. */
  readonly #reported = new Map<string, number>();
  #stopping = false;

  #settings: () => { concurrency: number; rowTimeoutS: number } = () => ({ concurrency: 1, rowTimeoutS: 120 });

  constructor(private readonly scope: KeepScope, private readonly store: EvaluationStore, private readonly inference: InferenceService) {}

  /** Called by each generation at setup. */
  configure(settings: () => { concurrency: number; rowTimeoutS: number }): void {
    this.#settings = settings;
  }

  isActive(id: string): boolean {
    return this.#active.has(id);
  }

  /** Works the run's pending rows in the background until none is left. */
  start(run: EvaluationRow): void {
    if (this.#active.has(run.id) || this.#stopping) return;
    this.#active.add(run.id);
    const started = performance.now();
    void this.scope.track((async () => {
      const queue = await this.store.pending(run.id);
      const workers = Array.from({ length: Math.max(1, this.#settings().concurrency) }, () => this.#work(run, queue, started));
      await Promise.all(workers);
    })().catch((error) => this.scope.ctx.log.error({ evaluation: run.id, err: (error as Error).message }, "evaluation worker failed"))
      .finally(() => {
        this.#active.delete(run.id);
        this.#reported.delete(run.id);
      }));
  }

  /** Stops taking rows (the plugin goes away); a run left running is interrupted at the next start. */
  stop(): void {
    this.#stopping = true;
  }

  #tools(run: EvaluationRow, signal: AbortSignal): ScoringTools {
    return {
      judge: run.spec.judge,
      embed: async (model, texts) => {
        const answer = await this.inference.embeddings({ model, input: texts }, signal);
        return ((answer.data as { index: number; embedding: number[] }[]) ?? []).sort((a, b) => a.index - b.index).map((d) => new Float32Array(d.embedding));
      },
      chat: async (model, messages) => textOf(await this.inference.chatCompletion({ model, messages, temperature: 0 }, signal)),
    };
  }

  async #work(run: EvaluationRow, queue: number[], started: number): Promise<void> {
    for (let next = queue.shift(); next !== undefined; next = this.#stopping ? undefined : queue.shift() ?? (await this.#refill(run.id, queue))) {
      await this.#runRow(run, next);
      // Counting rows costs a query: done once the queue is empty, else at most every 250 ms for progress.
      const last = queue.length === 0;
      if (!last && performance.now() - (this.#reported.get(run.id) ?? 0) < 250) continue;
      this.#reported.set(run.id, performance.now());
      const counts = await this.store.counts(run.id);
      const done = counts.pending + counts.running === 0;
      if (done && (await this.store.get(run.id))?.status === "running") {
        await this.store.setStatus(run.id, "completed", await summarize(this.store, run.id, run.spec, performance.now() - started));
      }
      this.scope.ctx.emit("evaluation_progress", { evaluation_id: run.id, status: done ? "completed" : "running", row: next, total: run.total, ...counts });
    }
  }

  /** Rows put back to pending (by an instance that stopped mid-row) after this one read its queue. */
  async #refill(id: string, queue: number[]): Promise<number | undefined> {
    queue.push(...(await this.store.pending(id)));
    return queue.shift();
  }

  /** A row whose call failed because the plugin is going away goes back to pending: it was not the model's failure. */
  async #release(run: EvaluationRow, rowNumber: number): Promise<void> {
    await this.store.update(run.id, rowNumber, { status: "pending" });
  }

  async #runRow(run: EvaluationRow, rowNumber: number): Promise<void> {
    const row = await this.store.claim(run.id, rowNumber);
    if (!row) return;
    const signal = AbortSignal.any([this.scope.signal, AbortSignal.timeout(this.#settings().rowTimeoutS * 1000)]);
    const messages = [...(run.spec.system_prompt ? [{ role: "system", content: run.spec.system_prompt }] : []), { role: "user", content: row.input }];
    const started = performance.now();
    let answer: Record<string, unknown>;
    try {
      answer = await this.inference.chatCompletion({ ...run.spec.parameters, model: run.model, messages }, signal);
    } catch (error) {
      if (this.scope.signal.aborted) return this.#release(run, rowNumber);
      await this.store.update(run.id, rowNumber, { status: "failed", error: (error as Error).message, latencyMs: performance.now() - started, finishedAt: new Date(), scores: {}, notes: {} });
      return;
    }
    const latencyMs = performance.now() - started;
    const output = textOf(answer);
    const usage = (answer.usage ?? {}) as { prompt_tokens?: number; completion_tokens?: number };
    const scores: Record<string, number> = {};
    const notes: Record<string, string> = {};
    const tools = this.#tools(run, signal);
    for (const metric of run.spec.metrics as MetricSpec[]) {
      try {
        const result = await score(metric, { input: row.input, expected: row.expected, output }, tools);
        scores[metric.name] = result.score;
        if (result.note) notes[metric.name] = result.note;
      } catch (error) {
        if (this.scope.signal.aborted) return this.#release(run, rowNumber);
        scores[metric.name] = 0;
        notes[metric.name] = `could not score: ${(error as Error).message}`;
      }
    }
    await this.store.update(run.id, rowNumber, {
      status: "succeeded", output, latencyMs, promptTokens: usage.prompt_tokens ?? null, completionTokens: usage.completion_tokens ?? null, scores, notes, finishedAt: new Date(),
    });
  }
}
