/** The PostgreSQL twin of schema.ts (same tables, columns, row types and indexes: a test compares them). */
import { bigint, index, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import type { CommandRole } from "gantry/plugin";

/** Milliseconds, as the SQLite twin's timestamp_ms columns keep them. */
const ms = (name: string) => timestamp(name, { mode: "date", precision: 3, withTimezone: true });

/** A batch run: named by its submitter. */
export const batchRuns = pgTable("batch_runs", {
  id: text("id").primaryKey(),
  status: text("status", { enum: ["running", "completed", "interrupted"] }).notNull(),
  actor: text("actor").notNull(),
  /** The role its agents act with, on every node that works it: the submitter's (or the resumer's). */
  role: text("role").notNull().default("operator").$type<CommandRole>(),
  total: bigint("total", { mode: "number" }).notNull(),
  createdAt: ms("created_at").notNull(),
  finishedAt: ms("finished_at"),
});

/** One JSONL line of a run: an agent and its input, and how its run ended. */
export const batchItems = pgTable("batch_items", {
  runId: text("run_id").notNull(),
  line: bigint("line", { mode: "number" }).notNull(),
  customId: text("custom_id"),
  agent: text("agent").notNull(),
  input: text("input").notNull(),
  status: text("status", { enum: ["pending", "running", "succeeded", "failed"] }).notNull(),
  output: text("output"),
  error: text("error"),
  agentRunId: text("agent_run_id"),
  /** Tool calls of the agent run: [{tool, outcome}], for the stats. */
  toolCalls: jsonb("tool_calls").$type<{ tool: string; outcome: string }[]>(),
  finishedAt: ms("finished_at"),
  claimedBy: text("claimed_by"),
  claimExpiresAt: ms("claim_expires_at"),
}, (t) => [primaryKey({ columns: [t.runId, t.line] }), index("batch_items_status").on(t.runId, t.status, t.line)]);
