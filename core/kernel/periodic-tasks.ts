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
  last_run_time: string | null;
  last_run_ago: number | null;
  total_runs: number;
  failed_runs: number;
  success_rate: number;
  last_summary: string | null;
  last_error: string | null;
}

/** One scheduled task: runs `fn` every `interval` seconds until stopped. */
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

  /** Runs the task once now (also used by the schedule). */
  async runOnce(): Promise<void> {
    if (this.#inFlight) return this.#inFlight;
    this.#inFlight = this.#execute().finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  /** Active: the last run ended within 3× interval; before any run, start was within initWait + 3× interval. */
  isActive(now = Date.now()): boolean {
    if (!this.#running || this.#startedAt === undefined) return false;
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
    this.#timer = setTimeout(async () => {
      await this.runOnce();
      this.#schedule(this.interval);
    }, seconds * 1000);
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
