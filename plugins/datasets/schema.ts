import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

export interface ColumnSchema {
  name: string;
  type: string;
}

/** A registered dataset: a file under a configured root, or one uploaded into the plugin's data folder. */
export const datasets = sqliteTable("datasets", {
  name: text("name").primaryKey(),
  format: text("format", { enum: ["csv", "jsonl", "parquet"] }).notNull(),
  source: text("source", { enum: ["root", "upload"] }).notNull(),
  path: text("path").notNull(),
  sizeBytes: integer("size_bytes").notNull(),
  rows: integer("rows").notNull(),
  columns: text("columns", { mode: "json" }).$type<ColumnSchema[]>().notNull(),
  sha256: text("sha256").notNull(),
  /** The file's mtime when it was read: a root file whose size or mtime changed is read again. */
  mtimeMs: integer("mtime_ms").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/** Profiles by content checksum and sample size: the same bytes are profiled once. */
export const datasetProfiles = sqliteTable("dataset_profiles", {
  sha256: text("sha256").notNull(),
  sampleRows: integer("sample_rows").notNull(),
  profile: text("profile", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
  durationMs: integer("duration_ms").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
}, (t) => [primaryKey({ columns: [t.sha256, t.sampleRows] })]);
