/** Cron jobs and their run history in the plugin's tables. */
import { randomBytes } from "node:crypto";
import { and, count, desc, eq, lt } from "drizzle-orm";
import { createError, defineErrors, pickTables, type PluginContext } from "gantry/plugin";
import * as pgTables from "./schema-pg.ts";
import * as sqliteTables from "./schema.ts";
import type { cronJobs, cronRuns } from "./schema.ts";

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
  readonly #t: typeof sqliteTables;

  constructor(private readonly db: PluginContext["db"]) {
    this.#t = pickTables(db, { sqlite: sqliteTables, pg: pgTables });
  }

  async list(): Promise<JobRow[]> {
    return this.db.select().from(this.#t.cronJobs).orderBy(this.#t.cronJobs.name);
  }

  async get(id: string): Promise<JobRow> {
    const [row] = await this.db.select().from(this.#t.cronJobs).where(eq(this.#t.cronJobs.id, id));
    if (!row) throw CronErrors.JOB_NOT_FOUND([id]);
    return row;
  }

  async count(): Promise<number> {
    const [row] = await this.db.select({ n: count() }).from(this.#t.cronJobs);
    return row?.n ?? 0;
  }

  async create(input: Required<Omit<JobInput, "timezone" | "description">> & Pick<JobInput, "timezone" | "description">): Promise<JobRow> {
    await this.#assertNameFree(input.name);
    const now = new Date();
    const row: JobRow = {
      id: `cj_${randomBytes(6).toString("hex")}`, name: input.name, schedule: input.schedule, timezone: input.timezone ?? null,
      command: input.command, description: input.description ?? null, enabled: input.enabled, timeoutS: input.timeout_s, createdAt: now, updatedAt: now,
    };
    await this.db.insert(this.#t.cronJobs).values(row);
    return row;
  }

  async update(id: string, change: Partial<JobInput>): Promise<JobRow> {
    const current = await this.get(id);
    if (change.name !== undefined && change.name !== current.name) await this.#assertNameFree(change.name);
    const set: Partial<JobRow> = { updatedAt: new Date() };
    if (change.name !== undefined) set.name = change.name;
    if (change.schedule !== undefined) set.schedule = change.schedule;
    if (change.timezone !== undefined) set.timezone = change.timezone;
    if (change.command !== undefined) set.command = change.command;
    if (change.description !== undefined) set.description = change.description;
    if (change.enabled !== undefined) set.enabled = change.enabled;
    if (change.timeout_s !== undefined) set.timeoutS = change.timeout_s;
    await this.db.update(this.#t.cronJobs).set(set).where(eq(this.#t.cronJobs.id, id));
    return this.get(id);
  }

  /** Deletes the job and its history. */
  async delete(id: string): Promise<void> {
    await this.get(id);
    const { cronJobs, cronRuns } = this.#t;
    await this.db.transaction(async (tx) => {
      await tx.delete(cronRuns).where(eq(cronRuns.jobId, id));
      await tx.delete(cronJobs).where(eq(cronJobs.id, id));
    });
  }

  /** Records a run; for a schedule tick (`scheduledAt`) already recorded, by this node or another, undefined. */
  async startRun(jobId: string, trigger: RunRow["trigger"], actor: string, scheduledAt: Date | null, status: "running" | "skipped" = "running", error: string | null = null): Promise<RunRow | undefined> {
    const now = new Date();
    const finished = status === "skipped" ? { finishedAt: now, durationMs: 0 } : { finishedAt: null, durationMs: null };
    const [row] = await this.db.insert(this.#t.cronRuns).values({ jobId, trigger, actor, status, startedAt: now, ...finished, result: null, error, scheduledAt })
      .onConflictDoNothing().returning();
    return row;
  }

  async finishRun(id: number, outcome: { status: RunStatus; durationMs: number; result: string | null; error: string | null }): Promise<RunRow> {
    const [row] = await this.db.update(this.#t.cronRuns).set({ ...outcome, finishedAt: new Date() }).where(eq(this.#t.cronRuns.id, id)).returning();
    return row!;
  }

  /** Newest first; `beforeId` pages back. */
  async runs(jobId: string, limit: number, beforeId?: number, status?: RunStatus): Promise<RunRow[]> {
    const { cronRuns } = this.#t;
    const where = [eq(cronRuns.jobId, jobId)];
    if (beforeId !== undefined) where.push(lt(cronRuns.id, beforeId));
    if (status !== undefined) where.push(eq(cronRuns.status, status));
    return this.db.select().from(cronRuns).where(and(...where)).orderBy(desc(cronRuns.id)).limit(limit);
  }

  async lastRun(jobId: string): Promise<RunRow | undefined> {
    const { cronRuns } = this.#t;
    const [row] = await this.db.select().from(cronRuns).where(eq(cronRuns.jobId, jobId)).orderBy(desc(cronRuns.id)).limit(1);
    return row;
  }

  /** Keeps the newest `keep` runs of a job. */
  async prune(jobId: string, keep: number): Promise<void> {
    const { cronRuns } = this.#t;
    const [oldestKept] = await this.db.select({ id: cronRuns.id }).from(cronRuns).where(eq(cronRuns.jobId, jobId)).orderBy(desc(cronRuns.id)).limit(1).offset(keep - 1);
    if (oldestKept) await this.db.delete(cronRuns).where(and(eq(cronRuns.jobId, jobId), lt(cronRuns.id, oldestKept.id)));
  }

  /** Runs a previous gantry process left `running` (it stopped or crashed meanwhile) are failed runs. */
  async failInterrupted(startedBefore: Date): Promise<number> {
    const { cronRuns } = this.#t;
    const interrupted = await this.db.update(cronRuns)
      .set({ status: "failed", finishedAt: new Date(), error: "interrupted: gantry stopped during the run" })
      .where(and(eq(cronRuns.status, "running"), lt(cronRuns.startedAt, startedBefore))).returning({ id: cronRuns.id });
    return interrupted.length;
  }

  async #assertNameFree(name: string): Promise<void> {
    const { cronJobs } = this.#t;
    const [taken] = await this.db.select({ id: cronJobs.id }).from(cronJobs).where(eq(cronJobs.name, name));
    if (taken) throw CronErrors.JOB_EXISTS([name]);
  }
}
