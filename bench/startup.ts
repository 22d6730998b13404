/** bench/startup: cold start of `gantry serve` with all built-in plugins to the first 200 on /healthz, and idle RSS. Goals: < 300 ms, < 80 MB. */
import { mb, round, rssOf, spawnGantry } from "./lib.ts";

const RUNS = Number(process.env.RUNS ?? 5);
const startups: number[] = [];
const rss: number[] = [];
// The first start creates the database, runs migrations and hashes the admin password (argon2id);
// it is reported apart. The goal is for a cold process starting on an existing installation.
const first = await spawnGantry();
const firstStartMs = first.startupMs;
await first.stop(true);
for (let i = 0; i < RUNS; i++) {
  const server = await spawnGantry({}, first.dataDir);
  startups.push(server.startupMs);
  await Bun.sleep(1000); // idle
  rss.push(rssOf(server.proc.pid));
  await server.stop(i < RUNS - 1);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(JSON.stringify({
  bench: "startup",
  runs: RUNS,
  first_start_ms: round(firstStartMs, 1),
  startup_ms: startups.map((x) => round(x, 1)),
  startup_median_ms: round(median(startups), 1),
  idle_rss_mb: rss.map(mb),
  idle_rss_median_mb: mb(median(rss)),
  goals: { startup_under_300ms: median(startups) < 300, idle_rss_under_80mb: median(rss) < 80 * 1024 * 1024 },
}, null, 2));
