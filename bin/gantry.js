#!/usr/bin/env node
// The package bin: runs gantry's CLI under the Bun that `npm install` put in node_modules.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
let bun = "bun";
try {
  bun = createRequire(join(root, "package.json")).resolve("bun/bin/bun.exe");
} catch {
  // no local Bun: try one on PATH
}
const child = spawn(bun, ["--max-http-header-size=262144", join(root, "core", "main.ts"), ...process.argv.slice(2)], { stdio: "inherit" });
// A service manager signals this process alone: gantry must get the signal to shut down in order.
// Ctrl-C reaches gantry from the terminal itself; passed on too, it would count as a second one.
for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
process.on("SIGINT", () => {});
child.on("error", (error) => {
  console.error(`gantry: could not start Bun (${error.message}); run npm install first`);
  process.exit(1);
});
child.on("exit", (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
