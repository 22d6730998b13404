/**
 * Soak: bounded mixed traffic (probes, reads, proxied chat completions, sandboxed scripts, metrics
 * scrapes) with a plugin reload every 5 s and a model-server restart every 10 s. RSS and open file
 * descriptors of the gantry process are sampled every second; the figure is their slope (least
 * squares, per minute) under load, next to the slope of the same process idle (the baseline,
 * measured first in the same run). SOAK_SECONDS (default 60) and SOAK_IDLE_SECONDS (default 15).
 */
import { readdirSync } from "node:fs";
import { ADMIN_KEY, STAND_IN_MODEL_SERVER } from "../test/helpers.ts";
import { mb, percentile, round, rssOf, spawnGantry } from "./lib.ts";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const IDLE_SECONDS = Number(process.env.SOAK_IDLE_SECONDS ?? 15);
const CONCURRENCY = 4;

const fdsOf = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/** Least-squares slope of `ys` over `xs`, per unit of x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function sample(pid: number, seconds: number, during?: () => void) {
  const t: number[] = [];
  const rss: number[] = [];
  const fds: number[] = [];
  const start = performance.now();
  for (let i = 0; i < seconds; i++) {
    await Bun.sleep(1000);
    during?.();
    t.push((performance.now() - start) / 60_000);
    rss.push(rssOf(pid) / 1024 / 1024);
    fds.push(fdsOf(pid));
  }
  // The first third is warm-up (JIT, caches, pools filling); the slope is taken over the rest.
  const from = Math.floor(t.length / 3);
  return {
    rss_mb_first: round(rss[0]!, 1), rss_mb_last: round(rss.at(-1)!, 1), rss_mb_max: round(Math.max(...rss), 1),
    rss_slope_mb_per_min: round(slope(t.slice(from), rss.slice(from)), 2),
    fds_first: fds[0], fds_last: fds.at(-1), fds_max: Math.max(...fds),
    fds_slope_per_min: round(slope(t.slice(from), fds.slice(from)), 2),
  };
}

const g = await spawnGantry({ GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_RATE_LIMIT__ENABLED: "false", GANTRY_PLUGINS__DISABLED: '["cache"]', GANTRY_LOG__LEVEL: "warn", GANTRY_PLUGIN__INSTANCES__PORT_RANGE: "[18760, 18770]" });
const headers = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };
const call = (path: string, init: RequestInit = {}) => fetch(g.url + path, { ...init, headers });
await call("/api/v1/instances", { method: "POST", body: JSON.stringify({ name: "brain", backend: "command", model_path: "brain", on_demand_start: true, command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--model", "brain"] }) });

const idle = await sample(g.proc.pid, IDLE_SECONDS);

const mix: (() => Promise<Response>)[] = [
  () => call("/healthz"),
  () => call("/api/v1/instances"),
  () => call("/v1/chat/completions", { method: "POST", body: JSON.stringify({ model: "brain", messages: [{ role: "user", content: "hi" }] }) }),
  () => call("/api/v1/scripts/run", { method: "POST", body: JSON.stringify({ code: "[1, 2, 3].map((n) => n * 2)" }) }),
  () => call("/metrics"),
  () => call("/api/v1/plugins"),
];
let stopped = false;
const statuses: Record<string, number> = {};
const latencies: number[] = [];
const clients = Array.from({ length: CONCURRENCY }, async (_, c) => {
  for (let i = c; !stopped; i++) {
    const t0 = performance.now();
    const res = await mix[i % mix.length]!().catch(() => null);
    await res?.arrayBuffer();
    latencies.push(performance.now() - t0);
    const key = String(res?.status ?? "error");
    statuses[key] = (statuses[key] ?? 0) + 1;
  }
});
let tick = 0;
let reloads = 0;
let restarts = 0;
const loaded = await sample(g.proc.pid, SECONDS, () => {
  tick++;
  if (tick % 5 === 0) void call("/api/v1/plugins/infra/reload", { method: "POST" }).then((r) => r.ok && reloads++);
  if (tick % 10 === 0) void call("/api/v1/instances/brain/restart", { method: "POST" }).then((r) => r.ok && restarts++);
});
stopped = true;
await Promise.all(clients);
await g.stop();

console.log(JSON.stringify({
  bench: "soak", seconds: SECONDS, concurrency: CONCURRENCY, requests: latencies.length, statuses, reloads, restarts,
  p50_ms: round(percentile(latencies, 50)), p99_ms: round(percentile(latencies, 99)),
  idle_baseline: idle, under_load: loaded,
  rss_slope_ratio_vs_idle: idle.rss_slope_mb_per_min === 0 ? null : round(loaded.rss_slope_mb_per_min / idle.rss_slope_mb_per_min, 2),
  note: `RSS ${mb(loaded.rss_mb_last * 1024 * 1024)} MB at the end`,
}, null, 2));
