/** `npm run bench`: runs every benchmark (or those named as arguments) one after another. */
import { join } from "node:path";

const ALL = ["startup", "runtimes", "overhead", "reload", "reload-live", "auth", "sandbox", "proxy", "proxy-paths", "relay-chunks", "real-llama", "swap", "idle", "cron", "mcp", "agent", "batch", "pipelines", "cache", "datasets", "knowledge", "evaluations", "deployments", "ui", "db", "pull", "cluster", "soak"];
const selected = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ALL;
let failed = false;
for (const name of selected) {
  if (!ALL.includes(name)) {
    console.error(`unknown bench '${name}'; choose from ${ALL.join(", ")}`);
    process.exit(2);
  }
  console.error(`== bench/${name}`);
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, `${name}.ts`)], { stdout: "inherit", stderr: "inherit", env: process.env });
  if ((await proc.exited) !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
