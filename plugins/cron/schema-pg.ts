/** The PostgreSQL twin of schema.ts (same tables, columns, row types and indexes: a test compares them). */
import { bigint, bigserial, boolean, index, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

/** Milliseconds, as the SQLite twin's timestamp_ms columns keep them. */
const ms = (name: string) => timestamp(name, { mode: "date", precision: 3, withTimezone: true });

/** A job: when (a cron expression in a time zone) and what (a slash command line). */
export const cronJobs = pgTable("cron_jobs", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  schedule: text("schedule").notNull(),
  timezone: text("timezone"),
  command: text("command").notNull(),
  description: text("description"),
  enabled: boolean("enabled").notNull().default(true),
  timeoutS: bigint("timeout_s", { mode: "number" }).notNull(),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
});

/** One run of a job, kept up to history_per_job per job. */
export const cronRuns = pgTable("cron_runs", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  jobId: text("job_id").notNull(),
  trigger: text("trigger", { enum: ["schedule", "manual"] }).notNull(),
  actor: text("actor").notNull(),
  status: text("status", { enum: ["running", "succeeded", "failed", "timed_out", "skipped"] }).notNull(),
  startedAt: ms("started_at").notNull(),
  finishedAt: ms("finished_at"),
  durationMs: bigint("duration_ms", { mode: "number" }),
  result: text("result"),
  error: text("error"),
  scheduledAt: ms("scheduled_at"),
}, (t) => [index("cron_runs_job").on(t.jobId, t.id), uniqueIndex("cron_runs_tick").on(t.jobId, t.scheduledAt)]);
