import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** A job: when (a cron expression in a time zone) and what (a slash command line). */
export const cronJobs = sqliteTable("cron_jobs", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  schedule: text("schedule").notNull(),
  timezone: text("timezone"),
  command: text("command").notNull(),
  description: text("description"),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  timeoutS: integer("timeout_s").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/** One run of a job, kept up to history_per_job per job. */
export const cronRuns = sqliteTable("cron_runs", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  jobId: text("job_id").notNull(),
  trigger: text("trigger", { enum: ["schedule", "manual"] }).notNull(),
  actor: text("actor").notNull(),
  status: text("status", { enum: ["running", "succeeded", "failed", "timed_out", "skipped"] }).notNull(),
  startedAt: integer("started_at", { mode: "timestamp_ms" }).notNull(),
  finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
  durationMs: integer("duration_ms"),
  result: text("result"),
  error: text("error"),
  /** The schedule tick a scheduled run is for (null for manual runs): unique per job, so a tick is recorded once in a cluster. */
  scheduledAt: integer("scheduled_at", { mode: "timestamp_ms" }),
}, (t) => [index("cron_runs_job").on(t.jobId, t.id), uniqueIndex("cron_runs_tick").on(t.jobId, t.scheduledAt)]);
