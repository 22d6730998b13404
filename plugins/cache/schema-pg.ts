/** The PostgreSQL twin of schema.ts (same tables, columns, row types and indexes: a test compares them). */
import { bigint, index, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/** Milliseconds, as the SQLite twin's timestamp_ms columns keep them. */
const ms = (name: string) => timestamp(name, { mode: "date", precision: 3, withTimezone: true });

/**
 * The recache queues: the cache daemon's sorted sets `recache:{host}:{priority}` scored by due time, as rows.
 * Enqueuing an entry that is already queued moves its due time.
 */
export const cacheQueue = pgTable("cache_queue", {
  hostId: bigint("host_id", { mode: "number" }).notNull(),
  priority: text("priority", { enum: ["high", "normal", "autorecache"] }).notNull(),
  url: text("url").notNull(),
  dimensionId: bigint("dimension_id", { mode: "number" }).notNull(),
  dueAt: ms("due_at").notNull(),
  claimedBy: text("claimed_by"),
  claimExpiresAt: ms("claim_expires_at"),
}, (t) => [primaryKey({ columns: [t.hostId, t.priority, t.url, t.dimensionId] }), index("cache_queue_due").on(t.priority, t.dueAt)]);

/** Rendered pages: the HTML is a file under the plugin's data dir. */
export const cacheEntries = pgTable("cache_entries", {
  hostId: bigint("host_id", { mode: "number" }).notNull(),
  url: text("url").notNull(),
  dimensionId: bigint("dimension_id", { mode: "number" }).notNull(),
  file: text("file").notNull(),
  status: bigint("status", { mode: "number" }).notNull(),
  bytes: bigint("bytes", { mode: "number" }).notNull(),
  renderMs: bigint("render_ms", { mode: "number" }).notNull(),
  renderedAt: ms("rendered_at").notNull(),
}, (t) => [primaryKey({ columns: [t.hostId, t.url, t.dimensionId] })]);
