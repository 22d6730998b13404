import { index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** What an evaluation was asked to do (stored so resume and compare read the same settings). */
export interface EvaluationSpec {
  metrics: { name: string; type: string; [option: string]: unknown }[];
  judge: { model: string; rubric: string; scale: number } | null;
  input_column: string;
  expected_column: string | null;
  system_prompt: string | null;
  parameters: Record<string, unknown>;
}

/** One evaluation run: a model on a dataset (its checksum pins the rows compared). */
export const evaluations = sqliteTable("evaluations", {
  id: text("id").primaryKey(),
  name: text("name"),
  model: text("model").notNull(),
  dataset: text("dataset").notNull(),
  datasetSha256: text("dataset_sha256").notNull(),
  spec: text("spec", { mode: "json" }).$type<EvaluationSpec>().notNull(),
  status: text("status", { enum: ["running", "completed", "interrupted"] }).notNull(),
  actor: text("actor").notNull(),
  total: integer("total").notNull(),
  /** Aggregates, written when the run completes. */
  summary: text("summary", { mode: "json" }).$type<Record<string, unknown>>(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
}, (t) => [index("evaluations_created").on(t.createdAt)]);

/** One dataset row of a run: the model's answer, its cost and its scores. */
export const evaluationRows = sqliteTable("evaluation_rows", {
  evaluationId: text("evaluation_id").notNull(),
  row: integer("row").notNull(),
  input: text("input").notNull(),
  expected: text("expected"),
  status: text("status", { enum: ["pending", "running", "succeeded", "failed"] }).notNull(),
  output: text("output"),
  error: text("error"),
  latencyMs: real("latency_ms"),
  promptTokens: integer("prompt_tokens"),
  completionTokens: integer("completion_tokens"),
  /** metric name → score in [0, 1] */
  scores: text("scores", { mode: "json" }).$type<Record<string, number>>(),
  /** metric name → why (a judge's reply, a schema error, ...) */
  notes: text("notes", { mode: "json" }).$type<Record<string, string>>(),
  finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
}, (t) => [primaryKey({ columns: [t.evaluationId, t.row] }), index("evaluation_rows_status").on(t.evaluationId, t.status)]);
