/**
 * bench/runtimes: gantry on Bun, on Deno and as the single binary, side by side in one run:
 * startup to the first 200 on /healthz (a cold process on an existing data dir, all built-in
 * plugins), idle RSS, and the latency the OpenAI proxy adds (one client, p50 through gantry minus
 * p50 straight to the same stand-in model server). Ratios are against Bun measured in this run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN_KEY, STAND_IN_MODEL_SERVER } from "../test/helpers.ts";
import { freePort, mb, percentile, ROOT, round, rssOf, sequentialTimes, waitForOk } from "./lib.ts";

const RUNS = Number(process.env.RUNS ?? 3);
const REQUESTS = Number(process.env.REQUESTS ?? 300);

const buildStarted = performance.now();
const build = Bun.spawnSync([process.execPath, join(ROOT, "scripts/build-binary.ts")], { cwd: ROOT, stdout: "ignore", stderr: "inherit" });
if (build.exitCode !== 0) throw new Error("build:binary failed");
const buildMs = performance.now() - buildStarted;

const RUNTIMES: Record<string, string[]> = {
  bun: [process.execPath, "--max-http-header-size=262144", join(ROOT, "core/main.ts"), "serve"],
  deno: ["sh", join(ROOT, "scripts/deno-serve.sh")],
  binary: [join(ROOT, "dist/gantry"), "serve"],
};

async function start(command: string[], dataDir: string) {
  const port = await freePort();
  const started = performance.now();
  const proc = Bun.spawn(command, {
    cwd: dataDir,
    env: {
      PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", XDG_CACHE_HOME: join(dataDir, "cache"),
      GANTRY_DATA_DIR: dataDir, GANTRY_PORT: String(port), GANTRY_LOG__FORMAT: "json", GANTRY_LOG__REQUESTS: "false",
      GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_RATE_LIMIT__ENABLED: "false", GANTRY_PLUGIN__INSTANCES__LOG_INFERENCE: "false",
    },
    stdout: "ignore",
    stderr: "ignore",
  });
  const url = `http://127.0.0.1:${port}`;
  const startupMs = await waitForOk(`${url}/healthz`, started, 30_000);
  return { proc, url, startupMs, stop: async () => void (proc.kill("SIGTERM"), await proc.exited) };
}

const headers = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };
const chat = JSON.stringify({ model: "bench-model", messages: [{ role: "user", content: "hello there" }] });
const p50Of = async (url: string) => {
  await sequentialTimes(50, () => fetch(url, { method: "POST", headers, body: chat }).then((r) => r.arrayBuffer())); // warm-up
  return percentile(await sequentialTimes(REQUESTS, () => fetch(url, { method: "POST", headers, body: chat }).then((r) => r.arrayBuffer())), 50);
};

const results: Record<string, { startup_ms: number[]; startup_median_ms: number; idle_rss_mb: number; proxy_direct_p50_ms: number; proxy_through_p50_ms: number; proxy_added_p50_ms: number }> = {};
for (const [name, command] of Object.entries(RUNTIMES)) {
  const dataDir = mkdtempSync(join(tmpdir(), `gantry-bench-${name}-`));
  await (await start(command, dataDir)).stop(); // first start: database, migrations, the binary's unpacking
  const startups: number[] = [];
  let server = await start(command, dataDir);
  for (let i = 0; i < RUNS; i++) {
    if (i > 0) server = await start(command, dataDir);
    startups.push(server.startupMs);
    if (i < RUNS - 1) await server.stop();
  }
  await Bun.sleep(1000); // idle
  const rss = rssOf(server.proc.pid);
  const port = await freePort();
  const created = await fetch(`${server.url}/api/v1/instances`, { method: "POST", headers, body: JSON.stringify({ name: "bench-model", backend: "command", model_path: "bench-model", port, command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--chunk-delay-ms", "0"] }) });
  const startedInstance = await fetch(`${server.url}/api/v1/instances/bench-model/start`, { method: "POST", headers });
  if (!created.ok || !startedInstance.ok) throw new Error(`${name}: instance did not start: ${await startedInstance.text()}`);
  const direct = await p50Of(`http://127.0.0.1:${port}/v1/chat/completions`);
  const through = await p50Of(`${server.url}/v1/chat/completions`);
  await fetch(`${server.url}/api/v1/instances/bench-model/stop`, { method: "POST", headers, body: "{}" });
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
  const sorted = [...startups].sort((a, b) => a - b);
  results[name] = {
    startup_ms: startups.map((x) => round(x, 1)), startup_median_ms: round(sorted[Math.floor(sorted.length / 2)]!, 1), idle_rss_mb: mb(rss),
    proxy_direct_p50_ms: round(direct, 3), proxy_through_p50_ms: round(through, 3), proxy_added_p50_ms: round(through - direct, 3),
  };
}

const bun = results.bun!;
console.log(JSON.stringify({
  bench: "runtimes",
  runs: RUNS,
  requests: REQUESTS,
  build_binary_ms: round(buildMs, 0),
  results,
  vs_bun: Object.fromEntries(Object.entries(results).map(([name, r]) => [name, {
    startup: round(r.startup_median_ms / bun.startup_median_ms), idle_rss: round(r.idle_rss_mb / bun.idle_rss_mb), proxy_added_p50: round(r.proxy_added_p50_ms / bun.proxy_added_p50_ms),
  }])),
}, null, 2));
