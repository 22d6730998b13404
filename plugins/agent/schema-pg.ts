/** The PostgreSQL twin of schema.ts (same tables, columns, row types and indexes: a test compares them). */
import { bigserial, index, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Milliseconds, as the SQLite twin's timestamp_ms columns keep them. */
const ms = (name: string) => timestamp(name, { mode: "date", precision: 3, withTimezone: true });

/** One invocation of an agent: what it was asked, each model turn and tool call, and how it ended. */
export const agentRuns = pgTable("agent_runs", {
  id: text("id").primaryKey(),
  agent: text("agent").notNull(),
  actor: text("actor").notNull(),
  status: text("status", { enum: ["running", "waiting_approval", "succeeded", "failed"] }).notNull(),
  input: text("input").notNull(),
  output: text("output"),
  error: text("error"),
  steps: jsonb("steps").notNull().$type<unknown[]>(),
  startedAt: ms("started_at").notNull(),
  finishedAt: ms("finished_at"),
}, (t) => [index("agent_runs_agent").on(t.agent, t.startedAt)]);

/** A human-in-the-loop gate: a tool call an `ask` rule held until someone decides. */
export const approvals = pgTable("agent_approvals", {
  id: text("id").primaryKey(),
  runId: text("run_id").notNull(),
  agent: text("agent").notNull(),
  tool: text("tool").notNull(),
  arguments: jsonb("arguments").notNull().$type<Record<string, unknown>>(),
  rule: text("rule"),
  status: text("status", { enum: ["pending", "approved", "rejected", "expired"] }).notNull(),
  requestedAt: ms("requested_at").notNull(),
  decidedAt: ms("decided_at"),
  decidedBy: text("decided_by"),
  note: text("note"),
  /** Who asked for the gate (a gate opened through the approvals service); that subject cannot approve it (four-eyes). */
  requestedBy: text("requested_by"),
}, (t) => [index("agent_approvals_status").on(t.status, t.requestedAt)]);

/** Every tool call that did not run: denied by a rule, rejected or expired at a gate, or never offered. */
export const denials = pgTable("agent_permission_denials", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  at: ms("at").notNull(),
  agent: text("agent").notNull(),
  runId: text("run_id").notNull(),
  tool: text("tool").notNull(),
  source: text("source", { enum: ["rule", "hook", "rejected", "expired", "not_offered"] }).notNull(),
  rule: text("rule"),
  reason: text("reason").notNull(),
}, (t) => [index("agent_denials_at").on(t.at)]);
