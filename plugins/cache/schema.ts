import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The recache queues: the cache daemon API's sorted sets `recache:{host}:{priority}` scored by due time, as rows.
 * Enqueuing an entry that is already queued moves its due time.
 */
export const cacheQueue = sqliteTable("cache_queue", {
  hostId: integer("host_id").notNull(),
  priority: text("priority", { enum: ["high", "normal", "autorecache"] }).notNull(),
  url: text("url").notNull(),
  dimensionId: integer("dimension_id").notNull(),
  dueAt: integer("due_at", { mode: "timestamp_ms" }).notNull(),
  /** The node rendering it now (a claim); null while it waits. */
  claimedBy: text("claimed_by"),
  /** When the claim lapses: an entry whose claimer died goes back to the queue then. */
  claimExpiresAt: integer("claim_expires_at", { mode: "timestamp_ms" }),
}, (t) => [primaryKey({ columns: [t.hostId, t.priority, t.url, t.dimensionId] }), index("cache_queue_due").on(t.priority, t.dueAt)]);

/** Rendered pages: the HTML is a file under the plugin's data dir. */
export const cacheEntries = sqliteTable("cache_entries", {
  hostId: integer("host_id").notNull(),
  url: text("url").notNull(),
  dimensionId: integer("dimension_id").notNull(),
  file: text("file").notNull(),
  status: integer("status").notNull(),
  bytes: integer("bytes").notNull(),
  renderMs: integer("render_ms").notNull(),
  renderedAt: integer("rendered_at", { mode: "timestamp_ms" }).notNull(),
}, (t) => [primaryKey({ columns: [t.hostId, t.url, t.dimensionId] })]);
