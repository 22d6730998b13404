/**
 * Runs cron jobs: one croner timer per enabled job, one run at a time per job (a tick that finds
 * the previous run still going is recorded as `skipped`), each run bounded by the job's timeout,
 * recorded, counted and announced as a `cron_run` event. In a cluster every node keeps the timers
 * but only the leader fires; each tick is recorded once (unique per job and tick time), so a tick
 * two nodes both believed theirs still runs once.
 */
import { Cron } from "croner";
import type { CommandInvocation, CoreClusterService, CoreCommandsService, KeepScope, PluginContext } from "gantry/plugin";
import { CronErrors, type JobRow, type JobStore, type RunRow, type RunStatus } from "./job-store.ts";

/** Jobs are created and changed by admins only (the cron routes' role), so they run with that role. */
const CRON_CALLER = { role: "admin" } as const;

/** A run that started: recorded, and `finished` when it ends. */
export interface Started {
  run: RunRow;
  finished: Promise<RunRow>;
}

export interface SchedulerSettings {
  historyPerJob: number;
  maxResultBytes: number;
}

/** What the scheduler takes from the plugin generation that serves now (re-pointed at each reload). */
export interface SchedulerDependencies {
  settings: () => SchedulerSettings;
  runs: ReturnType<PluginContext["metrics"]["counter"]>;
  seconds: ReturnType<PluginContext["metrics"]["histogram"]>;
  /** Settles once every plugin present at startup is set up: a job's command may belong to one set up after cron. */
  pluginsStarted: () => Promise<void>;
}

/** Throws SCHEDULE_INVALID / TIMEZONE_INVALID; returns the next run times for the expression. */
export function checkSchedule(schedule: string, timezone: string | null | undefined, count = 1): Date[] {
  if (timezone) {
    try {
      new Intl.DateTimeFormat("en", { timeZone: timezone });
    } catch {
      throw CronErrors.TIMEZONE_INVALID([timezone]);
    }
  }
  let probe: Cron;
  try {
    probe = new Cron(schedule, { paused: true, timezone: timezone ?? undefined });
  } catch (error) {
    throw CronErrors.SCHEDULE_INVALID([schedule, (error as Error).message]);
  }
  const next = probe.nextRuns(count);
  probe.stop();
  return next;
}

/**
 * The scheduler is kept across plugin reloads: a run in progress finishes and is recorded and
 * announced (through the newest generation's context), and busy jobs stay busy.
 */
export class CronScheduler {
  readonly #timers = new Map<string, Cron>();
  /** Job id → the run in progress (kept until the command settles, even past a timeout). */
  readonly #busy = new Map<string, Promise<unknown>>();
  #stopped = false;
  #deps: SchedulerDependencies | undefined;

  constructor(private readonly scope: KeepScope, private readonly store: JobStore, private readonly commands: CoreCommandsService, private readonly cluster: CoreClusterService) {}

  /** Called by each generation at setup. */
  configure(deps: SchedulerDependencies): void {
    this.#deps = deps;
  }

  private get ctx(): PluginContext {
    return this.scope.ctx;
  }
  private settings(): SchedulerSettings {
    return this.#deps!.settings();
  }

