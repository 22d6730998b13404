/** bench/overhead: /healthz through gantry vs a bare Bun.serve answering the same JSON, same load, same run. Goal ≥ 0.85×. */
import { join } from "node:path";
import { freePort, loadLoop, ROOT, round, spawnGantry, waitForOk } from "./lib.ts";

const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const SECONDS = Number(process.env.SECONDS ?? 4);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

async function spawnBare() {
  const port = await freePort();
  const proc = Bun.spawn([process.execPath, join(ROOT, "bench/bare-server.ts"), String(port)], { stdout: "ignore", stderr: "inherit" });
  const url = `http://127.0.0.1:${port}`;
  await waitForOk(`${url}/healthz`, performance.now());
  return { url, stop: async () => { proc.kill(); await proc.exited; } };
}

// Request logging off for both sides is not what users run, so gantry keeps its defaults
// except that its log lines go to /dev/null (the bench's stdout stays readable).
const gantry = await spawnGantry(JSON.parse(process.env.GANTRY_ENV ?? "{}"));
const bare = await spawnBare();
const results: { gantry: number; bare: number }[] = [];
for (const target of [gantry, bare]) await loadLoop(`${target.url}/healthz`, CONCURRENCY, 1000).done; // warm up
for (let i = 0; i < ROUNDS; i++) {
  // Alternate so drift (thermal, other load) hits both sides alike.
  const g = await loadLoop(`${gantry.url}/healthz`, CONCURRENCY, SECONDS * 1000).done;
  const b = await loadLoop(`${bare.url}/healthz`, CONCURRENCY, SECONDS * 1000).done;
  results.push({ gantry: g.rps, bare: b.rps });
}
await gantry.stop();
await bare.stop();

const gantryRps = results.reduce((s, r) => s + r.gantry, 0) / results.length;
const bareRps = results.reduce((s, r) => s + r.bare, 0) / results.length;
console.log(JSON.stringify({
  bench: "overhead",
  concurrency: CONCURRENCY,
  seconds_per_round: SECONDS,
  rounds: results.map((r) => ({ gantry_rps: round(r.gantry, 0), bare_rps: round(r.bare, 0) })),
  gantry_rps: round(gantryRps, 0),
  bare_rps: round(bareRps, 0),
  ratio: round(gantryRps / bareRps, 3),
  goal_ratio_at_least_0_85: gantryRps / bareRps >= 0.85,
}, null, 2));
