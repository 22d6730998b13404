/**
 * Drives pipeline runs: phases whose `needs` are done run in parallel up to a limit, each through
 * its `when`, its approval gate and its attempts (retry with backoff, timeout); every step goes to
 * the journal and out as a `pipeline_event`. State lives in the database, so a run a stopped
 * process left behind resumes from its last completed phase.
 */
import type { ApprovalsService, KeepScope } from "gantry/plugin";
import { artifactsInOutput, outputAsFile, saveArtifact } from "./artifacts.ts";
import { holds, interpolate, type Scope } from "./expressions.ts";
import { runAttempt, type PhaseServices } from "./phase-kinds.ts";
import type { PhaseState, RunState } from "./schema.ts";
import type { PipelineStore, RunRow, RunStarter } from "./store.ts";
import type { Phase, Template } from "./templates.ts";

export interface EngineDependencies extends PhaseServices {
  approvals: () => ApprovalsService | undefined;
  template: (name: string) => Promise<Template | undefined>;
  settings: () => { maxParallel: number; dataDir: string };
}

const DONE: PhaseState[] = ["succeeded", "skipped"];
const FINISHED: RunState[] = ["succeeded", "failed", "cancelled"];
const GATE_POLL_MS = 200;

/** A promise that resolves when any of the signals aborts (never rejects), and `release` to drop its listeners. */
function whenAborted(...signals: AbortSignal[]): { promise: Promise<void>; release: () => void } {
  let release = () => {};
  const promise = new Promise<void>((resolve) => {
    const done = () => {
      release();
      resolve();
    };
    release = () => signals.forEach((s) => s.removeEventListener("abort", done));
    if (signals.some((s) => s.aborted)) return done();
    signals.forEach((s) => s.addEventListener("abort", done, { once: true }));
  });
  return { promise, release };
}

/**
 * Kept across plugin reloads (`ctx.keep`): runs in flight, waiting at a gate or inside an agent
 * phase, go on under the new generation, whose services and settings `configure` re-points.
 */
export class PipelineEngine {
  /** Run id → its cancel controller, for the runs this process drives. */
  readonly #active = new Map<string, AbortController>();
  readonly #driving = new Map<string, Promise<unknown>>();
  readonly #stop = new AbortController();
  #deps: EngineDependencies | undefined;

  constructor(private readonly scope: KeepScope, private readonly store: PipelineStore) {}

  configure(deps: EngineDependencies): void {
    this.#deps = deps;
  }

  private get deps(): EngineDependencies {
    return this.#deps!;
  }

  isActive(runId: string): boolean {
    return this.#active.has(runId);
  }

  /** Stops driving (the plugin goes away): runs stay `running` in the database and are interrupted at the next start. */
  stop(): void {
    this.#stop.abort();
  }

  /** Records a new run and starts it in the background. */
  async start(template: Template, inputs: Record<string, unknown>, starter: RunStarter, parentRunId: string | null = null): Promise<RunRow> {
    const run = await this.store.create(template, inputs, starter, parentRunId);
    await this.journal(run.id, "run_started", null, { template: template.name, inputs, actor: starter.actor, role: starter.role, parent_run_id: parentRunId });
    this.drive(run.id);
    return run;
  }