  /** (Re)arms the timer of a job after it was created or changed; a disabled job has none. */
  arm(job: JobRow): void {
    this.disarm(job.id);
    if (!job.enabled) return;
    const timer = new Cron(job.schedule, { timezone: job.timezone ?? undefined, unref: true, catch: true }, () => {
      // Cron ticks fall on whole seconds; croner calls a few ms after.
      const tick = new Date(Math.floor(Date.now() / 1000) * 1000);
      void this.#fire(job, tick).then(
        (started) => started?.finished.catch((error) => this.ctx.log.error({ job: job.name, err: (error as Error).message }, "cron run could not be recorded")),
        (error) => this.ctx.log.error({ job: job.name, err: (error as Error).message }, "cron run could not start"),
      );
    });
    this.#timers.set(job.id, timer);
  }

  disarm(jobId: string): void {
    this.#timers.get(jobId)?.stop();
    this.#timers.delete(jobId);
  }

  nextRun(jobId: string): Date | null {
    return this.#timers.get(jobId)?.nextRun() ?? null;
  }

  isBusy(jobId: string): boolean {
    return this.#busy.has(jobId);
  }

  stopAll(): void {
    this.#stopped = true;
    for (const id of [...this.#timers.keys()]) this.disarm(id);
  }

  /** A scheduled tick: only the leader fires, after asking the database it still leads; undefined when not fired here. */
  async #fire(job: JobRow, tick: Date): Promise<Started | undefined> {
    // A tick during startup waits for the plugins still being set up, then runs (late) with the command registered.
    await this.#deps!.pluginsStarted();
    // Stopped meanwhile (a reload during startup): the next generation fires this tick, not this one.
    if (this.#stopped || !this.cluster.isLeader) return undefined;
    if (this.cluster.enabled && !(await this.cluster.confirmLeadership())) return undefined;
    return this.#begin(job.id, "schedule", `cron:${job.name}`, tick);
  }

  /**
   * Starts a run of a job now: the run is recorded before this returns, `finished` resolves when it
   * ends. A manual run while the job is busy throws JOB_RUNNING (409), as an unknown job throws JOB_NOT_FOUND.
   */
  async start(jobId: string, trigger: RunRow["trigger"], actor: string): Promise<Started> {
    return (await this.#begin(jobId, trigger, actor, null))!;
  }

  /**
   * A scheduled tick (`tick` set) while the job is busy is recorded as skipped; one already recorded
   * (by this or another node) gives undefined.
   */
  async #begin(jobId: string, trigger: RunRow["trigger"], actor: string, tick: Date | null): Promise<Started | undefined> {
    const job = await this.store.get(jobId);
    if (this.#busy.has(jobId)) {
      if (trigger === "manual") throw CronErrors.JOB_RUNNING([job.name]);
      const recorded = await this.store.startRun(jobId, trigger, actor, tick, "skipped", "the previous run was still going");
      if (!recorded) return undefined;
      const skipped = await this.#finished(job, recorded);
      return { run: skipped, finished: Promise.resolve(skipped) };
    }
    // Busy from here, before the next await, so a second start cannot slip in while the run is recorded.
    let ended!: () => void;
    this.#busy.set(jobId, new Promise<void>((resolve) => (ended = resolve)).finally(() => this.#busy.delete(jobId)));
    let run: RunRow | undefined;
    try {
      run = await this.store.startRun(jobId, trigger, actor, tick);
    } catch (error) {
      ended();
      throw error;
    }
    if (!run) {
      ended();
      return undefined;
    }
    const parsed = this.commands.parse(job.command);
    const invocation = parsed ? this.commands.invoke(parsed.qname, parsed.arguments, CRON_CALLER) : Promise.reject(CronErrors.COMMAND_INVALID([job.command]));
    void invocation.then(ended, ended);
    return { run, finished: this.scope.track(this.#complete(job, run, invocation)) };
  }

  /** Waits for the command (at most the job's timeout) and records the outcome. */
  async #complete(job: JobRow, run: RunRow, invocation: Promise<CommandInvocation>): Promise<RunRow> {
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), job.timeoutS * 1000)));
    let outcome: { status: RunStatus; result: string | null; error: string | null };
    try {
      const answer = await Promise.race([invocation, timeout]);
      outcome = answer === "timeout"
        ? { status: "timed_out", result: null, error: `did not finish within ${job.timeoutS} s; the command goes on in the background and the job's next ticks are skipped until it ends` }
        : { status: "succeeded", result: this.#serialize(answer), error: null };
    } catch (error) {
      outcome = { status: "failed", result: null, error: (error as Error).message };
    } finally {
      clearTimeout(timer);
    }
    const durationMs = Math.round(performance.now() - started);
    this.#deps!.seconds.observe(durationMs / 1000);
    return this.#finished(job, await this.store.finishRun(run.id, { ...outcome, durationMs }));
  }

  async #finished(job: JobRow, run: RunRow): Promise<RunRow> {
    this.#deps!.runs.inc({ status: run.status });
    await this.store.prune(job.id, this.settings().historyPerJob);
    this.ctx.emit("cron_run", { job_id: job.id, job: job.name, run_id: run.id, trigger: run.trigger, status: run.status, duration_ms: run.durationMs, error: run.error });
    if (run.status !== "succeeded") this.ctx.log.warn({ job: job.name, run: run.id, status: run.status, error: run.error }, "cron run did not succeed");
    return run;
  }

  /** What the command gave, as JSON text no longer than max_result_bytes (longer: a truncated string). */
  #serialize(invocation: CommandInvocation): string {
    const value = invocation.kind === "code" ? invocation.result : { prompt: invocation.prompt, ran_as_agent: invocation.ran_as_agent, result: invocation.result };
    const text = JSON.stringify(value ?? null);
    const max = this.settings().maxResultBytes;
    return Buffer.byteLength(text) <= max ? text : JSON.stringify(`${text.slice(0, max)}… [truncated: ${Buffer.byteLength(text)} bytes]`);
  }
}
