/**
 * bench/swap: two models under a one-model budget (each declares 6 GiB of an 8 GiB gpu0), stand-ins
 * that take LOAD_MS to load and LATENCY_MS to answer. CLIENTS clients per model send requests back to
 * back for SECONDS (two tenants, each on its own model: llama-swap's thrash case). Run side by side
 * in one run: requests in arrival order (each waiting request drains the loaded model at once) and
 * loaded-first ordering (the loaded model's requests are served before a swap, for up to swap_wait_s).
 * Reported: swaps, requests answered, p50 and p99 latency. Then time to first token for a cold model
 * (load included; and its first byte, a loading comment) against a warm one.
 */
import { ADMIN_KEY, STAND_IN_MODEL_SERVER as STAND_IN } from "../test/helpers.ts";
import { freePort, percentile, round, spawnGantry } from "./lib.ts";

const LOAD_MS = Number(process.env.LOAD_MS ?? 2000);
const LATENCY_MS = Number(process.env.LATENCY_MS ?? 50);
const CLIENTS = Number(process.env.CLIENTS ?? 2);
const SECONDS = Number(process.env.SECONDS ?? 30);
const SWAP_WAIT_S = Number(process.env.SWAP_WAIT_S ?? 5);

const headers = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };

async function gantryWith(loadedFirst: boolean) {
  const server = await spawnGantry({
    GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
    GANTRY_PLUGIN__INSTANCES__DEVICES: JSON.stringify({ gpu0: { memory: "8GiB" } }),
    GANTRY_PLUGIN__INSTANCES__NVIDIA_SMI: "",
    GANTRY_PLUGIN__INSTANCES__LOADED_FIRST: String(loadedFirst),
    GANTRY_PLUGIN__INSTANCES__SWAP_WAIT_S: String(SWAP_WAIT_S),
    GANTRY_PLUGIN__INSTANCES__EVICTION_WAIT_S: "60",
    GANTRY_PLUGIN__INSTANCES__LOG_INFERENCE: "false",
    GANTRY_LOG__LEVEL: "warn",
    GANTRY_RATE_LIMIT__ENABLED: "false",
  });
  for (const name of ["model-a", "model-b"]) {
    const command = [process.execPath, STAND_IN, "--port", "{port}", "--start-delay-ms", String(LOAD_MS), "--latency-ms", String(LATENCY_MS)];
    const res = await fetch(`${server.url}/api/v1/instances`, { method: "POST", headers, body: JSON.stringify({ name, backend: "command", model_path: name, port: await freePort(), command, on_demand_start: true, device: "gpu0", memory: "6GiB" }) });
    if (res.status !== 201) throw new Error(`creating ${name}: ${await res.text()}`);
  }
  return server;
}

const chat = (url: string, model: string, stream = false) =>
  fetch(`${url}/v1/chat/completions`, { method: "POST", headers, body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "hello" }] }) });

/** Counts starts by watching each instance's pid change (a start takes LOAD_MS, far longer than the poll). */
function countStarts(url: string) {
  const seen = new Set<number>();
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const { instances } = (await (await fetch(`${url}/api/v1/instances`, { headers })).json()) as { instances: { pid: number | null }[] };
      for (const i of instances) if (i.pid) seen.add(i.pid);
      await Bun.sleep(100);
    }
    return seen.size;
  })();
  return { stop: () => void (stopped = true), done };
}

async function thrash(loadedFirst: boolean) {
  const server = await gantryWith(loadedFirst);
  try {
    const starts = countStarts(server.url);
    const latencies: number[] = [];
    let failed = 0;
    const deadline = performance.now() + SECONDS * 1000;
    const client = async (model: string) => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const res = await chat(server.url, model);
        await res.arrayBuffer();
        if (res.status === 200) latencies.push(performance.now() - t0);
        else failed++;
      }
    };
    await Promise.all(["model-a", "model-b"].flatMap((model) => Array.from({ length: CLIENTS }, () => client(model))));
    starts.stop();
    const swaps = (await starts.done) - 1; // the first start is a load, not a swap
    return { swaps, answered: latencies.length, failed, p50_ms: round(percentile(latencies, 50)), p99_ms: round(percentile(latencies, 99)), max_ms: round(Math.max(...latencies)) };
  } finally {
    await server.stop();
  }
}

/** Request → first content chunk of a stream, and → its first byte (a loading comment while cold). */
async function firstToken(url: string, model: string) {
  const t0 = performance.now();
  const res = await chat(url, model, true);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let firstByte = NaN;
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (Number.isNaN(firstByte)) firstByte = performance.now() - t0;
    text += decoder.decode(value, { stream: true });
    if (text.includes('"content"')) {
      const ttft = performance.now() - t0;
      await reader.cancel();
      return { ttft, firstByte };
    }
  }
  throw new Error(`no content from ${model}`);
}

async function coldVsWarm() {
  const server = await gantryWith(true);
  try {
    const cold = await firstToken(server.url, "model-a");
    const warm: number[] = [];
    for (let i = 0; i < 10; i++) warm.push((await firstToken(server.url, "model-a")).ttft);
    const warmP50 = percentile(warm, 50);
    return { cold_ttft_ms: round(cold.ttft), cold_first_byte_ms: round(cold.firstByte), warm_ttft_p50_ms: round(warmP50), cold_over_warm: round(cold.ttft / warmP50, 1) };
  } finally {
    await server.stop();
  }
}

const arrival = await thrash(false);
const loadedFirst = await thrash(true);
const ttft = await coldVsWarm();
console.log(JSON.stringify({
  bench: "swap", load_ms: LOAD_MS, latency_ms: LATENCY_MS, clients_per_model: CLIENTS, seconds: SECONDS, swap_wait_s: SWAP_WAIT_S,
  arrival_order: arrival, loaded_first: loadedFirst,
  swaps_ratio_loaded_first_over_arrival: round(loadedFirst.swaps / Math.max(1, arrival.swaps), 2),
  answered_ratio_loaded_first_over_arrival: round(loadedFirst.answered / Math.max(1, arrival.answered), 2),
  p99_ratio_loaded_first_over_arrival: round(loadedFirst.p99_ms / arrival.p99_ms, 2),
  time_to_first_token: ttft,
}, null, 2));
