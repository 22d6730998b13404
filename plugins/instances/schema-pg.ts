/** The PostgreSQL twin of schema.ts (same tables, columns, row types and indexes: a test compares them). */
import { bigint, boolean, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Milliseconds, as the SQLite twin's timestamp_ms columns keep them. */
const ms = (name: string) => timestamp(name, { mode: "date", precision: 3, withTimezone: true });

/** Instance definitions; runtime state (status, pid) lives in the supervisor, the last pid is kept to clean up after a crash of gantry. */
export const instances = pgTable("instances_definitions", {
  name: text("name").primaryKey(),
  backend: text("backend", { enum: ["llama_cpp", "vllm", "mlx_lm", "command"] }).notNull(),
  modelPath: text("model_path").notNull(),
  port: bigint("port", { mode: "number" }).notNull().unique(),
  options: jsonb("options").notNull().$type<Record<string, unknown>>(),
  env: jsonb("env").notNull().$type<Record<string, string>>(),
  command: jsonb("command").$type<string[]>(),
  onDemandStart: boolean("on_demand_start").notNull().default(false),
  idleTimeout: bigint("idle_timeout", { mode: "number" }).notNull().default(0),
  restart: text("restart", { enum: ["always", "on-failure", "never"] }).notNull().default("on-failure"),
  aliases: jsonb("aliases").notNull().default([]).$type<string[]>(),
  unlisted: boolean("unlisted").notNull().default(false),
  device: text("device"),
  memoryMib: bigint("memory_mib", { mode: "number" }),
  pinned: boolean("pinned").notNull().default(false),
  group: text("group_name"),
  parallel: bigint("parallel", { mode: "number" }).notNull().default(0),
  maxQueue: bigint("max_queue", { mode: "number" }).notNull().default(0),
  lastPid: bigint("last_pid", { mode: "number" }),
  origin: text("origin", { enum: ["api", "declared"] }).notNull().default("api"),
  declaration: jsonb("declaration").$type<Record<string, unknown>>(),
  desiredState: text("desired_state", { enum: ["running", "stopped"] }).notNull().default("stopped"),
  node: text("node"),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
});
