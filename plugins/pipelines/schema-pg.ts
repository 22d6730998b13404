/** The PostgreSQL twin of schema.ts (same tables, columns, row types and indexes: a test compares them). */
import { bigint, bigserial, boolean, index, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import type { PhaseState, RunState } from "./schema.ts";
import type { CommandRole } from "gantry/plugin";
import type { Template } from "./templates.ts";

/** Milliseconds, as the SQLite twin's timestamp_ms columns keep them. */
const ms = (name: string) => timestamp(name, { mode: "date", precision: 3, withTimezone: true });

/** A run of a template: the template is copied in at start, so a resume runs what was started. */
export const pipelineRuns = pgTable("pipeline_runs", {
  id: text("id").primaryKey(),
  template: text("template").notNull(),
  definition: jsonb("definition").notNull().$type<Template>(),
  parentRunId: text("parent_run_id"),
  state: text("state").notNull().$type<RunState>(),
  inputs: jsonb("inputs").notNull().$type<Record<string, unknown>>(),
  compliance: jsonb("compliance").notNull().$type<string[]>(),
  actor: text("actor").notNull(),
  /** The role phases act with: the role of whoever started the run (a nested run inherits it). */
  role: text("role").notNull().default("operator").$type<CommandRole>(),
  error: text("error"),
  cancelRequested: boolean("cancel_requested").notNull().default(false),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
  finishedAt: ms("finished_at"),
}, (t) => [index("pipeline_runs_state").on(t.state, t.createdAt), index("pipeline_runs_template").on(t.template, t.createdAt)]);

/** One phase of a run; a phase is claimed by moving it from pending to running in one statement. */
export const pipelinePhases = pgTable("pipeline_phases", {
  runId: text("run_id").notNull(),
  name: text("name").notNull(),
  state: text("state").notNull().$type<PhaseState>(),
  attempts: bigint("attempts", { mode: "number" }).notNull().default(0),
  output: jsonb("output").$type<unknown>(),
  error: text("error"),
  /** The agent this phase runs while it runs (the one chat messages go to). */
  agent: text("agent"),
  /** The approval gate asked for before the phase ran (kept so a resume does not ask twice). */
  gateId: text("gate_id"),
  startedAt: ms("started_at"),
  finishedAt: ms("finished_at"),
}, (t) => [primaryKey({ columns: [t.runId, t.name] })]);

/** The journal: every state change, step, gate and message of a run, in order. */
export const pipelineRunEvents = pgTable("pipeline_run_events", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  runId: text("run_id").notNull(),
  seq: bigint("seq", { mode: "number" }).notNull(),
  at: ms("at").notNull(),
  phase: text("phase"),
  kind: text("kind").notNull(),
  data: jsonb("data").notNull().$type<Record<string, unknown>>(),
}, (t) => [uniqueIndex("pipeline_run_events_seq").on(t.runId, t.seq)]);

/** A file a phase produced, stored under the plugin's data folder. */
export const pipelineArtifacts = pgTable("pipeline_artifacts", {
  id: text("id").primaryKey(),
  runId: text("run_id").notNull(),
  phase: text("phase").notNull(),
  name: text("name").notNull(),
  mediaType: text("media_type").notNull(),
  size: bigint("size", { mode: "number" }).notNull(),
  sha256: text("sha256").notNull(),
  path: text("path").notNull(),
  createdAt: ms("created_at").notNull(),
}, (t) => [index("pipeline_artifacts_run").on(t.runId)]);
