/**
 * bench/reload-live: reloads of the instances plugin while a model server runs, clients keep
 * sending chat completions through the proxy and one long stream stays open. Goals: 0 failed
 * requests, 0 restarts (same pid, no status change) of the model server, the stream ends
 * normally; reload p99 printed, and proxy latency during reloads as a ratio of the same run's
 * latency without reloads.
 */
import { ADMIN_KEY, BUILTIN_PLUGINS, json, STAND_IN_MODEL_SERVER, startGantry } from "../test/helpers.ts";
import { loadLoop, percentile, round } from "./lib.ts";

const RELOADS = Number(process.env.RELOADS ?? 40);
const PHASE_MS = Number(process.env.PHASE_MS ?? 3000);
const g = await startGantry({
  builtins: BUILTIN_PLUGINS,
  config: {
    log: { level: "warn", requests: false }, rate_limit: { enabled: false },
    plugins: { disabled: ["cache", "mcp", "agent", "batch", "cron", "scripts"], dispose_timeout_ms: 2000 },
    plugin: { instances: { port_range: [18900, 18950], health_interval_s: 0.5 } },
  },
});
await g.api("/api/v1/instances", json("POST", {
  name: "bench", backend: "command", model_path: "bench", command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--chunk-delay-ms", "20"],
}));
const { pid } = await (await g.api("/api/v1/instances/bench/start", json("POST"))).json();
const statusChanges: unknown[] = [];
g.gantry.core.events.subscribe("instance_status_changed", (e) => void statusChanges.push(e.data));

const request = { method: "POST", headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" }, body: JSON.stringify({ model: "bench", messages: [{ role: "user", content: "hi" }] }) };
const url = `${g.url}/v1/chat/completions`;

// Baseline: the same load with no reload.
const baseline = await loadLoop(url, 8, PHASE_MS, request).done;

// Under reloads: the same load, plus one stream of ~300 chunks 20 ms apart open the whole time.
const words = Array.from({ length: 300 }, (_, i) => `w${i}`).join(" ");
const stream = g.api("/v1/chat/completions", json("POST", { model: "bench", stream: true, messages: [{ role: "user", content: words }] })).then((r) => r.text());
const load = loadLoop(url, 8, Infinity, request);
const durations: number[] = [];
let reloadFailures = 0;
for (let i = 0; i < RELOADS; i++) {
  const started = performance.now();
  const res = await g.api("/api/v1/plugins/instances/reload", json("POST"));
  if (res.status !== 200) reloadFailures++;
  await res.arrayBuffer();
  durations.push(performance.now() - started);
  await Bun.sleep(50);
}
load.stop();
const underReloads = await load.done;
const streamText = await stream;
const after = await (await g.api("/api/v1/instances/bench")).json();
const changesDuringRun = statusChanges.length; // gantry's own shutdown below stops the server (2 changes)
await g.stop();

const streamComplete = streamText.includes("w299") && streamText.trim().endsWith("data: [DONE]");
console.log(JSON.stringify({
  bench: "reload-live",
  reloads: RELOADS,
  reload_failures: reloadFailures,
  reload_p50_ms: round(percentile(durations, 50)),
  reload_p99_ms: round(percentile(durations, 99)),
  baseline: { ok: baseline.ok, failed: baseline.failed, rps: round(baseline.rps), p50_ms: round(baseline.p50), p99_ms: round(baseline.p99) },
  during_reloads: { ok: underReloads.ok, failed: underReloads.failed, rps: round(underReloads.rps), p50_ms: round(underReloads.p50), p99_ms: round(underReloads.p99) },
  p99_ratio_vs_baseline: round(underReloads.p99 / baseline.p99),
  model_server: { pid_before: pid, pid_after: after.pid, restarts: after.restarts, status_changes: changesDuringRun },
  stream_complete: streamComplete,
  goals: {
    failed_zero: underReloads.failed === 0 && reloadFailures === 0,
    model_server_not_restarted: after.pid === pid && after.restarts === 0 && changesDuringRun === 0,
    stream_survived: streamComplete,
  },
}, null, 2));
