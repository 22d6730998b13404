/** The PostgreSQL twin of schema.ts (same tables, columns, row types and indexes: a test compares them). */
import { bigint, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import type { ColumnSchema } from "./schema.ts";

/** Milliseconds, as the SQLite twin's timestamp_ms columns keep them. */
const ms = (name: string) => timestamp(name, { mode: "date", precision: 3, withTimezone: true });

/** A registered dataset: a file under a configured root, or one uploaded into the plugin's data folder. */
export const datasets = pgTable("datasets", {
  name: text("name").primaryKey(),
  format: text("format", { enum: ["csv", "jsonl", "parquet"] }).notNull(),
  source: text("source", { enum: ["root", "upload"] }).notNull(),
  path: text("path").notNull(),
  sizeBytes: bigint("size_bytes", { mode: "number" }).notNull(),
  rows: bigint("rows", { mode: "number" }).notNull(),
  columns: jsonb("columns").$type<ColumnSchema[]>().notNull(),
  sha256: text("sha256").notNull(),
  /** The file's mtime when it was read: a root file whose size or mtime changed is read again. */
  mtimeMs: bigint("mtime_ms", { mode: "number" }).notNull(),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
});

/** Profiles by content checksum and sample size: the same bytes are profiled once. */
export const datasetProfiles = pgTable("dataset_profiles", {
  sha256: text("sha256").notNull(),
  sampleRows: bigint("sample_rows", { mode: "number" }).notNull(),
  profile: jsonb("profile").$type<Record<string, unknown>>().notNull(),
  durationMs: bigint("duration_ms", { mode: "number" }).notNull(),
  createdAt: ms("created_at").notNull(),
}, (t) => [primaryKey({ columns: [t.sha256, t.sampleRows] })]);