  /** Works a run marked running until it ends (no-op when this process already does). */
  drive(runId: string): void {
    if (this.#active.has(runId) || this.#stop.signal.aborted) return;
    const cancel = new AbortController();
    this.#active.set(runId, cancel);
    const driving = this.#drive(runId, cancel.signal)
      .catch((error) => this.scope.ctx.log.error({ err: error, run_id: runId }, "pipeline run stopped by an error"))
      .finally(() => {
        this.#active.delete(runId);
        this.#driving.delete(runId);
      });
    this.#driving.set(runId, driving);
    void this.scope.track(driving);
  }

  /** Resolves once this process no longer drives the run (its end is recorded a moment before the loop returns), or after `ms`. */
  async settled(runId: string, ms: number): Promise<void> {
    const driving = this.#driving.get(runId);
    if (!driving) return;
    let cancelTimer = () => {};
    await Promise.race([driving, new Promise<void>((resolve) => (cancelTimer = this.scope.setTimeout(() => resolve(), ms)))]);
    cancelTimer();
  }

  /** Soft cancel: no phase starts any more, gates and backoffs stop waiting, running steps finish. */
  async cancel(runId: string): Promise<void> {
    await this.store.requestCancel(runId);
    this.#active.get(runId)?.abort();
  }

  /** Appends to the journal and announces it (the run's stream and /api/v1/ws). */
  async journal(runId: string, kind: string, phase: string | null, data: Record<string, unknown>): Promise<void> {
    const row = await this.store.append(runId, kind, phase, data);
    this.scope.ctx.emit("pipeline_event", { run_id: runId, seq: row.seq, at: row.at.toISOString(), phase, kind, data });
  }

  async #drive(runId: string, cancel: AbortSignal): Promise<void> {
    const wake = whenAborted(cancel, this.#stop.signal);
    try {
      await this.#work(runId, cancel, wake.promise);
    } finally {
      wake.release();
    }
  }

  async #work(runId: string, cancel: AbortSignal, woken: Promise<void>): Promise<void> {
    const inflight = new Map<string, Promise<void>>();
    for (;;) {
      const run = await this.store.run(runId);
      if (!run || run.state !== "running") return;
      const phases = new Map((await this.store.phases(runId)).map((p) => [p.name, p]));
      const stopping = this.#stop.signal.aborted;
      const cancelling = run.cancelRequested || cancel.aborted;
      if (stopping || cancelling) {
        await Promise.allSettled(inflight.values());
        if (!stopping) await this.#finish(run, true);
        return;
      }
      const failed = [...phases.values()].some((p) => p.state === "failed");
      const limit = run.definition.maxParallel ?? this.deps.settings().maxParallel;
      for (const phase of failed ? [] : run.definition.phases) {
        if (inflight.size >= limit) break;
        if (phases.get(phase.name)?.state !== "pending" || inflight.has(phase.name)) continue;
        if (!phase.needs.every((n) => DONE.includes(phases.get(n)?.state ?? "pending"))) continue;
        inflight.set(phase.name, this.#runPhase(run, phase, cancel)
          .catch((error) => this.scope.ctx.log.error({ err: error, run_id: runId, phase: phase.name }, "pipeline phase stopped by an error"))
          .finally(() => inflight.delete(phase.name)));
      }
      if (inflight.size === 0) return void (await this.#finish(run, false));
      await Promise.race([...inflight.values(), woken]);
    }
  }

  async #finish(run: RunRow, cancelled: boolean): Promise<void> {
    const phases = await this.store.phases(run.id);
    const failed = phases.filter((p) => p.state === "failed");
    const state: RunState = cancelled ? "cancelled" : failed.length > 0 || phases.some((p) => !DONE.includes(p.state)) ? "failed" : "succeeded";
    const error = state === "failed" ? failed.map((p) => `${p.name}: ${p.error}`).join("; ") || "phases could not run" : null;
    if (!(await this.store.setState(run.id, state, ["running"], { error, finishedAt: new Date() }))) return;
    await this.journal(run.id, `run_${state}`, null, { error, outputs: Object.fromEntries(phases.filter((p) => p.state === "succeeded").map((p) => [p.name, p.output])) });
  }

  async scopeOf(run: RunRow, attempt: number): Promise<Scope> {
    const phases = Object.fromEntries((await this.store.phases(run.id)).map((p) => [p.name, { state: p.state, output: p.output }]));
    return { run: { id: run.id }, inputs: run.inputs, phases, attempt };
  }

