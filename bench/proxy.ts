/**
 * bench/proxy: non-streaming chat requests through gantry's proxy vs straight to the stand-in
 * model server, same run (goal ≥ 0.95×), added p50/p99 latency (goal p50 < 0.3 ms); streaming:
 * added time to first chunk (goal < 1 ms).
 */
import { resolve } from "node:path";
import { ADMIN_KEY } from "../test/helpers.ts";
import { loadLoop, mb, percentile, round, rssOf, spawnGantry } from "./lib.ts";

const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const SECONDS = Number(process.env.SECONDS ?? 4);
const STAND_IN = resolve(import.meta.dir, "../test/fixtures/model-server/server.ts");
const server = await spawnGantry({ GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_RATE_LIMIT__ENABLED: "false", GANTRY_LOG__REQUESTS: "false" });
const headers = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };
await fetch(`${server.url}/api/v1/instances`, { method: "POST", headers, body: JSON.stringify({ name: "bench", backend: "command", model_path: "bench", port: 18700, command: [process.execPath, STAND_IN, "--port", "{port}", "--chunk-delay-ms", "0"] }) });
await fetch(`${server.url}/api/v1/instances/bench/start`, { method: "POST", headers });
const body = JSON.stringify({ model: "bench", messages: [{ role: "user", content: "hello there" }] });

const load = (url: string, durationMs: number) => loadLoop(url, CONCURRENCY, durationMs, { method: "POST", headers, body }).done;

async function firstChunkMs(url: string, n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(url, { method: "POST", headers, body: JSON.stringify({ model: "bench", stream: true, messages: [{ role: "user", content: "a b c" }] }) });
    const reader = res.body!.getReader();
    await reader.read();
    times.push(performance.now() - t0);
    await reader.cancel();
  }
  return percentile(times, 50);
}

/** gantry's RSS with 100 slow streams open through it, against its RSS at rest. */
async function memoryPer100Streams(): Promise<number> {
  await fetch(`${server.url}/api/v1/instances`, { method: "POST", headers, body: JSON.stringify({ name: "slow", backend: "command", model_path: "slow", port: 18701, command: [process.execPath, STAND_IN, "--port", "{port}", "--chunk-delay-ms", "100"] }) });
  await fetch(`${server.url}/api/v1/instances/slow/start`, { method: "POST", headers });
  await Bun.sleep(300);
  const before = rssOf(server.proc.pid);
  const content = Array(60).fill("word").join(" ");
  const readers = await Promise.all(Array.from({ length: 100 }, async () => {
    const res = await fetch(proxied, { method: "POST", headers, body: JSON.stringify({ model: "slow", stream: true, messages: [{ role: "user", content }] }) });
    const reader = res.body!.getReader();
    await reader.read();
    return reader;
  }));
  await Bun.sleep(500);
  const during = rssOf(server.proc.pid);
  await Promise.all(readers.map((r) => r.cancel()));
  return during - before;
}
const direct = "http://127.0.0.1:18700/v1/chat/completions";
const proxied = `${server.url}/v1/chat/completions`;
// Memory first, while the process has not yet grown under the throughput load.
const streamsBytes = await memoryPer100Streams();
await load(direct, 500);
await load(proxied, 500);
const d = await load(direct, SECONDS * 1000);
const p = await load(proxied, SECONDS * 1000);
const ttfbDirect = await firstChunkMs(direct, 50);
const ttfbProxied = await firstChunkMs(proxied, 50);

await server.stop();

console.log(JSON.stringify({
  bench: "proxy",
  concurrency: CONCURRENCY,
  direct_rps: round(d.rps, 0), proxied_rps: round(p.rps, 0), ratio: round(p.rps / d.rps, 3),
  added_p50_ms: round(p.p50 - d.p50, 3), added_p99_ms: round(p.p99 - d.p99, 3), failed: d.failed + p.failed,
  rss_for_100_open_streams_mb: mb(streamsBytes),
  first_chunk_direct_ms: round(ttfbDirect, 3), first_chunk_proxied_ms: round(ttfbProxied, 3), added_first_chunk_ms: round(ttfbProxied - ttfbDirect, 3),
  goals: { ratio_at_least_0_95: p.rps / d.rps >= 0.95, added_p50_under_0_3ms: p.p50 - d.p50 < 0.3, added_first_chunk_under_1ms: ttfbProxied - ttfbDirect < 1 },
}, null, 2));
