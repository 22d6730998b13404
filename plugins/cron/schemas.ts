/** TypeBox schemas of the cron API. */
import { QueryCursor, QueryLimit, Nullable, t } from "gantry/plugin";

const Timestamp = t.String({ description: "ISO 8601" });
const RunStatus = t.Union([t.Literal("running"), t.Literal("succeeded"), t.Literal("failed"), t.Literal("timed_out"), t.Literal("skipped")]);

export const JobId = t.Object({ id: t.String({ maxLength: 64 }) });

const editable = {
  name: t.String({ minLength: 1, maxLength: 100, pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$" }),
  schedule: t.String({ minLength: 1, maxLength: 200, description: "cron expression: 5 fields (minute hour day month weekday) or 6 with seconds first; nicknames such as @hourly" }),
  timezone: t.Optional(t.Union([t.String({ maxLength: 64, description: "IANA zone, such as Europe/Berlin; default: the server's" }), t.Null()])),
  command: t.String({ minLength: 2, maxLength: 16_384, description: "a slash command line: /plugin:command arguments" }),
  description: t.Optional(t.Union([t.String({ maxLength: 1000 }), t.Null()])),
  enabled: t.Optional(t.Boolean({ description: "default true" })),
  timeout_s: t.Optional(t.Integer({ minimum: 1, maximum: 86_400, description: "default plugin.cron.default_timeout_s" })),
};

export const CreateJob = t.Object(editable);
export const UpdateJob = t.Partial(t.Object(editable));

export const Run = t.Object({
  id: t.Integer(), job_id: t.String(), trigger: t.Union([t.Literal("schedule"), t.Literal("manual")]), actor: t.String(), status: RunStatus,
  started_at: Timestamp, finished_at: Nullable(Timestamp), duration_ms: t.Union([t.Integer(), t.Null()]),
  scheduled_at: t.Union([Timestamp, t.Null()], { description: "the schedule tick this run is for (null for a manual run); one run per tick, across a cluster too" }),
  result: t.Unknown({ description: "what the command returned (JSON); null unless succeeded" }), error: Nullable(t.String()),
});

export const Job = t.Object({
  id: t.String(), name: t.String(), schedule: t.String(), timezone: Nullable(t.String()), command: t.String(), description: Nullable(t.String()),
  enabled: t.Boolean(), timeout_s: t.Integer(),
  next_run_at: Nullable(Timestamp), running: t.Boolean({ description: "a run is in progress" }),
  last_run: t.Union([t.Object({ id: t.Integer(), status: RunStatus, started_at: Timestamp, duration_ms: t.Union([t.Integer(), t.Null()]) }), t.Null()]),
  created_at: Timestamp, updated_at: Timestamp,
});

export const RunsQuery = t.Object({
  limit: QueryLimit(1000, "default 50"),
  before_id: QueryCursor(1, "older than this run id (paging)"),
  status: t.Optional(RunStatus),
});

export const RunQuery = t.Object({
  wait: t.Optional(t.BooleanString({ description: "default true: answer when the run ends; false: answer 202 at once" })),
});
