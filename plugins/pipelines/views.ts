/** Errors, response schemas and the JSON views of runs, phases, events and artifacts. */
import { createError, defineErrors, Nullable, t } from "gantry/plugin";
import type { ArtifactRow, EventRow, PhaseRow, RunRow } from "./store.ts";
import type { Loaded } from "./templates.ts";

export const PipelineErrors = defineErrors("pipelines", {
  PIPELINE_NOT_FOUND: createError("PIPELINE_NOT_FOUND", 404, (id: string) => `No pipeline run '${id}'`),
  PIPELINE_TEMPLATE_NOT_FOUND: createError("PIPELINE_TEMPLATE_NOT_FOUND", 404, (name: string) => `No pipeline template '${name}'; list them at GET /api/v1/pipelines/templates`),
  PIPELINE_TEMPLATE_INVALID: createError("PIPELINE_TEMPLATE_INVALID", 400, (name: string, count: number) => `Pipeline template '${name}' has ${count} problem${count === 1 ? "" : "s"}; fix it (details.problems) and reload`),
  PIPELINE_INPUTS_INVALID: createError("PIPELINE_INPUTS_INVALID", 400, (problems: string[]) => `Inputs: ${problems.join("; ")}`),
  PIPELINE_NOT_RESUMABLE: createError("PIPELINE_NOT_RESUMABLE", 409, (id: string, state: string) => `Pipeline run '${id}' is ${state}; only an interrupted, failed or cancelled run resumes`),
  PIPELINE_FINISHED: createError("PIPELINE_FINISHED", 409, (id: string, state: string) => `Pipeline run '${id}' is already ${state}`),
  PIPELINE_CHAT_DISABLED: createError("PIPELINE_CHAT_DISABLED", 409, (id: string, template: string) => `Run '${id}' of template '${template}' has no chat mode (set chat: true in the template)`),
  PIPELINE_NO_ACTIVE_AGENT: createError("PIPELINE_NO_ACTIVE_AGENT", 409, (id: string, state: string) => `Run '${id}' (${state}) has no active agent: chat reaches a run while one of its agent phases runs`),
  PIPELINE_QUERY_REFUSED: createError("PIPELINE_QUERY_REFUSED", 400, (why: string) => `Journal query refused: ${why}`),
  PIPELINE_QUERY_TIMEOUT: createError("PIPELINE_QUERY_TIMEOUT", 422, (why: string) => `Journal query stopped: ${why}`),
  PIPELINE_ARTIFACT_NOT_FOUND: createError("PIPELINE_ARTIFACT_NOT_FOUND", 404, (id: string) => `No artifact '${id}'`),
  PIPELINE_RANGE_INVALID: createError("PIPELINE_RANGE_INVALID", 416, (range: string, size: number) => `Range '${range}' does not fit a file of ${size} bytes`),
});

