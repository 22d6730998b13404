/** What is in models_dir: each file or folder (a safetensors model), its size, SHA-256 when gantry pulled it, and the instances that use it. */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { PulledFile } from "./model-pulls.ts";

export interface ModelFileView {
  name: string;
  kind: "file" | "folder";
  size: number;
  sha256: string | null;
  source: string | null;
  /** A download that has not finished (resumed by pulling the same source again). */
  partial: boolean;
  used_by: string[];
}

function sizeOf(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, entry) => sum + sizeOf(join(path, entry)), 0);
}

/** The top level of `modelsDir`, by name; `recorded` is what pulls wrote down, by target. */
export function listModelFiles(modelsDir: string, recorded: Map<string, PulledFile>, instances: { name: string; model_path: string }[]): ModelFileView[] {
  if (!existsSync(modelsDir)) return [];
  const root = resolve(modelsDir);
  return readdirSync(modelsDir).sort().map((entry) => {
    const path = join(root, entry);
    const partial = entry.endsWith(".partial");
    const name = partial ? entry.slice(0, -".partial".length) : entry;
    const folder = statSync(path).isDirectory();
    const record = partial ? undefined : recorded.get(name) ?? [...recorded].find(([target]) => target.startsWith(`${name}/`))?.[1];
    const used_by = partial ? [] : instances.filter((i) => {
      const model = resolve(i.model_path);
      return model === path || model.startsWith(`${path}/`);
    }).map((i) => i.name);
    return { name, kind: folder ? "folder" : "file", size: sizeOf(path), sha256: folder ? null : record?.sha256 ?? null, source: record?.source ?? null, partial, used_by };
  });
}
