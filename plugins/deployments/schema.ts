import { index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** What drift is measured against: the live version's first requests after its promotion. */
export interface DriftBaseline {
  requests: number;
  latency_p50_ms: number;
  error_rate: number;
  output_length_mean: number;
}

/** A served model name (what clients send as `model`) and which of its versions answers. */
export const deployments = sqliteTable("deployments", {
  model: text("model").primaryKey(),
  liveVersion: text("live_version"),
  /** The version live before the last switch: rollback goes back to it. */
  previousVersion: text("previous_version"),
  /** Until when the previous version is kept running for an instant rollback. */
  warmUntil: integer("warm_until", { mode: "timestamp_ms" }),
  canaryVersion: text("canary_version"),
  /** Percent of requests the canary answers. */
  canaryTraffic: integer("canary_traffic"),
  baseline: text("baseline", { mode: "json" }).$type<DriftBaseline>(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/** A version of a served model: an instance. */
export const deploymentVersions = sqliteTable("deployment_versions", {
  model: text("model").notNull(),
  version: text("version").notNull(),
  status: text("status", { enum: ["candidate", "live", "canary", "warm", "standby", "retired"] }).notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  promotedAt: integer("promoted_at", { mode: "timestamp_ms" }),
  retiredAt: integer("retired_at", { mode: "timestamp_ms" }),
}, (t) => [primaryKey({ columns: [t.model, t.version] })]);

/** A request to make a version live, held at an approval gate until someone else decides. */
export const promotions = sqliteTable("deployment_promotions", {
  id: text("id").primaryKey(),
  model: text("model").notNull(),
  version: text("version").notNull(),
  fromVersion: text("from_version"),
  /** Percent for a canary first; null for a full switch. */
  traffic: integer("traffic"),
  comment: text("comment").notNull(),
  requestedBy: text("requested_by").notNull(),
  gateId: text("gate_id").notNull(),
  status: text("status", { enum: ["pending", "rejected", "expired", "canary", "live", "rolled_back", "superseded"] }).notNull(),
  decidedBy: text("decided_by"),
  note: text("note"),
  /** The latest compare report of the two versions when the promotion was asked for. */
  reportId: text("report_id"),
  requestedAt: integer("requested_at", { mode: "timestamp_ms" }).notNull(),
  decidedAt: integer("decided_at", { mode: "timestamp_ms" }),
}, (t) => [index("deployment_promotions_model").on(t.model, t.requestedAt), index("deployment_promotions_status").on(t.status)]);

/** Every change to a deployment, for the audit: who did what, when. */
export const deploymentHistory = sqliteTable("deployment_history", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  model: text("model").notNull(),
  at: integer("at", { mode: "timestamp_ms" }).notNull(),
  kind: text("kind").notNull(),
  actor: text("actor").notNull(),
  version: text("version"),
  detail: text("detail", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
}, (t) => [index("deployment_history_model").on(t.model, t.id)]);

/** A shadow comparison: a share of the live traffic mirrored to a challenger. */
export const shadowRuns = sqliteTable("deployment_shadow_runs", {
  id: text("id").primaryKey(),
  model: text("model").notNull(),
  champion: text("champion").notNull(),
  challenger: text("challenger").notNull(),
  sampleRate: real("sample_rate").notNull(),
  actor: text("actor").notNull(),
  startedAt: integer("started_at", { mode: "timestamp_ms" }).notNull(),
  stoppedAt: integer("stopped_at", { mode: "timestamp_ms" }),
  /** Requests seen, sampled, mirrored and dropped (in-flight limit) when it stopped. */
  counts: text("counts", { mode: "json" }).$type<{ seen: number; sampled: number; mirrored: number; dropped: number }>(),
}, (t) => [index("deployment_shadow_runs_model").on(t.model, t.startedAt)]);

/** One mirrored request: both sides' figures and how alike their answers were. */
export const shadowSamples = sqliteTable("deployment_shadow_samples", {
  shadowId: text("shadow_id").notNull(),
  seq: integer("seq").notNull(),
  at: integer("at", { mode: "timestamp_ms" }).notNull(),
  championMs: real("champion_ms").notNull(),
  challengerMs: real("challenger_ms").notNull(),
  championTokens: integer("champion_tokens"),
  challengerTokens: integer("challenger_tokens"),
  championError: integer("champion_error", { mode: "boolean" }).notNull(),
  challengerError: integer("challenger_error", { mode: "boolean" }).notNull(),
  exact: integer("exact", { mode: "boolean" }).notNull(),
  normalized: integer("normalized", { mode: "boolean" }).notNull(),
  cosine: real("cosine"),
}, (t) => [primaryKey({ columns: [t.shadowId, t.seq] })]);

/** Stored outputs: compare reports, OCI packages and audit PDFs. */
export const deploymentArtifacts = sqliteTable("deployment_artifacts", {
  id: text("id").primaryKey(),
  kind: text("kind", { enum: ["report", "package", "audit"] }).notNull(),
  model: text("model"),
  version: text("version"),
  fileName: text("file_name").notNull(),
  mediaType: text("media_type").notNull(),
  bytes: integer("bytes").notNull(),
  sha256: text("sha256").notNull(),
  /** Kind-specific: a report's figures, a package's manifest digest, ... */
  detail: text("detail", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
  actor: text("actor").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
}, (t) => [index("deployment_artifacts_kind").on(t.kind, t.createdAt)]);