export const RunStateSchema = t.Union([t.Literal("running"), t.Literal("succeeded"), t.Literal("failed"), t.Literal("cancelled"), t.Literal("interrupted")]);
const PhaseView = t.Object({
  name: t.String(), kind: t.String(), state: t.String({ description: "pending, waiting_gate, running, succeeded, failed, skipped" }), needs: t.Array(t.String()),
  attempts: t.Integer(), output: t.Unknown(), error: Nullable(t.String()), agent: Nullable(t.String()), gate_id: Nullable(t.String()),
  started_at: Nullable(t.String()), finished_at: Nullable(t.String()),
});
export const RunView = t.Object({
  run_id: t.String(), template: t.String(), state: RunStateSchema, actor: t.String(),
  role: t.Union([t.Literal("viewer"), t.Literal("operator"), t.Literal("admin")], { description: "The role the run's agent and command phases act with: the starter's" }), parent_run_id: Nullable(t.String()), compliance: t.Array(t.String()),
  chat: t.Boolean(), inputs: t.Record(t.String(), t.Unknown()), outputs: t.Record(t.String(), t.Unknown(), { description: "phase → output, for the phases that succeeded" }),
  current_phases: t.Array(t.String(), { description: "phases running or waiting at a gate" }), active_agent: Nullable(t.String()),
  error: Nullable(t.String()), cancel_requested: t.Boolean(), phases: t.Array(PhaseView), created_at: t.String(), updated_at: t.String(), finished_at: Nullable(t.String()),
});
export const EventView = t.Object({ run_id: t.String(), seq: t.Integer(), time: t.String(), phase: Nullable(t.String()), kind: t.String(), data: t.Record(t.String(), t.Unknown()) });
export const ArtifactView = t.Object({
  id: t.String(), run_id: t.String(), phase: t.String(), name: t.String(), media_type: t.String(), size: t.Integer(), sha256: t.String(), created_at: t.String(), download: t.String(),
});
export const TemplateView = t.Object({
  name: t.String(), source: t.String(), valid: t.Boolean(), problems: t.Array(t.String()), description: Nullable(t.String()), compliance: t.Array(t.String()),
  chat: t.Boolean(), inputs: t.Record(t.String(), t.Unknown()), phases: t.Array(t.Object({ name: t.String(), kind: t.String(), needs: t.Array(t.String()), gate: t.Boolean() })),
});

const iso = (d: Date | null) => d?.toISOString() ?? null;

export function runView(run: RunRow, phases: PhaseRow[]) {
  const byName = new Map(phases.map((p) => [p.name, p]));
  const ordered = run.definition.phases.map((def) => ({ def, row: byName.get(def.name) }));
  const active = phases.find((p) => p.state === "running" && p.agent);
  return {
    run_id: run.id, template: run.template, state: run.state, actor: run.actor, role: run.role, parent_run_id: run.parentRunId, compliance: run.compliance, chat: run.definition.chat,
    inputs: run.inputs, outputs: Object.fromEntries(ordered.filter((o) => o.row?.state === "succeeded").map((o) => [o.def.name, o.row!.output])),
    current_phases: ordered.filter((o) => o.row?.state === "running" || o.row?.state === "waiting_gate").map((o) => o.def.name),
    active_agent: active?.agent ?? null, error: run.error, cancel_requested: run.cancelRequested,
    phases: ordered.map(({ def, row }) => ({
      name: def.name, kind: def.kind, state: row?.state ?? "pending", needs: def.needs, attempts: row?.attempts ?? 0, output: row?.output ?? null, error: row?.error ?? null,
      agent: row?.agent ?? null, gate_id: row?.gateId ?? null, started_at: iso(row?.startedAt ?? null), finished_at: iso(row?.finishedAt ?? null),
    })),
    created_at: run.createdAt.toISOString(), updated_at: run.updatedAt.toISOString(), finished_at: iso(run.finishedAt),
  };
}

export const eventView = (e: EventRow) => ({ run_id: e.runId, seq: e.seq, time: e.at.toISOString(), phase: e.phase, kind: e.kind, data: e.data });

export const artifactView = (a: ArtifactRow) => ({
  id: a.id, run_id: a.runId, phase: a.phase, name: a.name, media_type: a.mediaType, size: a.size, sha256: a.sha256, created_at: a.createdAt.toISOString(),
  download: `/api/v1/pipelines/artifacts/${a.id}`,
});

export function templateView(loaded: Loaded) {
  if (!loaded.template) return { name: loaded.name, source: loaded.source, valid: false, problems: loaded.problems, description: null, compliance: [], chat: false, inputs: {}, phases: [] };
  const tpl = loaded.template;
  return {
    name: tpl.name, source: tpl.source, valid: true, problems: [], description: tpl.description || null, compliance: tpl.compliance, chat: tpl.chat, inputs: tpl.inputs,
    phases: tpl.phases.map((p) => ({ name: p.name, kind: p.kind, needs: p.needs, gate: p.gate !== null })),
  };
}
