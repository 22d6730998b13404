/**
 * bench/proxy-paths: non-streaming chat requests through gantry's proxy vs straight to the stand-in model
 * server, in the same run, in two settings:
 *  - "model latency": the stand-in takes LATENCY_MS per request (default 10 — far quicker than any
 *    real model), the way gantry is used. Goal: throughput ≥ 0.95× of direct.
 *  - "one client": requests one after another, so nothing queues for the CPU: the latency gantry
 *    adds to a request. Goal: added p50 < 0.3 ms.
 *  - "saturated": the stand-in answers at once, so the client, gantry and the stand-in fight for
 *    the CPUs and the ratio shows the proxy's CPU cost. A bare Bun proxy (bench/bare-proxy.ts) in
 *    the same run is the floor any proxy on this machine hits; gantry CPU per request is measured.
 * Streaming: added time to first chunk (goal < 1 ms). Memory: gantry's RSS with 100 open streams.
 * Other client APIs, one client, next to the OpenAI path in the same run: Anthropic's /v1/messages
 * translated onto chat completions and passed through to a server that serves it, Ollama's
 * /api/chat translated; added p50 and gantry CPU per request over the OpenAI path (translation cost).
 * Metrics: the per-request CPU cost of measuring a relayed answer (inference-metrics), in process,
 * over relaying it unmeasured as before (goal: < 5 µs).
 */
import { resolve } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { PluginContext } from "gantry/plugin";
import { InferenceMetrics } from "../plugins/instances/inference-metrics.ts";
import { relay, relayHeaders } from "../plugins/instances/proxy.ts";
import { ADMIN_KEY, STAND_IN_MODEL_SERVER as STAND_IN } from "../test/helpers.ts";
import { cpuSecondsOf, freePort, loadLoop, mb, percentile, round, rssOf, spawnGantry } from "./lib.ts";

const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const SECONDS = Number(process.env.SECONDS ?? 4);
const LATENCY_MS = Number(process.env.LATENCY_MS ?? 10);
const server = await spawnGantry({ GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_RATE_LIMIT__ENABLED: "false", GANTRY_LOG__REQUESTS: "false", GANTRY_PLUGIN__INSTANCES__LOG_INFERENCE: "false" });
const headers = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };

async function instance(name: string, ...flags: string[]): Promise<number> {
  const port = await freePort();
  const command = [process.execPath, STAND_IN, "--port", "{port}", "--chunk-delay-ms", "0", ...flags];
  const options = flags.includes("--anthropic") ? { anthropic_api: "native" } : {};
  const created = await fetch(`${server.url}/api/v1/instances`, { method: "POST", headers, body: JSON.stringify({ name, backend: "command", model_path: name, port, command, options }) });
  const started = await fetch(`${server.url}/api/v1/instances/${name}/start`, { method: "POST", headers });
  if (!created.ok || !started.ok) throw new Error(`instance ${name}: ${await created.text()} ${await started.text()}`);
  return port;
}

const messages = [{ role: "user", content: "hello there" }];
const chat = (model: string) => ({ method: "POST", headers, body: JSON.stringify({ model, messages }) });
/** The same question in each client API's request shape. */
const bodies = {
  anthropic: (model: string) => ({ method: "POST", headers: { ...headers, "anthropic-version": "2023-06-01" }, body: JSON.stringify({ model, max_tokens: 64, messages }) }),
  ollama: (model: string) => ({ method: "POST", headers, body: JSON.stringify({ model, stream: false, messages }) }),
};

/** Throughput and latency of one target, plus the CPU milliseconds per request `pid` (gantry by default) used meanwhile. */
async function measure(url: string, model: string, { concurrency = CONCURRENCY, ms = SECONDS * 1000, pid = server.proc.pid, init = chat(model) } = {}) {
  await loadLoop(url, concurrency, 300, init).done; // warm-up
  const cpuBefore = cpuSecondsOf(pid);
  const result = await loadLoop(url, concurrency, ms, init).done;
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

/**
 * In process: relaying a chat completion's JSON as the proxy did before metrics (headers copied,
 * body passed on) against relaying it measured (usage read, counters, histograms, in-flight gauge),
 * with and without the `inference` log line (written to a sink that discards it). µs per request.
 */
async function metricsCostUs(n = 20_000): Promise<{ plain: number; measured: number; measured_logged: number }> {
  const metricsApi = (registry = new Registry()) => ({
    counter: (c: object) => new Counter({ ...c, registers: [registry] } as never),
    gauge: (c: object) => new Gauge({ ...c, registers: [registry] } as never),
    histogram: (c: object) => new Histogram({ ...c, registers: [registry] } as never),
  });
  const sink = new Writable({ write: (_c, _e, done) => done() });
  const ctxWith = (log: pino.Logger) => ({ metrics: metricsApi(), log }) as unknown as PluginContext;
  const quiet = new InferenceMetrics(ctxWith(pino({ level: "silent" })), () => [], false);
  const logged = new InferenceMetrics(ctxWith(pino({ level: "info" }, sink)), () => [], true);
  const answer = JSON.stringify({ id: "chatcmpl-1", object: "chat.completion", created: 1, model: "m", choices: [{ index: 0, message: { role: "assistant", content: "You said: hello there" }, finish_reason: "stop" }], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } });
  const upstream = () => new Response(answer, { headers: { "content-type": "application/json; charset=utf-8", "x-stand-in": "1" } });
  // CPU time, not wall time: on a shared machine the wall clock also counts time other processes ran.
  const time = async (run: () => Promise<Response>) => {
    for (let i = 0; i < 2000; i++) await (await run()).text(); // warm-up
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) await (await run()).text();
    const used = process.cpuUsage(before);
    return (used.user + used.system) / n;
  };
  const rounds = { plain: [] as number[], measured: [] as number[], measured_logged: [] as number[] };
  for (let round = 0; round < 5; round++) { // interleaved, median of 5: the machine is shared
    rounds.plain.push(await time(async () => { const r = upstream(); return new Response(r.body, { status: r.status, headers: relayHeaders(r) }); }));
    rounds.measured.push(await time(() => relay(upstream(), quiet.begin("m", "openai", "req-1", false))));
    rounds.measured_logged.push(await time(() => relay(upstream(), logged.begin("m", "openai", "req-1", false))));
  }
  return { plain: percentile(rounds.plain, 50), measured: percentile(rounds.measured, 50), measured_logged: percentile(rounds.measured_logged, 50) };
}

