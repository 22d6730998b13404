/** Core's own tables (SQLite). Plugins keep theirs in their own folder. */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

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
  /** Inference scope: the model ids (names or aliases) the key may reach; null = every model. */
  models: text("models", { mode: "json" }).$type<string[]>(),
  /** After this the key is refused; null = never. */
  expiresAt: integer("expires_at", { mode: "timestamp_ms" }),
  /** Inference requests and tokens (prompt + completion) per minute; 0 = no limit. */
  requestsPerMinute: integer("requests_per_minute").notNull().default(0),
  tokensPerMinute: integer("tokens_per_minute").notNull().default(0),
});

/** People who log in with a password (argon2id via Bun.password). */
export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  username: text("username").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  role: text("role", { enum: ["viewer", "operator", "admin"] }).notNull(),
  disabled: integer("disabled", { mode: "boolean" }).notNull().default(false),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/** Users who log in through an OpenID Connect provider: the provider's (issuer, subject) → the gantry user. */
export const oidcIdentities = sqliteTable("oidc_identities", {
  issuer: text("issuer").notNull(),
  subject: text("subject").notNull(),
  userId: text("user_id").notNull(),
  email: text("email"),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
}, (t) => [primaryKey({ columns: [t.issuer, t.subject] })]);

/** Refresh tokens (SHA-256 of the secret). One family per login; rotation keeps the family. */
export const refreshTokens = sqliteTable("refresh_tokens", {
  id: text("id").primaryKey(),
  familyId: text("family_id").notNull(),
  userId: text("user_id").notNull(),
  hash: text("hash").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
  usedAt: integer("used_at", { mode: "timestamp_ms" }),
  revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
}, (t) => [index("refresh_tokens_family").on(t.familyId)]);

/** Login sessions (refresh-token families) that were revoked: access tokens naming them are refused. */
export const revokedSessions = sqliteTable("revoked_sessions", {
  familyId: text("family_id").primaryKey(),
  revokedAt: integer("revoked_at", { mode: "timestamp_ms" }).notNull(),
  reason: text("reason").notNull(),
});

/** Who did what: admin and operator actions, logins. */
export const auditLog = sqliteTable("audit_log", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  at: integer("at", { mode: "timestamp_ms" }).notNull(),
  actor: text("actor").notNull(),
  role: text("role").notNull(),
  action: text("action").notNull(),
  route: text("route").notNull(),
  target: text("target"),
  status: integer("status").notNull(),
  requestId: text("request_id"),
  ip: text("ip"),
  /** What else the action reports (a script run's outcome and duration, ...). */
  detail: text("detail"),
}, (t) => [index("audit_log_at").on(t.at), index("audit_log_actor").on(t.actor)]);

/** Secrets and settings core generates once (JWT signing secret, internal service key). */
export const coreSettings = sqliteTable("core_settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

/** Cluster mode (PostgreSQL only; the twin exists so both dialects keep one set of tables): the nodes that share this database. */
export const clusterNodes = sqliteTable("cluster_nodes", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  url: text("url").notNull(),
  version: text("version").notNull(),
  startedAt: integer("started_at", { mode: "timestamp_ms" }).notNull(),
  lastHeartbeat: integer("last_heartbeat", { mode: "timestamp_ms" }).notNull(),
  labels: text("labels", { mode: "json" }).notNull(),
  resources: text("resources", { mode: "json" }).notNull(),
  /** Set by the leader when the node missed heartbeats for node_timeout_s; cleared by its next heartbeat. */
  downSince: integer("down_since", { mode: "timestamp_ms" }),
});

/** Leases for singleton work: one row per lease; `generation` grows at every change of holder (the fencing token). */
export const clusterLeases = sqliteTable("cluster_leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  generation: integer("generation").notNull(),
  expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
});

/** Cluster messages too large for a NOTIFY payload: the notification carries the id, receivers read the row. */
export const clusterMessages = sqliteTable("cluster_messages", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  payload: text("payload").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
}, (t) => [index("cluster_messages_created").on(t.createdAt)]);

/** Cluster mode: how each node carried out the last plugin change (install, reload, ...) made on any node. */
export const clusterPluginStatus = sqliteTable("cluster_plugin_status", {
  plugin: text("plugin").notNull(),
  node: text("node").notNull(),
  action: text("action").notNull(),
  ok: integer("ok", { mode: "boolean" }).notNull(),
  error: text("error"),
  at: integer("at", { mode: "timestamp_ms" }).notNull(),
}, (t) => [primaryKey({ columns: [t.plugin, t.node] })]);

/** Cluster mode: each node's rate-limit count per caller and minute (window_start, epoch ms), summed by the others. */
export const clusterRateCounts = sqliteTable("cluster_rate_counts", {
  id: text("id").notNull(),
  windowStart: integer("window_start").notNull(),
  node: text("node").notNull(),
  count: integer("count").notNull(),
}, (t) => [primaryKey({ columns: [t.id, t.windowStart, t.node] }), index("cluster_rate_counts_window").on(t.windowStart)]);

/** OpenID Connect sign-ins started and not finished: one use, ten minutes; in the database so any node of a cluster can finish them. */
export const oidcPending = sqliteTable("oidc_pending", {
  state: text("state").primaryKey(),
  nonce: text("nonce").notNull(),
  /** The PKCE verifier, sealed. */
  verifier: text("verifier").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
}, (t) => [index("oidc_pending_created").on(t.createdAt)]);
