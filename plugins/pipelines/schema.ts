/** The pipelines tables: runs, their phases, the journal of every step, and the files phases produced. */
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { CommandRole } from "gantry/plugin";
import type { Template } from "./templates.ts";

export type RunState = "running" | "succeeded" | "failed" | "cancelled" | "interrupted";
export type PhaseState = "pending" | "waiting_gate" | "running" | "succeeded" | "failed" | "skipped";

/** A run of a template: the template is copied in at start, so a resume runs what was started. */
export const pipelineRuns = sqliteTable("pipeline_runs", {
  id: text("id").primaryKey(),
  template: text("template").notNull(),
  definition: text("definition", { mode: "json" }).notNull().$type<Template>(),
  parentRunId: text("parent_run_id"),
  state: text("state").notNull().$type<RunState>(),
  inputs: text("inputs", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
  compliance: text("compliance", { mode: "json" }).notNull().$type<string[]>(),
  actor: text("actor").notNull(),
  /** The role phases act with: the role of whoever started the run (a nested run inherits it). */
  role: text("role").notNull().default("operator").$type<CommandRole>(),
  error: text("error"),
  cancelRequested: integer("cancel_requested", { mode: "boolean" }).notNull().default(false),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
}, (t) => [index("pipeline_runs_state").on(t.state, t.createdAt), index("pipeline_runs_template").on(t.template, t.createdAt)]);

/** One phase of a run; a phase is claimed by moving it from pending to running in one statement. */
export const pipelinePhases = sqliteTable("pipeline_phases", {
  runId: text("run_id").notNull(),
  name: text("name").notNull(),
  state: text("state").notNull().$type<PhaseState>(),
  attempts: integer("attempts").notNull().default(0),
  output: text("output", { mode: "json" }).$type<unknown>(),
  error: text("error"),
  /** The agent this phase runs while it runs (the one chat messages go to). */
  agent: text("agent"),
  /** The approval gate asked for before the phase ran (kept so a resume does not ask twice). */
  gateId: text("gate_id"),
  startedAt: integer("started_at", { mode: "timestamp_ms" }),
  finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
}, (t) => [primaryKey({ columns: [t.runId, t.name] })]);

/** The journal: every state change, step, gate and message of a run, in order. */
export const pipelineRunEvents = sqliteTable("pipeline_run_events", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  runId: text("run_id").notNull(),
  seq: integer("seq").notNull(),
  at: integer("at", { mode: "timestamp_ms" }).notNull(),
  phase: text("phase"),
  kind: text("kind").notNull(),
  data: text("data", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
}, (t) => [uniqueIndex("pipeline_run_events_seq").on(t.runId, t.seq)]);

/** A file a phase produced, stored under the plugin's data folder. */
export const pipelineArtifacts = sqliteTable("pipeline_artifacts", {
  id: text("id").primaryKey(),
  runId: text("run_id").notNull(),
  phase: text("phase").notNull(),
  name: text("name").notNull(),
  mediaType: text("media_type").notNull(),
  size: integer("size").notNull(),
  sha256: text("sha256").notNull(),
  path: text("path").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
}, (t) => [index("pipeline_artifacts_run").on(t.runId)]);
