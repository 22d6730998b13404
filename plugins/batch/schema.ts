import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { CommandRole } from "gantry/plugin";

/** A batch run: named by its submitter. */
export const batchRuns = sqliteTable("batch_runs", {
  id: text("id").primaryKey(),
  status: text("status", { enum: ["running", "completed", "interrupted"] }).notNull(),
  actor: text("actor").notNull(),
  /** The role its agents act with, on every node that works it: the submitter's (or the resumer's). */
  role: text("role").notNull().default("operator").$type<CommandRole>(),
  total: integer("total").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
});

/** One JSONL line of a run: an agent and its input, and how its run ended. */
export const batchItems = sqliteTable("batch_items", {
  runId: text("run_id").notNull(),
  line: integer("line").notNull(),
  customId: text("custom_id"),
  agent: text("agent").notNull(),
  input: text("input").notNull(),
  status: text("status", { enum: ["pending", "running", "succeeded", "failed"] }).notNull(),
  output: text("output"),
  error: text("error"),
  agentRunId: text("agent_run_id"),
  /** Tool calls of the agent run: [{tool, outcome}], for the stats. */
  toolCalls: text("tool_calls", { mode: "json" }).$type<{ tool: string; outcome: string }[]>(),
  finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
  /** The gantry process working the line (a claim); its claim lapses at claim_expires_at unless renewed. */
  claimedBy: text("claimed_by"),
  claimExpiresAt: integer("claim_expires_at", { mode: "timestamp_ms" }),
}, (t) => [primaryKey({ columns: [t.runId, t.line] }), index("batch_items_status").on(t.runId, t.status, t.line)]);
