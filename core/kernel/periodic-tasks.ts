/** Periodic tasks registered by plugins, with the run statistics and health rule of the operations API's periodic threads. */
import type { Logger } from "./logger.ts";

export const TASK_LEVELS = ["critical", "high", "medium", "low"] as const;
export type TaskLevel = (typeof TASK_LEVELS)[number];

export interface PeriodicTaskOptions {
  /** Seconds between the end of one run and the start of the next. */
  interval: number;
  level?: TaskLevel;
  /** Seconds to wait before the first run (default: one interval). */
  initWait?: number;
}

/** A task body; what it returns (a string or JSON-able value) becomes `last_summary`. */
export type PeriodicTaskFn = (signal: AbortSignal) => unknown | Promise<unknown>;

export interface PeriodicTaskSnapshot {
  name: string;
  plugin: string;
  level: TaskLevel;
  interval: number;
  init_wait: number;
  is_running: boolean;
  is_executing: boolean;
  is_active: boolean;
  /** The task has nothing to do and waits for `wake()` (or the time it asked for): healthy, not stalled. */
  is_sleeping: boolean;
  last_run_time: string | null;
  last_run_ago: number | null;
  total_runs: number;
  failed_runs: number;
  success_rate: number;
  last_summary: string | null;
  last_error: string | null;
}

