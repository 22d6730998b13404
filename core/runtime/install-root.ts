/** Where gantry's own files are: the checkout or installed package, or the folder a single binary unpacked them to. */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

let root = resolve(import.meta.dirname, "..", "..");

/** The folder holding package.json, plugins/, drizzle/ (read when modules load: set it before importing core). */
export function installRoot(): string {
  return root;
}

/** Used by the single binary before it imports the rest of gantry. */
export function setInstallRoot(dir: string): void {
  root = dir;
}

/** `file` of the npm package `name`, found as Node finds packages: in node_modules here or in a folder above. */
export function packageFile(name: string, file: string): string {
  for (let dir = root; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name, file);
    if (existsSync(candidate) || dirname(dir) === dir) return candidate;
  }
}
