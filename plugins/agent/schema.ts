import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** One invocation of an agent: what it was asked, each model turn and tool call, and how it ended. */
export const agentRuns = sqliteTable("agent_runs", {
  id: text("id").primaryKey(),
  agent: text("agent").notNull(),
  actor: text("actor").notNull(),
  status: text("status", { enum: ["running", "waiting_approval", "succeeded", "failed"] }).notNull(),
  input: text("input").notNull(),
  output: text("output"),
  error: text("error"),
  steps: text("steps", { mode: "json" }).notNull().$type<unknown[]>(),
  startedAt: integer("started_at", { mode: "timestamp_ms" }).notNull(),
  finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
}, (t) => [index("agent_runs_agent").on(t.agent, t.startedAt)]);

/** A human-in-the-loop gate: a tool call an `ask` rule held until someone decides. */
export const approvals = sqliteTable("agent_approvals", {
  id: text("id").primaryKey(),
  runId: text("run_id").notNull(),
  agent: text("agent").notNull(),
  tool: text("tool").notNull(),
  arguments: text("arguments", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
  rule: text("rule"),
  status: text("status", { enum: ["pending", "approved", "rejected", "expired"] }).notNull(),
  requestedAt: integer("requested_at", { mode: "timestamp_ms" }).notNull(),
  decidedAt: integer("decided_at", { mode: "timestamp_ms" }),
  decidedBy: text("decided_by"),
  note: text("note"),
  /** Who asked for the gate (a gate opened through the approvals service); that subject cannot approve it (four-eyes). */
  requestedBy: text("requested_by"),
}, (t) => [index("agent_approvals_status").on(t.status, t.requestedAt)]);

/** Every tool call that did not run: denied by a rule or a PreToolUse hook, rejected or expired at a gate, or never offered. */
export const denials = sqliteTable("agent_permission_denials", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  at: integer("at", { mode: "timestamp_ms" }).notNull(),
  agent: text("agent").notNull(),
  runId: text("run_id").notNull(),
  tool: text("tool").notNull(),
  source: text("source", { enum: ["rule", "hook", "rejected", "expired", "not_offered"] }).notNull(),
  rule: text("rule"),
  reason: text("reason").notNull(),
}, (t) => [index("agent_denials_at").on(t.at)]);
