/**
 * bench/startup: cold start of `gantry serve` with all built-in plugins to the first 200 on /healthz,
 * and idle RSS after IDLE_MS, against a bare Bun.serve started the same way, in interleaved rounds.
 * BEFORE=<another checkout of gantry>: its gantry runs in the same rounds (a before/after pair).
 * Goals: < 300 ms and < 80 MiB.
 */
import { join, resolve } from "node:path";
import { cpuSecondsOf, freePort, mb, percentile, ROOT, round, rssOf, spawnGantry, waitForOk } from "./lib.ts";

const RUNS = Number(process.env.RUNS ?? 5);
const IDLE_MS = Number(process.env.IDLE_MS ?? 5000);
const BEFORE = process.env.BEFORE ? resolve(process.env.BEFORE) : undefined;

interface Sample {
  startupMs: number;
  /** CPU (user + system) the process used until its first 200: less swayed by a busy machine than wall time. */
  cpuMs: number;
  rss: number;
}

/** One start of the bare Bun.serve baseline: spawned as gantry is, timed to its first 200 on /healthz. */
async function bareStart(): Promise<Sample> {
  const port = await freePort();
  const started = performance.now();
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "bare-server.ts"), String(port)], { stdout: "ignore", stderr: "inherit" });
  try {
    const startupMs = await waitForOk(`http://127.0.0.1:${port}/healthz`, started);
    const cpuMs = cpuSecondsOf(proc.pid) * 1000;
    await Bun.sleep(IDLE_MS);
    return { startupMs, cpuMs, rss: rssOf(proc.pid) };
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}

/** A gantry on an installation it has started on once before (database made, migrations applied, admin hashed). */
async function gantrySeries(root: string) {
  // The first start creates the database and hashes the admin password (argon2id); it is reported apart.
  const first = await spawnGantry({}, undefined, root);
  const firstStartMs = first.startupMs;
  await first.stop(true);
  return {
    firstStartMs,
    async start(): Promise<Sample> {
      const server = await spawnGantry({}, first.dataDir, root);
      const cpuMs = cpuSecondsOf(server.proc.pid) * 1000;
      await Bun.sleep(IDLE_MS);
      const rss = rssOf(server.proc.pid);
      await server.stop(true);
      return { startupMs: server.startupMs, cpuMs, rss };
    },
    cleanup: () => require("node:fs").rmSync(first.dataDir, { recursive: true, force: true }),
  };
}

const after = await gantrySeries(ROOT);
const before = BEFORE ? await gantrySeries(BEFORE) : undefined;
const samples: Record<string, Sample[]> = { bare: [], ...(before ? { gantry_before: [] } : {}), gantry: [] };
for (let i = 0; i < RUNS; i++) {
  // Interleaved: each round starts every contender once, so a busy machine slows them alike.
  samples.bare!.push(await bareStart());
  if (before) samples.gantry_before!.push(await before.start());
  samples.gantry!.push(await after.start());
}
after.cleanup();
before?.cleanup();

const median = (xs: number[]) => percentile(xs, 50);
const range = (xs: number[]) => [round(Math.min(...xs), 1), round(Math.max(...xs), 1)];
const bareMedian = median(samples.bare!.map((s) => s.startupMs));
const summary = Object.fromEntries(Object.entries(samples).map(([name, list]) => {
  const ms = list.map((s) => s.startupMs);
  const rss = list.map((s) => s.rss);
  const cpu = list.map((s) => s.cpuMs);
  return [name, {
    startup_median_ms: round(median(ms), 1), startup_range_ms: range(ms),
    startup_vs_bare: round(median(ms) / bareMedian, 1),
    // Ratios within each round: the machine's load changes between rounds, less within one.
    startup_vs_bare_per_round: ms.map((x, i) => round(x / samples.bare![i]!.startupMs, 1)),
    cpu_to_first_200_median_ms: round(median(cpu), 0), cpu_to_first_200_range_ms: [round(Math.min(...cpu), 0), round(Math.max(...cpu), 0)],
    idle_rss_median_mib: mb(median(rss)), idle_rss_range_mib: [mb(Math.min(...rss)), mb(Math.max(...rss))],
  }];
}));
const gantryMs = median(samples.gantry!.map((s) => s.startupMs));
const gantryRss = median(samples.gantry!.map((s) => s.rss));
console.log(JSON.stringify({
  bench: "startup",
  runs: RUNS, idle_ms: IDLE_MS, before: BEFORE ?? null,
  first_start_ms: { gantry: round(after.firstStartMs, 1), ...(before ? { before: round(before.firstStartMs, 1) } : {}) },
  ...summary,
  goals: { startup_under_300ms: gantryMs < 300, idle_rss_under_80mib: gantryRss < 80 * 1024 * 1024 },
}, null, 2));
