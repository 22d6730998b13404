/**
 * Works batch runs: `concurrency` workers per run take pending lines one at a time, run the line's
 * agent to its end (through the agent plugin's `agent-runs` service) and record the outcome, the
 * agent run and its tool calls; `batch_progress` events report each line.
 */
import type { AgentRunsService, CommandCaller, KeepScope } from "gantry/plugin";
import type { BatchStore, ItemRow } from "./batch-store.ts";

/**
 * The runner is kept across plugin reloads: lines in flight (an agent run waiting at an approval
 * gate, for one) go on, and the new generation finds the runs already being worked. Progress
 * events go out through the newest generation's context.
 */

export class BatchRunner {
  readonly #active = new Set<string>();
  readonly #callers = new Map<string, CommandCaller>();
  #stopping = false;
  #settings: () => { concurrency: number; claimMs: number } = () => ({ concurrency: 1, claimMs: 30_000 });
  #renewal: ReturnType<typeof setInterval> | undefined;

  /** `claimer`: this gantry process (claims of a process that died lapse; this one's are renewed while it works). */
  constructor(private readonly scope: KeepScope, private readonly store: BatchStore, private readonly agents: AgentRunsService, private readonly claimer: string) {}

  /** Called by each generation at setup. */
  configure(settings: () => { concurrency: number; claimMs: number }): void {
    this.#settings = settings;
  }

  isActive(runId: string): boolean {
    return this.#active.has(runId);
  }

  /** Works the run's pending lines in the background until none is left. */
  start(runId: string): void {
    if (this.#active.has(runId) || this.#stopping) return;
    this.#active.add(runId);
    this.#renewWhileActive();
    const workers = Array.from({ length: Math.max(1, this.#settings().concurrency) }, () => this.#work(runId));
    void this.scope.track(Promise.all(workers).finally(() => {
      this.#active.delete(runId);
      this.#callers.delete(runId);
      if (this.#active.size === 0) this.#stopRenewal();
    }));
  }

  /**
   * Stops taking lines (the plugin goes away); lines in flight still finish and are recorded.
   * A run left running is interrupted at the next start (resume it then).
   */
  stop(): void {
    this.#stopping = true;
    this.#stopRenewal();
  }

  /** While lines run (an agent may wait hours at an approval gate), their claims are renewed every claim_timeout_s / 3. */
  #renewWhileActive(): void {
    if (this.#renewal) return;
    const everyMs = Math.max(100, this.#settings().claimMs / 3);
    // A plain interval: the runner is kept across reloads, and stop() (the plugin going away) clears it.
    this.#renewal = setInterval(() => {
      void this.store.renewClaims(this.claimer, this.#settings().claimMs).catch(() => {}); // a missed renewal only shortens the claim
    }, everyMs);
  }

  #stopRenewal(): void {
    clearInterval(this.#renewal);
    this.#renewal = undefined;
  }

  async #work(runId: string): Promise<void> {
    const claim = () => this.store.claim(runId, this.claimer, this.#settings().claimMs);
    for (let item = await claim(); item; item = this.#stopping ? undefined : await claim()) {
      await this.#runLine(runId, item);
      const counts = await this.store.counts(runId);
      const done = counts.pending + counts.running === 0;
      // Whichever worker (of whichever plugin instance) finishes the last line completes the run.
      if (done) await this.store.setStatus(runId, "completed");
      this.scope.ctx.emit("batch_progress", { run_id: runId, status: done ? "completed" : "running", line: item.line, ...counts });
    }
  }

  /** A run's agents get the tools of whoever submitted (or resumed) it, as stored with the run: the same on every node. */
  async #callerOf(runId: string): Promise<CommandCaller> {
    let caller = this.#callers.get(runId);
    if (!caller) {
      caller = { role: (await this.store.run(runId))?.role ?? "operator" };
      this.#callers.set(runId, caller);
    }
    return caller;
  }

  async #runLine(runId: string, item: ItemRow): Promise<void> {
    try {
      const run = await this.agents.run(item.agent, item.input, `batch:${runId}`, await this.#callerOf(runId));
      const toolCalls = (run.steps as { type: string; tool?: string; outcome?: string }[])
        .filter((s) => s.type === "tool").map((s) => ({ tool: String(s.tool), outcome: String(s.outcome) }));
      await this.store.finish(runId, item.line, {
        status: run.status === "succeeded" ? "succeeded" : "failed", output: run.output, error: run.error, agentRunId: run.id, toolCalls,
      });
    } catch (error) {
      await this.store.finish(runId, item.line, { status: "failed", output: null, error: (error as Error).message, agentRunId: null, toolCalls: [] });
    }
  }
}
