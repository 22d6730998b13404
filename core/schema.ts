/** Core's own tables (SQLite). Plugins keep theirs in their own folder. */
import { sql } from "drizzle-orm";
import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Plugins installed from a path (built-ins are discovered) and the enabled state of every plugin. */
export const plugins = sqliteTable("plugins", {
  name: text("name").primaryKey(),
  path: text("path").notNull(),
  source: text("source", { enum: ["builtin", "path"] }).notNull(),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  installedAt: integer("installed_at", { mode: "timestamp_ms" }).notNull().default(sql`(unixepoch() * 1000)`),
});

/** Each plugin's key-value store. */
export const pluginKv = sqliteTable(
  "plugin_kv",
  {
    plugin: text("plugin").notNull(),
    key: text("key").notNull(),
    value: text("value", { mode: "json" }).notNull(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.plugin, t.key] })],
);

/** Feature flag values set by operators (defaults live in the declaring plugin). */
export const featureFlags = sqliteTable("feature_flags", {
  name: text("name").primaryKey(),
  value: text("value", { mode: "json" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  updatedBy: text("updated_by"),
});

/** API keys: only a SHA-256 of the secret is kept. */
export const apiKeys = sqliteTable("api_keys", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  hash: text("hash").notNull().unique(),
  prefix: text("prefix").notNull(),
  role: text("role", { enum: ["viewer", "operator", "admin", "inference"] }).notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
});
