/** Files the plugin produces (reports, packages, audits), kept under its data folder and listed in its artifacts table. */
import { createHash } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DeploymentErrors } from "./errors.ts";
import type { ArtifactRow, DeploymentStore } from "./store.ts";

export const newArtifactId = (kind: string) => `${kind}_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;

export class ArtifactFiles {
  readonly dir: string;

  constructor(dataDir: string, private readonly store: DeploymentStore) {
    this.dir = join(dataDir, "artifacts");
    mkdirSync(this.dir, { recursive: true });
  }

  /** Where an artifact's file lives (ids are generated, never taken from a request). */
  path(row: Pick<ArtifactRow, "id" | "fileName">): string {
    return join(this.dir, `${row.id}-${row.fileName}`);
  }

  /** Writes a small artifact (a report, a PDF) and lists it. */
  async add(row: Omit<ArtifactRow, "bytes" | "sha256" | "createdAt">, content: Uint8Array | string): Promise<ArtifactRow> {
    const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
    writeFileSync(this.path(row), bytes);
    return this.store.addArtifact({ ...row, bytes: bytes.byteLength, sha256: sha256(bytes), createdAt: new Date() });
  }

  /** Rewrites an artifact's file (a report whose evaluations finished). */
  async replace(row: ArtifactRow, content: string, detail: Record<string, unknown>): Promise<ArtifactRow> {
    const bytes = new TextEncoder().encode(content);
    writeFileSync(this.path(row), bytes);
    return this.store.updateArtifact(row.id, { bytes: bytes.byteLength, sha256: sha256(bytes), detail });
  }

  async get(id: string): Promise<ArtifactRow> {
    const row = await this.store.artifact(id);
    if (!row) throw DeploymentErrors.ARTIFACT_NOT_FOUND([id]);
    return row;
  }

  /** Removes a file that was being written when its build failed. */
  discard(row: Pick<ArtifactRow, "id" | "fileName">): void {
    rmSync(this.path(row), { force: true });
  }
}

export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
