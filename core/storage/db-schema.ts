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
