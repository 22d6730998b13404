/**
 * Champion-vs-challenger reports: the shadow figures of the two versions, and with a dataset an
 * evaluation of each through the evaluations plugin (its runs go on in the background; a report
 * read while they run is brought up to date then). Stored as JSON artifacts.
 */
import type { EvaluationsService } from "gantry/plugin";
import { newArtifactId, type ArtifactFiles } from "./artifacts.ts";
import type { DeploymentControl } from "./control.ts";
import { DeploymentErrors } from "./errors.ts";
import type { ShadowControl } from "./shadow-control.ts";
import { round } from "./stats.ts";
import type { ArtifactRow, DeploymentStore } from "./store.ts";

export interface CompareRequest {
  model: string;
  champion?: string;
  challenger?: string;
  dataset?: string;
  metrics?: unknown[];
  limit?: number;
  input_column?: string;
}

interface EvaluationPart {
  dataset: string;
  status: "running" | "completed" | "failed";
  champion: { id: string; status: string; summary: Record<string, unknown> | null };
  challenger: { id: string; status: string; summary: Record<string, unknown> | null };
  /** metric → challenger mean − champion mean, once both completed. */
  deltas: Record<string, number> | null;
}

export interface CompareDeps {
  store: DeploymentStore;
  control: DeploymentControl;
  shadow: ShadowControl;
  files: ArtifactFiles;
  evaluations: () => EvaluationsService | undefined;
}

export class Comparisons {
  constructor(private readonly d: CompareDeps) {}

  async create(request: CompareRequest, actor: string): Promise<ArtifactRow> {
    const deployment = await this.d.control.adopt(request.model, actor);
    const champion = request.champion ?? deployment.liveVersion;
    if (!champion) throw DeploymentErrors.NO_CHAMPION([request.model]);
    const challenger = request.challenger ?? (await this.d.store.latestShadowRun(request.model))?.challenger;
    if (!challenger) throw DeploymentErrors.NOTHING_TO_COMPARE([request.model, "a challenger"]);
    if (champion === challenger) throw DeploymentErrors.SAME_VERSION([challenger]);
    this.d.control.instance(champion);
    this.d.control.instance(challenger);
    const shadow = await this.d.shadow.status(request.model, champion, challenger).catch(() => null);
    if (!shadow && !request.dataset) throw DeploymentErrors.NOTHING_TO_COMPARE([request.model, challenger]);
    let evaluation: EvaluationPart | null = null;
    if (request.dataset) {
      const evaluations = this.d.evaluations();
      if (!evaluations) throw DeploymentErrors.EVALUATIONS_UNAVAILABLE([]);
      const spec = { dataset: request.dataset, metrics: request.metrics ?? ["exact_match", "contains"], limit: request.limit, ...(request.input_column ? { input_column: request.input_column } : {}) };
      const a = await evaluations.start({ ...spec, model: champion, name: `deployments: ${request.model} champion ${champion}` }, actor);
      const b = await evaluations.start({ ...spec, model: challenger, name: `deployments: ${request.model} challenger ${challenger}` }, actor);
      evaluation = { dataset: request.dataset, status: "running", champion: { id: a.id, status: "running", summary: null }, challenger: { id: b.id, status: "running", summary: null }, deltas: null };
    }
    const id = newArtifactId("report");
    const report = { id, model: request.model, champion, challenger, created_at: new Date().toISOString(), actor, shadow, evaluation };
    const row = await this.d.files.add({ id, kind: "report", model: request.model, version: challenger, fileName: `compare-${safeName(request.model)}.json`, mediaType: "application/json", detail: report, actor }, JSON.stringify(report, null, 2));
    return this.refresh(row);
  }

  /** A report whose evaluations were running, with their current state (rewritten when it changed). */
  async refresh(row: ArtifactRow): Promise<ArtifactRow> {
    const report = row.detail as { evaluation: EvaluationPart | null };
    const part = report.evaluation;
    const evaluations = this.d.evaluations();
    if (row.kind !== "report" || !part || part.status !== "running" || !evaluations) return row;
    const [a, b] = [await evaluations.get(part.champion.id), await evaluations.get(part.challenger.id)];
    const side = (r: typeof a, id: string) => ({ id, status: r?.status ?? "missing", summary: r?.summary ?? null });
    const next: EvaluationPart = { ...part, champion: side(a, part.champion.id), challenger: side(b, part.challenger.id) };
    if (next.champion.status === "running" || next.challenger.status === "running") {
      if (next.champion.status === part.champion.status && next.challenger.status === part.challenger.status) return row;
    } else {
      next.status = next.champion.status === "completed" && next.challenger.status === "completed" ? "completed" : "failed";
      next.deltas = next.status === "completed" ? deltas(next.champion.summary, next.challenger.summary) : null;
    }
    const detail = { ...row.detail, evaluation: next };
    return this.d.files.replace(row, JSON.stringify(detail, null, 2), detail);
  }
}

function deltas(a: Record<string, unknown> | null, b: Record<string, unknown> | null): Record<string, number> {
  const metrics = (s: Record<string, unknown> | null) => (s?.metrics ?? {}) as Record<string, { mean: number }>;
  const out: Record<string, number> = {};
  for (const [name, m] of Object.entries(metrics(b))) {
    const base = metrics(a)[name];
    if (base) out[name] = round(m.mean - base.mean);
  }
  return out;
}

/** A model id as a file name part (ids may hold `/` and `:`). */
export const safeName = (name: string) => name.replace(/[^A-Za-z0-9._-]+/g, "_");
