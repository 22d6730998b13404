/** How deployments, promotions and artifacts show in the API, and their TypeBox schemas. */
import { Nullable, t } from "gantry/plugin";
import type { ArtifactRow, DeploymentRow, PromotionRow, VersionRow } from "./store.ts";
import type { Routing } from "./traffic.ts";

/** A model id as clients send it: letters, digits and `. _ - : /`. */
export const ModelName = t.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$", description: "a served model name or an instance name (URL-encode / in paths)" });

const Interval = t.Tuple([t.Number(), t.Number()]);
const Rate = t.Object({ n: t.Integer(), rate: t.Number(), ci95: Interval });
const Mean = t.Object({ n: t.Integer(), mean: t.Number(), p50: t.Number(), ci95: Interval });
const Side = t.Object({ latency_ms: Mean, error_rate: Rate, completion_tokens: Mean });

export const ShadowStatusView = t.Object({
  model: t.String(), shadow_id: t.String(), champion: t.String(), challenger: t.String(), sample_rate: t.Number(), running: t.Boolean(),
  started_at: t.String(), stopped_at: Nullable(t.String()),
  counts: t.Object({ seen: t.Integer(), sampled: t.Integer(), mirrored: t.Integer(), dropped: t.Integer(), in_flight: t.Integer() }),
  observed_rate: Rate, samples: t.Integer({ description: "mirrored requests the figures come from (the newest shadow_samples_kept)" }),
  figures: t.Object({ champion: Side, challenger: Side }),
  similarity: t.Object({ exact: Rate, normalized: Rate, cosine: Nullable(Mean) }),
});

const VersionView = t.Object({
  version: t.String(), status: t.String({ description: "candidate, live, canary, warm (kept running for rollback), standby, retired" }),
  instance_status: Nullable(t.String()), created_at: t.String(), promoted_at: Nullable(t.String()), retired_at: Nullable(t.String()),
});

export const DeploymentView = t.Object({
  model: t.String(),
  status: t.Union([t.Literal("live"), t.Literal("canary"), t.Literal("pending_approval"), t.Literal("no_live_version")]),
  live_version: Nullable(t.String()), previous_version: Nullable(t.String()), warm_until: Nullable(t.String()),
  canary: Nullable(t.Object({ version: t.String(), traffic: t.Integer() })),
  traffic: t.Array(t.Object({ version: t.String(), percent: t.Number() }), { description: "the split of live requests" }),
  shadow: Nullable(t.Object({ shadow_id: t.String(), challenger: t.String(), sample_rate: t.Number() })),
  pending_promotion: Nullable(t.String()),
  versions: t.Array(VersionView),
  created_at: t.String(), updated_at: t.String(),
});

export const PromotionView = t.Object({
  id: t.String(), model: t.String(), version: t.String(), from_version: Nullable(t.String()), traffic: Nullable(t.Integer()), comment: t.String(),
  status: t.String({ description: "pending, rejected, expired, canary, live, rolled_back, superseded" }),
  gate_id: t.String({ description: "decide it at /api/v1/approvals/{gate_id}/approve (someone other than the requester)" }),
  requested_by: t.String(), decided_by: Nullable(t.String()), note: Nullable(t.String()), report_id: Nullable(t.String()),
  requested_at: t.String(), decided_at: Nullable(t.String()),
});

export const ArtifactView = t.Object({
  id: t.String(), kind: t.Union([t.Literal("report"), t.Literal("package"), t.Literal("audit")]), model: Nullable(t.String()), version: Nullable(t.String()),
  file_name: t.String(), media_type: t.String(), bytes: t.Integer(), sha256: t.String(), actor: t.String(), created_at: t.String(),
  download: t.String({ description: "the path that serves the file" }),
  detail: t.Record(t.String(), t.Unknown(), { description: "a report's figures; a package's manifest digest; an audit's scope" }),
});

const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;

export function deploymentView(row: DeploymentRow, routing: Routing | undefined, versions: VersionRow[], instanceStatus: (name: string) => string | null,
  extra: { shadow: { shadow_id: string; challenger: string; sample_rate: number } | null; pending: string | null }) {
  const canary = row.canaryVersion && row.canaryTraffic !== null ? { version: row.canaryVersion, traffic: row.canaryTraffic } : null;
  const live = routing?.live ?? row.liveVersion;
  const traffic = live ? (canary ? [{ version: live, percent: 100 - canary.traffic }, { version: canary.version, percent: canary.traffic }] : [{ version: live, percent: 100 }]) : [];
  return {
    model: row.model, status: canary ? "canary" as const : live ? "live" as const : extra.pending ? "pending_approval" as const : "no_live_version" as const,
    live_version: live, previous_version: row.previousVersion, warm_until: iso(row.warmUntil), canary, traffic, shadow: extra.shadow, pending_promotion: extra.pending,
    versions: versions.map((v) => ({ version: v.version, status: v.status, instance_status: instanceStatus(v.version), created_at: v.createdAt.toISOString(), promoted_at: iso(v.promotedAt), retired_at: iso(v.retiredAt) })),
    created_at: row.createdAt.toISOString(), updated_at: row.updatedAt.toISOString(),
  };
}

export const promotionView = (p: PromotionRow) => ({
  id: p.id, model: p.model, version: p.version, from_version: p.fromVersion, traffic: p.traffic, comment: p.comment, status: p.status, gate_id: p.gateId,
  requested_by: p.requestedBy, decided_by: p.decidedBy, note: p.note, report_id: p.reportId, requested_at: p.requestedAt.toISOString(), decided_at: iso(p.decidedAt),
});

export const artifactView = (a: ArtifactRow) => ({
  id: a.id, kind: a.kind, model: a.model, version: a.version, file_name: a.fileName, media_type: a.mediaType, bytes: a.bytes, sha256: a.sha256, actor: a.actor,
  created_at: a.createdAt.toISOString(), download: `/api/v1/deployments/artifacts/${a.id}/download`, detail: a.detail,
});
