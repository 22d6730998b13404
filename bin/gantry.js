#!/usr/bin/env node
// The package bin: runs gantry's CLI under the Bun that `npm install` put in node_modules.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
let bun = "bun";
try {
  bun = createRequire(join(root, "package.json")).resolve("bun/bin/bun.exe");
} catch {
  // no local Bun: try one on PATH
}
const result = spawnSync(bun, ["--max-http-header-size=262144", join(root, "core", "main.ts"), ...process.argv.slice(2)], { stdio: "inherit" });
if (result.error) {
  console.error(`gantry: could not start Bun (${result.error.message}); run npm install first`);
  process.exit(1);
}
process.exit(result.status ?? 1);
