/**
 * bench/proxy: non-streaming chat requests through gantry's proxy vs straight to the stand-in model
 * server, in the same run, in two settings:
 *  - "model latency": the stand-in takes LATENCY_MS per request (default 10 — far quicker than any
 *    real model), the way gantry is used. Goal: throughput ≥ 0.95× of direct.
 *  - "one client": requests one after another, so nothing queues for the CPU: the latency gantry
 *    adds to a request. Goal: added p50 < 0.3 ms.
 *  - "saturated": the stand-in answers at once, so the client, gantry and the stand-in fight for
 *    the CPUs and the ratio shows the proxy's CPU cost. A bare Bun proxy (bench/bare-proxy.ts) in
 *    the same run is the floor any proxy on this machine hits; gantry CPU per request is measured.
 * Streaming: added time to first chunk (goal < 1 ms). Memory: gantry's RSS with 100 open streams.
 */
import { resolve } from "node:path";
import { ADMIN_KEY, STAND_IN_MODEL_SERVER as STAND_IN } from "../test/helpers.ts";
import { cpuSecondsOf, freePort, loadLoop, mb, percentile, round, rssOf, spawnGantry } from "./lib.ts";

const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const SECONDS = Number(process.env.SECONDS ?? 4);
const LATENCY_MS = Number(process.env.LATENCY_MS ?? 10);
const server = await spawnGantry({ GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_RATE_LIMIT__ENABLED: "false", GANTRY_LOG__REQUESTS: "false" });
const headers = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };

async function instance(name: string, ...flags: string[]): Promise<number> {
  const port = await freePort();
  const command = [process.execPath, STAND_IN, "--port", "{port}", "--chunk-delay-ms", "0", ...flags];
  const created = await fetch(`${server.url}/api/v1/instances`, { method: "POST", headers, body: JSON.stringify({ name, backend: "command", model_path: name, port, command }) });
  const started = await fetch(`${server.url}/api/v1/instances/${name}/start`, { method: "POST", headers });
  if (!created.ok || !started.ok) throw new Error(`instance ${name}: ${await created.text()} ${await started.text()}`);
  return port;
}

const chat = (model: string) => ({ method: "POST", headers, body: JSON.stringify({ model, messages: [{ role: "user", content: "hello there" }] }) });

/** Throughput and latency of one target, plus the CPU milliseconds per request `pid` (gantry by default) used meanwhile. */
async function measure(url: string, model: string, { concurrency = CONCURRENCY, ms = SECONDS * 1000, pid = server.proc.pid } = {}) {
  await loadLoop(url, concurrency, 300, chat(model)).done; // warm-up
  const cpuBefore = cpuSecondsOf(pid);
  const result = await loadLoop(url, concurrency, ms, chat(model)).done;
  const cpuMsPerRequest = ((cpuSecondsOf(pid) - cpuBefore) * 1000) / (result.ok + result.failed);
  return { ...result, cpuMsPerRequest };
}

async function firstChunkMs(url: string, n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(url, { method: "POST", headers, body: JSON.stringify({ model: "fast", stream: true, messages: [{ role: "user", content: "a b c" }] }) });
    const reader = res.body!.getReader();
    await reader.read();
    times.push(performance.now() - t0);
    await reader.cancel();
  }
  return percentile(times, 50);
}

/** gantry's RSS with 100 slow streams open through it, against its RSS at rest. */
async function memoryPer100Streams(): Promise<number> {
  await instance("slow", "--chunk-delay-ms", "100");
  await Bun.sleep(300);
  const before = rssOf(server.proc.pid);
  const content = Array(60).fill("word").join(" ");
  const readers = await Promise.all(Array.from({ length: 100 }, async () => {
    const res = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers, body: JSON.stringify({ model: "slow", stream: true, messages: [{ role: "user", content }] }) });
    const reader = res.body!.getReader();
    await reader.read();
    return reader;
  }));
  await Bun.sleep(500);
  const during = rssOf(server.proc.pid);
  await Promise.all(readers.map((r) => r.cancel()));
  return during - before;
}

