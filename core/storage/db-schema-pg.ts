/** Core's tables on PostgreSQL: the twin of db-schema.ts (same tables, columns, types and indexes; a test compares them). */
import { bigint, bigserial, boolean, index, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/** Milliseconds, as SQLite's timestamp_ms columns keep them. */
const ms = (name: string) => timestamp(name, { mode: "date", precision: 3, withTimezone: true });

export const plugins = pgTable("plugins", {
  name: text("name").primaryKey(),
  path: text("path").notNull(),
  source: text("source", { enum: ["builtin", "path"] }).notNull(),
  enabled: boolean("enabled").notNull().default(true),
  installedAt: ms("installed_at").notNull().defaultNow(),
});

export const pluginKv = pgTable(
  "plugin_kv",
  {
    plugin: text("plugin").notNull(),
    key: text("key").notNull(),
    value: jsonb("value").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.plugin, t.key] })],
);

export const featureFlags = pgTable("feature_flags", {
  name: text("name").primaryKey(),
  value: jsonb("value").notNull(),
  updatedAt: ms("updated_at").notNull(),
  updatedBy: text("updated_by"),
});

export const apiKeys = pgTable("api_keys", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  hash: text("hash").notNull().unique(),
  prefix: text("prefix").notNull(),
  role: text("role", { enum: ["viewer", "operator", "admin", "inference"] }).notNull(),
  createdAt: ms("created_at").notNull(),
  revokedAt: ms("revoked_at"),
  models: jsonb("models").$type<string[]>(),
  expiresAt: ms("expires_at"),
  requestsPerMinute: bigint("requests_per_minute", { mode: "number" }).notNull().default(0),
  tokensPerMinute: bigint("tokens_per_minute", { mode: "number" }).notNull().default(0),
});

export const users = pgTable("users", {
  id: text("id").primaryKey(),
  username: text("username").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  role: text("role", { enum: ["viewer", "operator", "admin"] }).notNull(),
  disabled: boolean("disabled").notNull().default(false),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
});

export const oidcIdentities = pgTable("oidc_identities", {
  issuer: text("issuer").notNull(),
  subject: text("subject").notNull(),
  userId: text("user_id").notNull(),
  email: text("email"),
  createdAt: ms("created_at").notNull(),
}, (t) => [primaryKey({ columns: [t.issuer, t.subject] })]);

export const refreshTokens = pgTable("refresh_tokens", {
  id: text("id").primaryKey(),
  familyId: text("family_id").notNull(),
  userId: text("user_id").notNull(),
  hash: text("hash").notNull(),
  createdAt: ms("created_at").notNull(),
  expiresAt: ms("expires_at").notNull(),
  usedAt: ms("used_at"),
  revokedAt: ms("revoked_at"),
}, (t) => [index("refresh_tokens_family").on(t.familyId)]);

export const revokedSessions = pgTable("revoked_sessions", {
  familyId: text("family_id").primaryKey(),
  revokedAt: ms("revoked_at").notNull(),
  reason: text("reason").notNull(),
});

export const auditLog = pgTable("audit_log", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  at: ms("at").notNull(),
  actor: text("actor").notNull(),
  role: text("role").notNull(),
  action: text("action").notNull(),
  route: text("route").notNull(),
  target: text("target"),
  status: bigint("status", { mode: "number" }).notNull(),
  requestId: text("request_id"),
  ip: text("ip"),
  detail: text("detail"),
}, (t) => [index("audit_log_at").on(t.at), index("audit_log_actor").on(t.actor)]);

export const coreSettings = pgTable("core_settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

export const clusterNodes = pgTable("cluster_nodes", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  url: text("url").notNull(),
  version: text("version").notNull(),
  startedAt: ms("started_at").notNull(),
  lastHeartbeat: ms("last_heartbeat").notNull(),
  labels: jsonb("labels").notNull(),
  resources: jsonb("resources").notNull(),
  downSince: ms("down_since"),
});

export const clusterLeases = pgTable("cluster_leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  generation: bigint("generation", { mode: "number" }).notNull(),
  expiresAt: ms("expires_at").notNull(),
});

export const clusterMessages = pgTable("cluster_messages", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  payload: text("payload").notNull(),
  createdAt: ms("created_at").notNull(),
}, (t) => [index("cluster_messages_created").on(t.createdAt)]);

export const clusterPluginStatus = pgTable("cluster_plugin_status", {
  plugin: text("plugin").notNull(),
  node: text("node").notNull(),
  action: text("action").notNull(),
  ok: boolean("ok").notNull(),
  error: text("error"),
  at: ms("at").notNull(),
}, (t) => [primaryKey({ columns: [t.plugin, t.node] })]);

export const clusterRateCounts = pgTable("cluster_rate_counts", {
  id: text("id").notNull(),
  windowStart: bigint("window_start", { mode: "number" }).notNull(),
  node: text("node").notNull(),
  count: bigint("count", { mode: "number" }).notNull(),
}, (t) => [primaryKey({ columns: [t.id, t.windowStart, t.node] }), index("cluster_rate_counts_window").on(t.windowStart)]);

export const oidcPending = pgTable("oidc_pending", {
  state: text("state").primaryKey(),
  nonce: text("nonce").notNull(),
  verifier: text("verifier").notNull(),
  createdAt: ms("created_at").notNull(),
}, (t) => [index("oidc_pending_created").on(t.createdAt)]);
