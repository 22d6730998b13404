import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Instance definitions; runtime state (status, pid) lives in the supervisor, the last pid is kept to clean up after a crash of gantry. */
export const instances = sqliteTable("instances_definitions", {
  name: text("name").primaryKey(),
  backend: text("backend", { enum: ["llama_cpp", "vllm", "mlx_lm", "command"] }).notNull(),
  modelPath: text("model_path").notNull(),
  port: integer("port").notNull().unique(),
  options: text("options", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
  env: text("env", { mode: "json" }).notNull().$type<Record<string, string>>(),
  command: text("command", { mode: "json" }).$type<string[]>(),
  onDemandStart: integer("on_demand_start", { mode: "boolean" }).notNull().default(false),
  idleTimeout: integer("idle_timeout").notNull().default(0),
  restart: text("restart", { enum: ["always", "on-failure", "never"] }).notNull().default("on-failure"),
  /** Other model ids clients may use for this instance (`gpt-4o-mini` → this one). */
  aliases: text("aliases", { mode: "json" }).notNull().default([]).$type<string[]>(),
  /** Hidden from /v1/models and Ollama's /api/tags (still served by name). */
  unlisted: integer("unlisted", { mode: "boolean" }).notNull().default(false),
  /** Placement: the device the server loads onto (`gpu0`, `cpu`) and the memory it needs there in MiB (estimated when null). */
  device: text("device"),
  memoryMib: integer("memory_mib"),
  /** Never evicted to make room, never stopped for being idle. */
  pinned: integer("pinned", { mode: "boolean" }).notNull().default(false),
  /** The placement group (swap, exclusive, persistent rules from plugin.instances.groups). */
  group: text("group_name"),
  /** Requests served at once (0 = no limit) and requests waiting beyond them (0 = no limit). */
  parallel: integer("parallel").notNull().default(0),
  maxQueue: integer("max_queue").notNull().default(0),
  lastPid: integer("last_pid"),
  /** Where the definition comes from: `declared` ([models.<name>] in gantry.toml, which wins) or `api`. */
  origin: text("origin", { enum: ["api", "declared"] }).notNull().default("api"),
  /** The [models.<name>] table last applied (placement fields included), for drift checks and export. */
  declaration: text("declaration", { mode: "json" }).$type<Record<string, unknown>>(),
  /** What the operator asked for (`running` after a start, `stopped` after a stop); a shutdown leaves it, so a restart restores it. */
  desiredState: text("desired_state", { enum: ["running", "stopped"] }).notNull().default("stopped"),
  /** Cluster mode: the node that supervises it (null on a single node). */
  node: text("node"),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});