const fastPort = await instance("fast");
const modelPort = await instance("model", "--latency-ms", String(LATENCY_MS));
const barePort = await freePort();
const bare = Bun.spawn([process.execPath, resolve(import.meta.dir, "bare-proxy.ts"), String(barePort), String(fastPort)], { stdout: "ignore", stderr: "inherit" });
// Memory first, while the process has not yet grown under the throughput load.
const streamsBytes = await memoryPer100Streams();

const proxied = `${server.url}/v1/chat/completions`;
const fastUrl = `http://127.0.0.1:${fastPort}/v1/chat/completions`;
// One client: the latency gantry adds to a request when nothing queues for the CPU.
const oneDirect = await measure(fastUrl, "fast", { concurrency: 1, ms: 2000 });
const oneProxied = await measure(proxied, "fast", { concurrency: 1, ms: 2000 });
const modelDirect = await measure(`http://127.0.0.1:${modelPort}/v1/chat/completions`, "model");
const modelProxied = await measure(proxied, "model");
const fastDirect = await measure(fastUrl, "fast");
const fastBare = await measure(`http://127.0.0.1:${barePort}/v1/chat/completions`, "fast", { pid: bare.pid });
const fastProxied = await measure(proxied, "fast");
const ttfbDirect = await firstChunkMs(fastUrl, 50);
const ttfbProxied = await firstChunkMs(proxied, 50);

bare.kill();
await server.stop();

const ratio = modelProxied.rps / modelDirect.rps;
const addedP50 = oneProxied.p50 - oneDirect.p50;
console.log(JSON.stringify({
  bench: "proxy",
  concurrency: CONCURRENCY,
  model_latency: {
    latency_ms: LATENCY_MS,
    direct_rps: round(modelDirect.rps, 0), proxied_rps: round(modelProxied.rps, 0), ratio: round(ratio, 3),
    added_p50_ms: round(modelProxied.p50 - modelDirect.p50, 3), added_p99_ms: round(modelProxied.p99 - modelDirect.p99, 3),
  },
  one_client: {
    direct_p50_ms: round(oneDirect.p50, 3), proxied_p50_ms: round(oneProxied.p50, 3),
    added_p50_ms: round(addedP50, 3), added_p99_ms: round(oneProxied.p99 - oneDirect.p99, 3),
  },
  saturated: {
    direct_rps: round(fastDirect.rps, 0), bare_bun_proxy_rps: round(fastBare.rps, 0), proxied_rps: round(fastProxied.rps, 0),
    bare_ratio: round(fastBare.rps / fastDirect.rps, 3), ratio: round(fastProxied.rps / fastDirect.rps, 3), gantry_vs_bare_proxy: round(fastProxied.rps / fastBare.rps, 3),
    added_p50_ms: round(fastProxied.p50 - fastDirect.p50, 3), bare_added_p50_ms: round(fastBare.p50 - fastDirect.p50, 3),
    // While requests go direct gantry still reads the stand-in's log line per request; the difference is the proxy's own cost.
    gantry_cpu_ms_per_request: round(fastProxied.cpuMsPerRequest, 4), gantry_cpu_ms_per_request_logs_only: round(fastDirect.cpuMsPerRequest, 4),
    bare_proxy_cpu_ms_per_request: round(fastBare.cpuMsPerRequest, 4),
  },
  failed: oneDirect.failed + oneProxied.failed + modelDirect.failed + modelProxied.failed + fastDirect.failed + fastBare.failed + fastProxied.failed,
  rss_for_100_open_streams_mb: mb(streamsBytes),
  first_chunk_direct_ms: round(ttfbDirect, 3), first_chunk_proxied_ms: round(ttfbProxied, 3), added_first_chunk_ms: round(ttfbProxied - ttfbDirect, 3),
  goals: { ratio_at_least_0_95: ratio >= 0.95, added_p50_under_0_3ms: addedP50 < 0.3, added_first_chunk_under_1ms: ttfbProxied - ttfbDirect < 1 },
}, null, 2));