  async #runPhase(run: RunRow, phase: Phase, cancel: AbortSignal): Promise<void> {
    const claimed = await this.store.claimPhase(run.id, phase.name, "running");
    if (!claimed) return;
    if (phase.when && !holds(phase.when, await this.scopeOf(run, 1))) {
      await this.store.updatePhase(run.id, phase.name, { state: "skipped", finishedAt: new Date() });
      return this.journal(run.id, "phase_skipped", phase.name, { when: `${phase.when.left} ${phase.when.op} ${phase.when.right}`.trim() });
    }
    if (phase.gate && !(await this.#gate(run, phase, claimed.gateId, cancel))) return;
    for (let attempt = 1; attempt <= phase.retry.attempts; attempt++) {
      await this.store.updatePhase(run.id, phase.name, { state: "running", attempts: attempt });
      await this.journal(run.id, "phase_started", phase.name, { kind: phase.kind, attempt });
      try {
        const output = await this.#attempt(run, phase, attempt, cancel);
        await this.#saveArtifacts(run, phase, output);
        await this.store.updatePhase(run.id, phase.name, { state: "succeeded", output: output ?? null, error: null, agent: null, finishedAt: new Date() });
        return this.journal(run.id, "phase_succeeded", phase.name, { attempt, output: output ?? null });
      } catch (error) {
        if (this.#stop.signal.aborted) return; // the process goes away: the phase stays running and is requeued on resume
        const message = (error as Error).message;
        for (const step of (error as { steps?: { kind: string; data: Record<string, unknown> }[] }).steps ?? []) await this.journal(run.id, step.kind, phase.name, step.data);
        await this.journal(run.id, "phase_attempt_failed", phase.name, { attempt, error: message });
        const last = attempt === phase.retry.attempts || cancel.aborted;
        if (last) {
          await this.store.updatePhase(run.id, phase.name, { state: "failed", error: message, agent: null, finishedAt: new Date() });
          return this.journal(run.id, "phase_failed", phase.name, { attempts: attempt, error: message });
        }
        const delay = phase.retry.backoffMs * 2 ** (attempt - 1);
        await this.journal(run.id, "phase_retry", phase.name, { next_attempt: attempt + 1, delay_ms: delay });
        await this.#sleep(delay, cancel);
        if (cancel.aborted) {
          await this.store.updatePhase(run.id, phase.name, { state: "failed", error: "cancelled before retrying", finishedAt: new Date() });
          return;
        }
      }
    }
  }

  /** One attempt, bounded by the phase's timeout (the step itself cannot be interrupted; its late answer is dropped). */
  async #attempt(run: RunRow, phase: Phase, attempt: number, cancel: AbortSignal): Promise<unknown> {
    const scope = await this.scopeOf(run, attempt);
    const work = phase.kind === "pipeline" ? this.#nested(run, phase, scope, cancel)
      : runAttempt(phase, scope, this.deps, { actor: `pipeline:${run.id}`, role: run.role }, (agent) => this.store.updatePhase(run.id, phase.name, { agent })).then(async (result) => {
        for (const step of result.steps) await this.journal(run.id, step.kind, phase.name, step.data);
        return result.output;
      });
    void this.scope.track(work.catch(() => {}));
    const stopping = whenAborted(this.#stop.signal);
    const stop = stopping.promise.then(() => Promise.reject(new Error("gantry is stopping")));
    let cancelTimer = () => {};
    const timeout = phase.timeoutS === null ? [] : [new Promise<never>((_, reject) => (cancelTimer = this.scope.setTimeout(() => reject(new Error(`timed out after ${phase.timeoutS} s`)), phase.timeoutS! * 1000)))];
    return Promise.race([work, stop, ...timeout]).finally(() => {
      cancelTimer();
      stopping.release();
      stop.catch(() => {});
    });
  }

  /** A nested run (the one started before a restart is continued, not started again); its outputs are the phase's output. */
  async #nested(run: RunRow, phase: Phase, scope: Scope, cancel: AbortSignal): Promise<unknown> {
    const name = interpolate(phase.target, scope);
    const template = await this.deps.template(name);
    if (!template) throw new Error(`no valid pipeline template '${name}'`);
    if (run.actor.split(">").length > 5) throw new Error("pipelines nest at most 5 deep");
    const inputs = Object.fromEntries(Object.entries(phase.inputs).map(([k, v]) => [k, typeof v === "string" ? interpolate(v, scope) : v]));
    let child = await this.store.childRun(run.id, name);
    if (!child || child.state === "failed" || child.state === "cancelled") child = await this.start(template, inputs, { actor: `${run.actor}>pipeline:${run.id}`, role: run.role }, run.id);
    else if (child.state === "interrupted" && (await this.store.setState(child.id, "running", ["interrupted"]))) {
      await this.store.requeuePhases(child.id);
      this.drive(child.id);
    }
    await this.journal(run.id, "nested_run", phase.name, { run_id: child.id, template: name });
    // Cancelling the parent cancels the nested run the same soft way.
    const propagate = () => void this.cancel(child.id);
    cancel.addEventListener("abort", propagate, { once: true });
    if (cancel.aborted) propagate();
    try {
      return await this.#awaitNested(child.id);
    } finally {
      cancel.removeEventListener("abort", propagate);
    }
  }

  async #awaitNested(childId: string): Promise<unknown> {
    const child = { id: childId };
    for (;;) {
      const now = await this.store.run(child.id);
      if (!now || FINISHED.includes(now.state)) {
        if (now?.state !== "succeeded") throw new Error(`nested run ${child.id} ${now?.state ?? "vanished"}${now?.error ? `: ${now.error}` : ""}`);
        return Object.fromEntries((await this.store.phases(child.id)).filter((p) => p.state === "succeeded").map((p) => [p.name, p.output]));
      }
      if (this.#stop.signal.aborted) throw new Error("gantry is stopping");
      await this.#sleep(50, this.#stop.signal);
    }
  }

  /** Waits for a human decision at /api/v1/approvals; false when the phase must not run now (rejected, cancelled). */
  async #gate(run: RunRow, phase: Phase, existing: string | null, cancel: AbortSignal): Promise<boolean> {
    const approvals = this.deps.approvals();
    if (!approvals) {
      await this.store.updatePhase(run.id, phase.name, { state: "failed", error: "gates need the agent plugin (the approvals service is not offered)" });
      return false;
    }
    let gateId = existing;
    for (;;) {
      let gate = gateId ? await approvals.status(gateId) : undefined;
      if (!gate || gate.status === "expired") {
        const message = interpolate(phase.gate!.message, await this.scopeOf(run, 1));
        gateId = (await approvals.open({ runId: run.id, agent: `pipeline:${run.template}`, tool: `gate:${phase.name}`, arguments: { run_id: run.id, phase: phase.name, message } })).id;
        await this.store.updatePhase(run.id, phase.name, { state: "waiting_gate", gateId });
        await this.journal(run.id, "gate_requested", phase.name, { gate_id: gateId, message });
        gate = { status: "pending", decidedBy: null, note: null };
      } else await this.store.updatePhase(run.id, phase.name, { state: "waiting_gate" });
      while (gate?.status === "pending") {
        await this.#sleep(GATE_POLL_MS, cancel);
        if (cancel.aborted || this.#stop.signal.aborted) return false;
        gate = await approvals.status(gateId!);
      }
      if (gate?.status === "approved") {
        await this.journal(run.id, "gate_approved", phase.name, { gate_id: gateId, by: gate.decidedBy, note: gate.note });
        return true;
      }
      if (gate?.status === "rejected") {
        const error = `gate rejected by ${gate.decidedBy ?? "someone"}${gate.note ? `: ${gate.note}` : ""}`;
        await this.store.updatePhase(run.id, phase.name, { state: "failed", error, finishedAt: new Date() });
        await this.journal(run.id, "gate_rejected", phase.name, { gate_id: gateId, by: gate.decidedBy, note: gate.note });
        return false;
      }
    }
  }

  async #saveArtifacts(run: RunRow, phase: Phase, output: unknown): Promise<void> {
    const files = artifactsInOutput(output);
    if (phase.artifact) files.push(outputAsFile(interpolate(phase.artifact.name, await this.scopeOf(run, 1)), phase.artifact.mediaType, output));
    for (const file of files) {
      const saved = await saveArtifact(this.store, this.deps.settings().dataDir, run.id, phase.name, file);
      await this.journal(run.id, "artifact", phase.name, { artifact_id: saved.id, name: saved.name, media_type: saved.mediaType, size: saved.size, sha256: saved.sha256 });
    }
  }

  /** Sleeps `ms` on a kernel timer; returns early when the signal aborts. */
  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        cancelTimer();
        signal.removeEventListener("abort", done);
        resolve();
      };
      const cancelTimer = this.scope.setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}