/** One scheduled task: runs `fn` every `interval` seconds until stopped. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class PeriodicTask {
  readonly level: TaskLevel;
  readonly interval: number;
  readonly initWait: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #abort = new AbortController();
  #startedAt: number | undefined;
  #lastRunAt: number | undefined;
  #inFlight: Promise<void> | undefined;
  #running = false;
  #totalRuns = 0;
  #failedRuns = 0;
  #lastSummary: string | null = null;
  #lastError: string | null = null;
  /** What the current run asked for its next one: undefined, the interval; null, only `wake()`; else a time (ms). */
  #sleepRequest: number | null | undefined;
  /** Set while the schedule waits past its interval at the task's request. */
  #sleeping = false;
  #wakeRequested = false;
  /** True from a scheduled run's start until its next run is scheduled. */
  #firing = false;
  /** A wake for later that arrived during a run. */
  #pendingWakeAt: number | undefined;
  /** When the next scheduled run starts; undefined while none is scheduled (sleeping until woken, or running). */
  #nextRunAt: number | undefined;

  constructor(
    readonly name: string,
    readonly plugin: string,
    options: PeriodicTaskOptions,
    private readonly fn: PeriodicTaskFn,
    private readonly log: Logger,
  ) {
    if (!(options.interval > 0)) throw new TypeError(`Periodic task '${name}': interval must be a positive number of seconds`);
    this.level = options.level ?? "medium";
    this.interval = options.interval;
    this.initWait = options.initWait ?? options.interval;
  }

  /** Starts the schedule (idempotent). */
  start(now = Date.now()): void {
    if (this.#running) return;
    this.#running = true;
    this.#startedAt = now;
    this.#schedule(this.initWait);
  }

  /** Stops scheduling, aborts the current run's signal and waits for it to end. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#abort.abort();
    await this.#inFlight;
  }

  /**
   * Called by the task's body during a run: after this run, sleep until `at` (ms since the epoch)
   * or, with null, until `wake()`. Work with nothing to do then costs no timer tick at all.
   */
  sleepUntil(at: number | null): void {
    this.#sleepRequest = at;
  }

  /**
   * New work arrived: the task runs at `at` (ms since the epoch; default now) unless it runs sooner
   * anyway. A run in progress is followed by one more when the work is due now.
   */
  wake(at = Date.now()): void {
    if (!this.#running) return;
    if (this.#inFlight || this.#firing) {
      if (at <= Date.now()) this.#wakeRequested = true;
      else this.#pendingWakeAt = Math.min(this.#pendingWakeAt ?? Infinity, at);
      return;
    }
    if (this.#nextRunAt !== undefined && this.#nextRunAt <= at) return;
    clearTimeout(this.#timer);
    this.#sleeping = false;
    this.#schedule(Math.max(0, (at - Date.now()) / 1000));
  }

  /** Runs the task once now (also used by the schedule). */
  async runOnce(): Promise<void> {
    if (this.#inFlight) return this.#inFlight;
    this.#inFlight = this.#execute().finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  /** Active: the last run ended within 3× interval; before any run, start was within initWait + 3× interval. */
  isActive(now = Date.now()): boolean {
    if (!this.#running || this.#startedAt === undefined) return false;
    if (this.#sleeping) return true;
    if (this.#lastRunAt !== undefined) return now - this.#lastRunAt <= 3 * this.interval * 1000;
    return now - this.#startedAt <= (this.initWait + 3 * this.interval) * 1000;
  }

  snapshot(now = Date.now()): PeriodicTaskSnapshot {
    const total = this.#totalRuns;
    return {
      name: this.name,
      plugin: this.plugin,
      level: this.level,
      interval: this.interval,
      init_wait: this.initWait,
      is_running: this.#running,
      is_executing: this.#inFlight !== undefined,
      is_active: this.isActive(now),
      is_sleeping: this.#sleeping,
      last_run_time: this.#lastRunAt === undefined ? null : new Date(this.#lastRunAt).toISOString(),
      last_run_ago: this.#lastRunAt === undefined ? null : round((now - this.#lastRunAt) / 1000),
      total_runs: total,
      failed_runs: this.#failedRuns,
      success_rate: total === 0 ? 1 : round((total - this.#failedRuns) / total),
      last_summary: this.#lastSummary,
      last_error: this.#lastError,
    };
  }

  #schedule(seconds: number): void {
    if (!this.#running) return;
    const at = Date.now() + seconds * 1000;
    this.#nextRunAt = at;
    // Timers hold at most 2^31-1 ms (~24.8 days); a longer one would fire at once, every time: re-arm instead.
    if (seconds * 1000 > MAX_TIMER_MS) {
      this.#timer = setTimeout(() => this.#schedule((at - Date.now()) / 1000), MAX_TIMER_MS);
      return;
    }
    this.#timer = setTimeout(async () => {
      this.#nextRunAt = undefined;
      this.#sleepRequest = undefined;
      this.#firing = true;
      await this.runOnce();
      this.#firing = false;
      const woken = this.#wakeRequested;
      const pending = this.#pendingWakeAt;
      this.#wakeRequested = false;
      this.#pendingWakeAt = undefined;
      const request = woken ? Date.now() : this.#sleepRequest;
      if (request === undefined) return this.#sleep(false, this.interval);
      const at = Math.min(request ?? Infinity, pending ?? Infinity);
      // Asked for later than one interval from now: that is sleeping (healthy), not stalling.
      this.#sleep(at - Date.now() > this.interval * 1000, at === Infinity ? undefined : Math.max(0, (at - Date.now()) / 1000));
    }, seconds * 1000);
  }

  #sleep(sleeping: boolean, seconds: number | undefined): void {
    this.#sleeping = sleeping;
    if (seconds !== undefined) this.#schedule(seconds);
  }

  async #execute(): Promise<void> {
    try {
      const summary = await this.fn(this.#abort.signal);
      this.#lastSummary = summary === undefined ? null : typeof summary === "string" ? summary : JSON.stringify(summary);
      this.#lastError = null;
    } catch (error) {
      this.#failedRuns++;
      this.#lastError = error instanceof Error ? error.message : String(error);
      this.log.warn({ task: this.name, err: error }, "periodic task failed");
    } finally {
      this.#totalRuns++;
      this.#lastRunAt = Date.now();
    }
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** The operations API's health rule: healthy iff every critical and high task is active. */
export function taskHealth(tasks: PeriodicTask[], now = Date.now()) {
  const unhealthy = tasks
    .filter((t) => (t.level === "critical" || t.level === "high") && !t.isActive(now))
    .map((t) => {
      const s = t.snapshot(now);
      return { name: s.name, level: s.level, last_run_ago: s.last_run_ago, interval: s.interval };
    });
  return { healthy: unhealthy.length === 0, unhealthy_count: unhealthy.length, unhealthy_threads: unhealthy };
}
