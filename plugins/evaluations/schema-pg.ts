/** The PostgreSQL twin of schema.ts (same tables, columns, row types and indexes: a test compares them). */
import { bigint, doublePrecision, index, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import type { EvaluationSpec } from "./schema.ts";

/** Milliseconds, as the SQLite twin's timestamp_ms columns keep them. */
const ms = (name: string) => timestamp(name, { mode: "date", precision: 3, withTimezone: true });

/** One evaluation run: a model on a dataset (its checksum pins the rows compared). */
export const evaluations = pgTable("evaluations", {
  id: text("id").primaryKey(),
  name: text("name"),
  model: text("model").notNull(),
  dataset: text("dataset").notNull(),
  datasetSha256: text("dataset_sha256").notNull(),
  spec: jsonb("spec").$type<EvaluationSpec>().notNull(),
  status: text("status", { enum: ["running", "completed", "interrupted"] }).notNull(),
  actor: text("actor").notNull(),
  total: bigint("total", { mode: "number" }).notNull(),
  /** Aggregates, written when the run completes. */
  summary: jsonb("summary").$type<Record<string, unknown>>(),
  createdAt: ms("created_at").notNull(),
  finishedAt: ms("finished_at"),
}, (t) => [index("evaluations_created").on(t.createdAt)]);

/** One dataset row of a run: the model's answer, its cost and its scores. */
export const evaluationRows = pgTable("evaluation_rows", {
  evaluationId: text("evaluation_id").notNull(),
  row: bigint("row", { mode: "number" }).notNull(),
  input: text("input").notNull(),
  expected: text("expected"),
  status: text("status", { enum: ["pending", "running", "succeeded", "failed"] }).notNull(),
  output: text("output"),
  error: text("error"),
  latencyMs: doublePrecision("latency_ms"),
  promptTokens: bigint("prompt_tokens", { mode: "number" }),
  completionTokens: bigint("completion_tokens", { mode: "number" }),
  /** metric name → score in [0, 1] */
  scores: jsonb("scores").$type<Record<string, number>>(),
  /** metric name → why (a judge's reply, a schema error, ...) */
  notes: jsonb("notes").$type<Record<string, string>>(),
  finishedAt: ms("finished_at"),
}, (t) => [primaryKey({ columns: [t.evaluationId, t.row] }), index("evaluation_rows_status").on(t.evaluationId, t.status)]);
