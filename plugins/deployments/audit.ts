/** POST /audit: the model's promotion history gathered and written as a PDF artifact. */
import { newArtifactId, type ArtifactFiles } from "./artifacts.ts";
import { auditPdf } from "./audit-pdf.ts";
import { safeName } from "./compare.ts";
import type { ArtifactRow, DeploymentRow, DeploymentStore } from "./store.ts";

export class AuditWriter {
  constructor(private readonly store: DeploymentStore, private readonly files: ArtifactFiles) {}

  async write(deployment: DeploymentRow, actor: string): Promise<ArtifactRow> {
    const promotions = await this.store.promotions(deployment.model);
    const reports = new Map<string, ArtifactRow>();
    for (const id of new Set(promotions.map((p) => p.reportId).filter((id): id is string => id !== null))) {
      const report = await this.store.artifact(id);
      if (report) reports.set(id, report);
    }
    const generatedAt = new Date();
    const pdf = await auditPdf({
      deployment, versions: await this.store.versions(deployment.model), promotions, history: await this.store.history(deployment.model), reports, generatedBy: actor, generatedAt,
    });
    const id = newArtifactId("audit");
    return this.files.add({
      id, kind: "audit", model: deployment.model, version: deployment.liveVersion, fileName: `audit-${safeName(deployment.model)}.pdf`, mediaType: "application/pdf",
      detail: { promotions: promotions.length, live_version: deployment.liveVersion, generated_at: generatedAt.toISOString() }, actor,
    }, pdf);
  }
}
