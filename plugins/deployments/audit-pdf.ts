/** The promotion history of a served model as a PDF (pdfkit): versions, promotions with who asked and who approved, compare figures, every event. */
import type { ArtifactRow, DeploymentRow, HistoryRow, PromotionRow, VersionRow } from "./store.ts";

export interface AuditData {
  deployment: DeploymentRow;
  versions: VersionRow[];
  promotions: PromotionRow[];
  history: HistoryRow[];
  /** Compare reports the promotions refer to, by id. */
  reports: Map<string, ArtifactRow>;
  generatedBy: string;
  generatedAt: Date;
}

/** The standard PDF fonts cover Latin-1 only: anything else prints as '?'. */
const latin = (text: unknown) => String(text ?? "").replace(/[^\x09\x0a\x0d\x20-\x7e\xa0-\xff]/g, "?");
const when = (d: Date | null | undefined) => (d ? d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : "-");

/** Renders the audit; pdfkit (~0.7 s and ~40 MiB to load) is imported on the first audit, not at start. */
export async function auditPdf(data: AuditData): Promise<Uint8Array> {
  const { default: PDFDocument } = await import("pdfkit");
  const { deployment: d } = data;
  const doc = new PDFDocument({ size: "A4", margin: 50, info: { Title: latin(`Promotion audit: ${d.model}`), Author: "gantry", CreationDate: data.generatedAt } });
  const chunks: Uint8Array[] = [];
  doc.on("data", (chunk: Uint8Array) => chunks.push(chunk));
  const ended = new Promise<void>((resolve) => doc.on("end", () => resolve()));

  const heading = (text: string) => doc.moveDown(0.8).font("Helvetica-Bold").fontSize(13).fillColor("#111").text(latin(text)).moveDown(0.3).font("Helvetica").fontSize(10);
  const line = (label: string, value: unknown) => doc.font("Helvetica-Bold").text(`${latin(label)}: `, { continued: true }).font("Helvetica").text(latin(value));

  doc.font("Helvetica-Bold").fontSize(20).text(latin(`Promotion audit: ${d.model}`));
  doc.font("Helvetica").fontSize(10).fillColor("#444").text(latin(`Generated ${when(data.generatedAt)} by ${data.generatedBy}`)).fillColor("#111").moveDown(0.5);
  line("Live version", d.liveVersion ?? "none");
  line("Previous version", d.previousVersion ? `${d.previousVersion} (kept warm until ${when(d.warmUntil)})` : "none");
  line("Canary", d.canaryVersion ? `${d.canaryVersion} at ${d.canaryTraffic}% of requests` : "none");

  heading("Versions");
  for (const v of data.versions) {
    const dates = [`added ${when(v.createdAt)}`, ...(v.promotedAt ? [`promoted ${when(v.promotedAt)}`] : []), ...(v.retiredAt ? [`retired ${when(v.retiredAt)}`] : [])];
    doc.font("Helvetica-Bold").text(`${latin(v.version)} (${v.status}): `, { continued: true }).font("Helvetica").text(latin(dates.join("; ")));
  }

  heading("Promotions");
  if (data.promotions.length === 0) doc.text("No promotion was requested.");
  for (const p of data.promotions) {
    doc.moveDown(0.4).font("Helvetica-Bold").text(latin(`${p.id}: ${p.fromVersion ?? "(none)"} -> ${p.version} [${p.status}]${p.traffic !== null ? `, canary at ${p.traffic}%` : ""}`)).font("Helvetica");
    line("Requested by", `${p.requestedBy} at ${when(p.requestedAt)}`);
    line("Comment", p.comment);
    line("Decision", p.decidedBy ? `${p.status === "rejected" || p.status === "expired" ? p.status : "approved"} by ${p.decidedBy} at ${when(p.decidedAt)}` : p.status === "pending" ? "waiting for approval" : p.status);
    if (p.note) line("Approver's note", p.note);
    const report = p.reportId ? data.reports.get(p.reportId) : undefined;
    if (report) line("Compare", compareSummary(report));
  }

  heading("History");
  for (const h of data.history) {
    const detail = Object.entries(h.detail).filter(([, v]) => v !== null && typeof v !== "object").map(([k, v]) => `${k}=${v}`).join(", ");
    doc.text(latin(`${when(h.at)}  ${h.kind}  by ${h.actor}${h.version ? `  version ${h.version}` : ""}${detail ? `  (${detail})` : ""}`));
  }
  doc.end();
  await ended;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** One line of a compare report's figures: shadow latency, errors and agreement; evaluation deltas. */
function compareSummary(report: ArtifactRow): string {
  const r = report.detail as {
    champion: string; challenger: string;
    shadow: { samples: number; figures: Record<"champion" | "challenger", { latency_ms: { p50: number }; error_rate: { rate: number } }>; similarity: { exact: { rate: number }; normalized: { rate: number } } } | null;
    evaluation: { dataset: string; status: string; deltas: Record<string, number> | null } | null;
  };
  const parts = [`report ${report.id}, ${r.champion} vs ${r.challenger}`];
  if (r.shadow) {
    const { champion: a, challenger: b } = r.shadow.figures;
    parts.push(`shadow ${r.shadow.samples} samples: p50 latency ${a.latency_ms.p50} ms vs ${b.latency_ms.p50} ms, error rate ${a.error_rate.rate} vs ${b.error_rate.rate}, exact agreement ${r.shadow.similarity.exact.rate}, normalized ${r.shadow.similarity.normalized.rate}`);
  }
  if (r.evaluation) parts.push(`evaluation on ${r.evaluation.dataset} ${r.evaluation.status}${r.evaluation.deltas ? `: ${Object.entries(r.evaluation.deltas).map(([m, v]) => `${m} ${v >= 0 ? "+" : ""}${v}`).join(", ")}` : ""}`);
  return parts.join("; ");
}
