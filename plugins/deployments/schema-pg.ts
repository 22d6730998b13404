/** The PostgreSQL twin of schema.ts (same tables, columns, row types and indexes: a test compares them). */
import { bigint, bigserial, boolean, doublePrecision, index, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import type { DriftBaseline } from "./schema.ts";

/** Milliseconds, as the SQLite twin's timestamp_ms columns keep them. */
const ms = (name: string) => timestamp(name, { mode: "date", precision: 3, withTimezone: true });
const int = (name: string) => bigint(name, { mode: "number" });

/** A served model name (what clients send as `model`) and which of its versions answers. */
export const deployments = pgTable("deployments", {
  model: text("model").primaryKey(),
  liveVersion: text("live_version"),
  /** The version live before the last switch: rollback goes back to it. */
  previousVersion: text("previous_version"),
  /** Until when the previous version is kept running for an instant rollback. */
  warmUntil: ms("warm_until"),
  canaryVersion: text("canary_version"),
  /** Percent of requests the canary answers. */
  canaryTraffic: int("canary_traffic"),
  baseline: jsonb("baseline").$type<DriftBaseline>(),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
});

/** A version of a served model: an instance. */
export const deploymentVersions = pgTable("deployment_versions", {
  model: text("model").notNull(),
  version: text("version").notNull(),
  status: text("status", { enum: ["candidate", "live", "canary", "warm", "standby", "retired"] }).notNull(),
  createdAt: ms("created_at").notNull(),
  promotedAt: ms("promoted_at"),
  retiredAt: ms("retired_at"),
}, (t) => [primaryKey({ columns: [t.model, t.version] })]);

/** A request to make a version live, held at an approval gate until someone else decides. */
export const promotions = pgTable("deployment_promotions", {
  id: text("id").primaryKey(),
  model: text("model").notNull(),
  version: text("version").notNull(),
  fromVersion: text("from_version"),
  /** Percent for a canary first; null for a full switch. */
  traffic: int("traffic"),
  comment: text("comment").notNull(),
  requestedBy: text("requested_by").notNull(),
  gateId: text("gate_id").notNull(),
  status: text("status", { enum: ["pending", "rejected", "expired", "canary", "live", "rolled_back", "superseded"] }).notNull(),
  decidedBy: text("decided_by"),
  note: text("note"),
  /** The latest compare report of the two versions when the promotion was asked for. */
  reportId: text("report_id"),
  requestedAt: ms("requested_at").notNull(),
  decidedAt: ms("decided_at"),
}, (t) => [index("deployment_promotions_model").on(t.model, t.requestedAt), index("deployment_promotions_status").on(t.status)]);

/** Every change to a deployment, for the audit: who did what, when. */
export const deploymentHistory = pgTable("deployment_history", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  model: text("model").notNull(),
  at: ms("at").notNull(),
  kind: text("kind").notNull(),
  actor: text("actor").notNull(),
  version: text("version"),
  detail: jsonb("detail").$type<Record<string, unknown>>().notNull(),
}, (t) => [index("deployment_history_model").on(t.model, t.id)]);

/** A shadow comparison: a share of the live traffic mirrored to a challenger. */
export const shadowRuns = pgTable("deployment_shadow_runs", {
  id: text("id").primaryKey(),
  model: text("model").notNull(),
  champion: text("champion").notNull(),
  challenger: text("challenger").notNull(),
  sampleRate: doublePrecision("sample_rate").notNull(),
  actor: text("actor").notNull(),
  startedAt: ms("started_at").notNull(),
  stoppedAt: ms("stopped_at"),
  /** Requests seen, sampled, mirrored and dropped (in-flight limit) when it stopped. */
  counts: jsonb("counts").$type<{ seen: number; sampled: number; mirrored: number; dropped: number }>(),
}, (t) => [index("deployment_shadow_runs_model").on(t.model, t.startedAt)]);

/** One mirrored request: both sides' figures and how alike their answers were. */
export const shadowSamples = pgTable("deployment_shadow_samples", {
  shadowId: text("shadow_id").notNull(),
  seq: int("seq").notNull(),
  at: ms("at").notNull(),
  championMs: doublePrecision("champion_ms").notNull(),
  challengerMs: doublePrecision("challenger_ms").notNull(),
  championTokens: int("champion_tokens"),
  challengerTokens: int("challenger_tokens"),
  championError: boolean("champion_error").notNull(),
  challengerError: boolean("challenger_error").notNull(),
  exact: boolean("exact").notNull(),
  normalized: boolean("normalized").notNull(),
  cosine: doublePrecision("cosine"),
}, (t) => [primaryKey({ columns: [t.shadowId, t.seq] })]);

/** Stored outputs: compare reports, OCI packages and audit PDFs. */
export const deploymentArtifacts = pgTable("deployment_artifacts", {
  id: text("id").primaryKey(),
  kind: text("kind", { enum: ["report", "package", "audit"] }).notNull(),
  model: text("model"),
  version: text("version"),
  fileName: text("file_name").notNull(),
  mediaType: text("media_type").notNull(),
  bytes: int("bytes").notNull(),
  sha256: text("sha256").notNull(),
  /** Kind-specific: a report's figures, a package's manifest digest, ... */
  detail: jsonb("detail").$type<Record<string, unknown>>().notNull(),
  actor: text("actor").notNull(),
  createdAt: ms("created_at").notNull(),
}, (t) => [index("deployment_artifacts_kind").on(t.kind, t.createdAt)]);