const metricsUs = await metricsCostUs(); // first: in process, before any load
const fastPort = await instance("fast");
await instance("native", "--anthropic");
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
// The other client APIs, one client each, beside the OpenAI path: interleaved rounds, medians (the machine is shared).
const apiRuns = {
  openai: () => measure(proxied, "fast", { concurrency: 1, ms: 700 }),
  anthropic: () => measure(`${server.url}/v1/messages`, "fast", { concurrency: 1, ms: 700, init: bodies.anthropic("fast") }),
  openaiNative: () => measure(proxied, "native", { concurrency: 1, ms: 700 }),
  anthropicNative: () => measure(`${server.url}/v1/messages`, "native", { concurrency: 1, ms: 700, init: bodies.anthropic("native") }),
  ollama: () => measure(`${server.url}/api/chat`, "fast", { concurrency: 1, ms: 700, init: bodies.ollama("fast") }),
};
type Run = Awaited<ReturnType<typeof measure>>;
const apiRounds: Record<keyof typeof apiRuns, Run[]> = { openai: [], anthropic: [], openaiNative: [], anthropicNative: [], ollama: [] };
await apiRuns.openai(); // the first run after the saturated phase pays for GC and JIT: not counted
const order = Object.keys(apiRuns) as (keyof typeof apiRuns)[];
for (let i = 0; i < 3; i++) for (const name of [...order.slice(i), ...order.slice(0, i)]) apiRounds[name].push(await apiRuns[name]()); // each API goes first once
const median = (runs: Run[]) => ({
  p50: percentile(runs.map((r) => r.p50), 50), cpuMsPerRequest: percentile(runs.map((r) => r.cpuMsPerRequest), 50), failed: runs.reduce((n, r) => n + r.failed, 0),
});
const apiOpenAi = median(apiRounds.openai);
const apiAnthropic = median(apiRounds.anthropic);
const apiOpenAiNative = median(apiRounds.openaiNative);
const apiAnthropicNative = median(apiRounds.anthropicNative);
const apiOllama = median(apiRounds.ollama);

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
  client_apis_one_client: {
    openai_p50_ms: round(apiOpenAi.p50, 3), openai_cpu_ms_per_request: round(apiOpenAi.cpuMsPerRequest, 4),
    anthropic_translated: { p50_ms: round(apiAnthropic.p50, 3), added_p50_ms: round(apiAnthropic.p50 - apiOpenAi.p50, 3), cpu_ms_per_request: round(apiAnthropic.cpuMsPerRequest, 4), added_cpu_ms_per_request: round(apiAnthropic.cpuMsPerRequest - apiOpenAi.cpuMsPerRequest, 4) },
    // Passed through to a server that answers /v1/messages itself; compared with the OpenAI path to the same server.
    anthropic_passthrough: { p50_ms: round(apiAnthropicNative.p50, 3), added_p50_ms: round(apiAnthropicNative.p50 - apiOpenAiNative.p50, 3), cpu_ms_per_request: round(apiAnthropicNative.cpuMsPerRequest, 4), added_cpu_ms_per_request: round(apiAnthropicNative.cpuMsPerRequest - apiOpenAiNative.cpuMsPerRequest, 4) },
    ollama_translated: { p50_ms: round(apiOllama.p50, 3), added_p50_ms: round(apiOllama.p50 - apiOpenAi.p50, 3), cpu_ms_per_request: round(apiOllama.cpuMsPerRequest, 4), added_cpu_ms_per_request: round(apiOllama.cpuMsPerRequest - apiOpenAi.cpuMsPerRequest, 4) },
  },
  metrics_in_process_cpu_us_per_request: {
    relay_unmeasured: round(metricsUs.plain, 2), relay_measured: round(metricsUs.measured, 2), relay_measured_and_logged: round(metricsUs.measured_logged, 2),
    added_by_metrics: round(metricsUs.measured - metricsUs.plain, 2), added_by_metrics_and_log_line: round(metricsUs.measured_logged - metricsUs.plain, 2),
  },
  failed: oneDirect.failed + oneProxied.failed + modelDirect.failed + modelProxied.failed + fastDirect.failed + fastBare.failed + fastProxied.failed
    + apiOpenAi.failed + apiAnthropic.failed + apiAnthropicNative.failed + apiOpenAiNative.failed + apiOllama.failed,
  rss_for_100_open_streams_mb: mb(streamsBytes),
  first_chunk_direct_ms: round(ttfbDirect, 3), first_chunk_proxied_ms: round(ttfbProxied, 3), added_first_chunk_ms: round(ttfbProxied - ttfbDirect, 3),
  goals: { ratio_at_least_0_95: ratio >= 0.95, added_p50_under_0_3ms: addedP50 < 0.3, added_first_chunk_under_1ms: ttfbProxied - ttfbDirect < 1, metrics_under_5us: metricsUs.measured - metricsUs.plain < 5 },
}, null, 2));
