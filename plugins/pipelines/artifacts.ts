/** Files phases produce: written under the plugin's data folder with their size and SHA-256. */
import { writeFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { newId, type ArtifactRow, type PipelineStore } from "./store.ts";

export interface ArtifactFile { name: string; mediaType: string; bytes: Uint8Array }

const SAFE_NAME = /^[\w][\w.-]{0,127}$/;

/** The files a phase's output asks for: `{artifacts: [{name, media_type?, content | content_base64}]}`. */
export function artifactsInOutput(output: unknown): ArtifactFile[] {
  const list = typeof output === "object" && output !== null ? (output as { artifacts?: unknown }).artifacts : undefined;
  if (!Array.isArray(list)) return [];
  return list.flatMap((entry) => {
    const e = entry as { name?: unknown; media_type?: unknown; content?: unknown; content_base64?: unknown };
    if (typeof e?.name !== "string" || !SAFE_NAME.test(e.name)) return [];
    const bytes = typeof e.content_base64 === "string" ? Buffer.from(e.content_base64, "base64") : typeof e.content === "string" ? Buffer.from(e.content) : undefined;
    return bytes ? [{ name: e.name, mediaType: typeof e.media_type === "string" ? e.media_type : "application/octet-stream", bytes }] : [];
  });
}

/** The phase's whole output as one file (strings as they are, anything else as JSON). */
export function outputAsFile(name: string, mediaType: string, output: unknown): ArtifactFile {
  return { name, mediaType, bytes: Buffer.from(typeof output === "string" ? output : JSON.stringify(output, null, 2)) };
}

/** Writes the file and records it. */
export async function saveArtifact(store: PipelineStore, dataDir: string, runId: string, phase: string, file: ArtifactFile): Promise<ArtifactRow> {
  // Names may come from placeholders (inputs): only plain file names, never a path.
  if (!SAFE_NAME.test(file.name)) throw new Error(`artifact name '${file.name.slice(0, 80)}' must be a file name (letters, digits, _ . -)`);
  const id = newId("art");
  const dir = join(dataDir, "artifacts", runId);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${id}-${file.name}`);
  await writeFile(path, file.bytes);
  const sha256 = createHash("sha256").update(file.bytes).digest("hex");
  return store.addArtifact({ id, runId, phase, name: file.name, mediaType: file.mediaType, size: file.bytes.byteLength, sha256, path });
}
