/** Cron jobs and their run history in the plugin's tables. */
import { randomBytes } from "node:crypto";
import { and, desc, eq, lt, sql } from "drizzle-orm";
import { createError, defineErrors, type PluginContext } from "gantry/plugin";
import { cronJobs, cronRuns } from "./schema.ts";

export const CronErrors = defineErrors("cron", {
  JOB_NOT_FOUND: createError("JOB_NOT_FOUND", 404, (id: string) => `No cron job '${id}'`),
  JOB_EXISTS: createError("JOB_EXISTS", 409, (name: string) => `A cron job named '${name}' already exists`),
  TOO_MANY_JOBS: createError("TOO_MANY_JOBS", 409, (max: number) => `There are already ${max} cron jobs (plugin.cron.max_jobs)`),
  SCHEDULE_INVALID: createError("SCHEDULE_INVALID", 400, (schedule: string, why: string) => `schedule '${schedule}' is not a cron expression: ${why}`),
  TIMEZONE_INVALID: createError("TIMEZONE_INVALID", 400, (zone: string) => `timezone '${zone}' is not an IANA time zone (such as Europe/Berlin or UTC)`),
  COMMAND_INVALID: createError("COMMAND_INVALID", 400, (command: string) => `command '${command}' is not a slash command line: write /plugin:command arguments`),
  COMMAND_UNKNOWN: createError("COMMAND_UNKNOWN", 400, (qname: string) => `No command '${qname}' is registered; list them at GET /api/v1/plugins/commands`),
  JOB_RUNNING: createError("JOB_RUNNING", 409, (name: string) => `Cron job '${name}' is running; wait for its run to finish`),
});

export type JobRow = typeof cronJobs.$inferSelect;
export type RunRow = typeof cronRuns.$inferSelect;
export type RunStatus = RunRow["status"];

export interface JobInput {
  name: string;
  schedule: string;
  timezone?: string | null;
  command: string;
  description?: string | null;
  enabled?: boolean;
  timeout_s?: number;
}

export class JobStore {
  constructor(private readonly db: PluginContext["db"]) {}

  list(): JobRow[] {
    return this.db.select().from(cronJobs).orderBy(cronJobs.name).all();
  }

  get(id: string): JobRow {
    const row = this.db.select().from(cronJobs).where(eq(cronJobs.id, id)).get();
    if (!row) throw CronErrors.JOB_NOT_FOUND([id]);
    return row;
  }

  count(): number {
    return this.db.select({ n: sql<number>`count(*)` }).from(cronJobs).get()!.n;
  }

  create(input: Required<Omit<JobInput, "timezone" | "description">> & Pick<JobInput, "timezone" | "description">): JobRow {
    this.#assertNameFree(input.name);
    const now = new Date();
    const row: JobRow = {
      id: `cj_${randomBytes(6).toString("hex")}`, name: input.name, schedule: input.schedule, timezone: input.timezone ?? null,
      command: input.command, description: input.description ?? null, enabled: input.enabled, timeoutS: input.timeout_s, createdAt: now, updatedAt: now,
    };
    this.db.insert(cronJobs).values(row).run();
    return row;
  }

  update(id: string, change: Partial<JobInput>): JobRow {
    const current = this.get(id);
    if (change.name !== undefined && change.name !== current.name) this.#assertNameFree(change.name);
    const set: Partial<JobRow> = { updatedAt: new Date() };
    if (change.name !== undefined) set.name = change.name;
    if (change.schedule !== undefined) set.schedule = change.schedule;
    if (change.timezone !== undefined) set.timezone = change.timezone;
    if (change.command !== undefined) set.command = change.command;
    if (change.description !== undefined) set.description = change.description;
    if (change.enabled !== undefined) set.enabled = change.enabled;
    if (change.timeout_s !== undefined) set.timeoutS = change.timeout_s;
    this.db.update(cronJobs).set(set).where(eq(cronJobs.id, id)).run();
    return this.get(id);
  }

  /** Deletes the job and its history. */
  delete(id: string): void {
    this.get(id);
    this.db.delete(cronRuns).where(eq(cronRuns.jobId, id)).run();
    this.db.delete(cronJobs).where(eq(cronJobs.id, id)).run();
  }

  startRun(jobId: string, trigger: RunRow["trigger"], actor: string, status: "running" | "skipped" = "running", error: string | null = null): RunRow {
    const now = new Date();
    const finished = status === "skipped" ? { finishedAt: now, durationMs: 0 } : { finishedAt: null, durationMs: null };
    return this.db.insert(cronRuns).values({ jobId, trigger, actor, status, startedAt: now, ...finished, result: null, error }).returning().get();
  }

  finishRun(id: number, outcome: { status: RunStatus; durationMs: number; result: string | null; error: string | null }): RunRow {
    return this.db.update(cronRuns).set({ ...outcome, finishedAt: new Date() }).where(eq(cronRuns.id, id)).returning().get()!;
  }

  /** Newest first; `beforeId` pages back. */
  runs(jobId: string, limit: number, beforeId?: number, status?: RunStatus): RunRow[] {
    const where = [eq(cronRuns.jobId, jobId)];
    if (beforeId !== undefined) where.push(lt(cronRuns.id, beforeId));
    if (status !== undefined) where.push(eq(cronRuns.status, status));
    return this.db.select().from(cronRuns).where(and(...where)).orderBy(desc(cronRuns.id)).limit(limit).all();
  }

  lastRun(jobId: string): RunRow | undefined {
    return this.db.select().from(cronRuns).where(eq(cronRuns.jobId, jobId)).orderBy(desc(cronRuns.id)).limit(1).get();
  }

  /** Keeps the newest `keep` runs of a job. */
  prune(jobId: string, keep: number): void {
    const oldestKept = this.db.select({ id: cronRuns.id }).from(cronRuns).where(eq(cronRuns.jobId, jobId)).orderBy(desc(cronRuns.id)).limit(1).offset(keep - 1).get();
    if (oldestKept) this.db.delete(cronRuns).where(and(eq(cronRuns.jobId, jobId), lt(cronRuns.id, oldestKept.id))).run();
  }

  /** Runs a previous gantry process left `running` (it stopped or crashed meanwhile) are failed runs. */
  failInterrupted(startedBefore: Date): number {
    const interrupted = this.db.update(cronRuns)
      .set({ status: "failed", finishedAt: new Date(), error: "interrupted: gantry stopped during the run" })
      .where(and(eq(cronRuns.status, "running"), lt(cronRuns.startedAt, startedBefore))).returning({ id: cronRuns.id }).all();
    return interrupted.length;
  }

  #assertNameFree(name: string): void {
    if (this.db.select({ id: cronJobs.id }).from(cronJobs).where(eq(cronJobs.name, name)).get()) throw CronErrors.JOB_EXISTS([name]);
  }
}
