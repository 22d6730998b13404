#!/usr/bin/env node
// The package bin: runs gantry's CLI under the Bun that `npm install` put in node_modules.
const { spawnSync } = require("node:child_process");
const { join } = require("node:path");

let bun;
try {
  bun = require.resolve("bun/bin/bun.exe", { paths: [join(__dirname, "..")] });
} catch {
  bun = "bun";
}
const result = spawnSync(bun, [join(__dirname, "..", "core", "main.ts"), ...process.argv.slice(2)], { stdio: "inherit" });
if (result.error) {
  console.error(`gantry: could not start Bun (${result.error.message}); run npm install first`);
  process.exit(1);
}
process.exit(result.status ?? 1);
