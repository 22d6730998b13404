/**
 * Placement, eviction, groups, request queues, keep_alive, load/unload and scoped API keys, with
 * stand-in model servers as real subprocesses declaring memory on two fake devices (gpu0 from the
 * configuration, gpu1 from a stand-in nvidia-smi).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { Ollama } from "ollama";
import Anthropic from "@anthropic-ai/sdk";
import { rmSync } from "node:fs";
import { BUILTIN_PLUGINS, dropTestDatabase, json, STAND_IN_MODEL_SERVER, startGantry, tempDir, waitFor, type TestGantry } from "../helpers.ts";

let g: TestGantry;
let inferenceKey: string;
const scratch = tempDir("gantry-placement-");

beforeAll(async () => {
  const nvidiaSmi = join(scratch, "nvidia-smi");
  writeFileSync(nvidiaSmi, "#!/bin/sh\necho '0, Stand-in GPU A, 24576, 300'\necho '1, Stand-in GPU B, 8192, 0'\n");
  chmodSync(nvidiaSmi, 0o755);
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      rate_limit: { enabled: false },
      // Only the plugins this file needs (and none that depends on instances: the reload test disables it).
      plugins: { disabled: ["cache", "mcp", "agent", "batch", "cron", "pipelines", "evaluations", "knowledge", "datasets", "deployments"] },
      plugin: {
        instances: {
          stop_timeout_s: 2, health_interval_s: 0.2, nvidia_smi: nvidiaSmi,
          devices: { gpu0: { memory: "10GiB" } }, eviction_wait_s: 2, swap_wait_s: 3,
          groups: {
            pair: { swap: true, exclusive: false },
            solo: { swap: true, exclusive: true },
            keep: { swap: false, exclusive: false, persistent: true },
            trio: { swap: false, exclusive: false, max_running: 2 },
          },
        },
      },
    },
  });
  inferenceKey = (await g.gantry.security.keys.create("inference", "inference")).key;
});
afterAll(() => g.stop());

const standIn = (...flags: string[]) => [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--model", "{model_path}", ...flags];
async function create(name: string, fields: Record<string, unknown> = {}, flags: string[] = []) {
  const res = await g.api("/api/v1/instances", json("POST", { name, backend: "command", model_path: name, on_demand_start: true, command: standIn(...flags), ...fields }));
  expect(res.status).toBe(201);
}
const status = async (name: string) => (await (await g.api(`/api/v1/instances/${name}`)).json()).status as string;
const openai = (key = inferenceKey) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: key, maxRetries: 0 });
const chat = (model: string, content = "hi", key = inferenceKey, extra: Record<string, unknown> = {}) =>
  openai(key).chat.completions.create({ model, messages: [{ role: "user", content }], ...extra } as OpenAI.ChatCompletionCreateParamsNonStreaming);
const devices = async () => (await (await g.api("/api/v1/system/devices")).json()).devices as { name: string; source: string; product: string | null; memory_total_mib: number; memory_used_mib: number; residents: { name: string; status: string; memory_mib: number; estimated: boolean; pinned: boolean }[] }[];
const stopAll = () => g.api("/api/v1/instances/stop-all", json("POST"));

describe("devices", () => {
  test("budgets from configuration and nvidia-smi, the host as cpu; an estimate from the model file", async () => {
    const file = join(scratch, "model.gguf");
    writeFileSync(file, "");
    truncateSync(file, 10 * 2 ** 20); // 10 MiB
    await create("estimated", { device: "gpu1", model_path: file, options: { context_size: 8192 } });
    const list = await devices();
    expect(list.map((d) => [d.name, d.source, d.memory_total_mib])).toEqual([["gpu0", "config", 10240], ["gpu1", "nvidia-smi", 8192], ["cpu", "host", expect.any(Number)]]);
    expect(list[0]!.product).toBe("Stand-in GPU A");
    // 10 MiB × 1.1 + 8192 tokens × 0.125 MiB + 256 MiB
    expect(list[1]!.residents).toEqual([expect.objectContaining({ name: "estimated", status: "stopped", memory_mib: 1291, estimated: true })]);
    expect(list[1]!.memory_used_mib).toBe(0);
    expect((await g.api("/api/v1/system/devices", { auth: inferenceKey })).status).toBe(403);
    await g.api("/api/v1/instances/estimated", { method: "DELETE" });
  });

  test("bad placement input: a memory that is no size is 400; an unknown device is 409 naming the known ones", async () => {
    const bad = await g.api("/api/v1/instances", json("POST", { name: "bad-mem", model_path: "x", memory: "lots" }));
    expect(bad.status).toBe(400);
    await create("nowhere", { device: "gpu7", memory: 100 });
    const res = await g.api("/api/v1/instances/nowhere/start", json("POST"));
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ code: "UNKNOWN_DEVICE", error: expect.stringContaining("gpu0, gpu1, cpu") });
    const tooBig = await g.api("/api/v1/instances/nowhere", json("PUT", { device: "gpu1", memory: "9GiB" }));
    expect(tooBig.status).toBe(200);
    const refused = await chat("nowhere").catch((e) => e);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect(refused.status).toBe(409);
    expect(refused.message).toContain("needs 9216 MiB and gpu1 has 8192 MiB in all");
    await g.api("/api/v1/instances/nowhere", { method: "DELETE" });
  });
});

describe("eviction", () => {
  test("least recently used idle instances go first; a busy one is never evicted while an idle one makes room", async () => {
    for (const name of ["ev-a", "ev-b", "ev-c"]) await create(name, { device: "gpu0", memory: "4GiB" }, name === "ev-b" ? ["--latency-ms", "1500"] : []);
    await chat("ev-a");
    await chat("ev-b");
    await chat("ev-a"); // ev-b is now the least recently used
    // ev-b gets a slow request before ev-a's last use: least recently used, and busy.
    const slow = chat("ev-b", "slow");
    await waitFor(async () => (await (await g.api("/api/v1/instances/ev-b")).json()).requests.in_flight === 1, 2000, "the slow request in flight");
    await chat("ev-a");
    expect((await chat("ev-c")).choices[0]!.message.content).toBe("You said: hi");
    expect(await status("ev-a")).toBe("stopped");
    expect(await status("ev-b")).toBe("running");
    expect((await slow).choices[0]!.message.content).toBe("You said: slow");
    const gpu0 = (await devices())[0]!;
    expect(gpu0.memory_used_mib).toBe(8192);
    expect(gpu0.residents.filter((r) => r.status === "running").map((r) => r.name)).toEqual(["ev-b", "ev-c"]);
    await stopAll();
  });

  test("a busy victim is stopped only after its requests finish; past eviction_wait_s the start is 409 naming it", async () => {
    await create("busy-1", { device: "gpu0", memory: "6GiB" }, ["--latency-ms", "800"]);
    await create("busy-2", { device: "gpu0", memory: "6GiB" }, ["--latency-ms", "6000"]);
    await create("busy-3", { device: "gpu0", memory: "6GiB" });
    await g.api("/api/v1/instances/busy-1/start", json("POST"));
    const inFlight = chat("busy-1", "finish me");
    await waitFor(async () => (await (await g.api("/api/v1/instances/busy-1")).json()).requests.in_flight === 1, 2000, "the request in flight");
    expect((await chat("busy-3")).choices[0]!.message.content).toBe("You said: hi");
    expect((await inFlight).choices[0]!.message.content).toBe("You said: finish me"); // finished, not cut off
    expect(await status("busy-1")).toBe("stopped");

    await g.api("/api/v1/instances/busy-3/stop", json("POST", {}));
    await g.api("/api/v1/instances/busy-2/start", json("POST"));
    const long = chat("busy-2", "long");
    await waitFor(async () => (await (await g.api("/api/v1/instances/busy-2")).json()).requests.in_flight === 1, 2000, "the long request in flight");
    const refused = await g.api("/api/v1/instances/busy-3/start", json("POST"));
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ code: "NO_ROOM", error: expect.stringContaining("'busy-2', still busy (1 in flight, 0 queued)") });
    expect((await long).choices[0]!.message.content).toBe("You said: long");
    expect(await status("busy-2")).toBe("running");
    await stopAll();
  });

  test("a pinned instance is never evicted: 409 names it", async () => {
    await create("pin-p", { device: "gpu1", memory: "6GiB", pinned: true });
    await create("pin-q", { device: "gpu1", memory: "4GiB" });
    await g.api("/api/v1/instances/pin-p/start", json("POST"));
    const res = await g.api("/api/v1/instances/pin-q/load", json("POST", {}));
    expect(res.status).toBe(409);
    expect((await res.json()).error).toContain("room would need stopping 'pin-p', which is pinned");
    const viaProxy = await chat("pin-q").catch((e) => e);
    expect(viaProxy.status).toBe(409);
    expect(await status("pin-p")).toBe("running");
    // A pinned instance is not stopped for idleness either, nor is it listed as evictable.
    expect((await devices())[1]!.residents.find((r) => r.name === "pin-p")).toMatchObject({ pinned: true, status: "running" });
    // Ollama's /api/ps shows what placement counts on the GPU.
    const ps = await new Ollama({ host: g.url, headers: { authorization: `Bearer ${inferenceKey}` } }).ps();
    expect(ps.models.find((m) => m.name === "pin-p")?.size_vram).toBe(6 * 2 ** 30);
    await stopAll();
  });

});

describe("swaps without thrash", () => {
  test("a request for the loaded model is served before the waiting swap, which then happens once", async () => {
    await create("lf-a", { device: "gpu0", memory: "6GiB" }, ["--latency-ms", "600"]);
    await create("lf-b", { device: "gpu0", memory: "6GiB" });
    await chat("lf-a", "load");
    const finished: string[] = [];
    const track = (label: string, p: Promise<unknown>) => p.then(() => finished.push(label));
    const first = track("a-first", chat("lf-a", "first"));
    await waitFor(async () => (await (await g.api("/api/v1/instances/lf-a")).json()).requests.in_flight === 1, 2000, "a's first request in flight");
    const b = track("b", chat("lf-b", "swap"));
    await waitFor(async () => (await (await g.api("/api/v1/instances/lf-b")).json()).requests.waiting_for_start === 1, 2000, "b waiting for its start");
    const second = track("a-second", chat("lf-a", "second")); // arrives while b waits: the loaded model serves it
    await Promise.all([first, b, second]);
    expect(finished).toEqual(["a-first", "a-second", "b"]);
    expect(await status("lf-a")).toBe("stopped");
    expect(await status("lf-b")).toBe("running");
    await stopAll();
  });
});

describe("groups", () => {
  test("swap: one member at a time; exclusive stops other groups unless persistent; max_running per group", async () => {
    for (const [name, group] of [["g-p1", "pair"], ["g-p2", "pair"], ["g-k1", "keep"], ["g-k2", "keep"], ["g-s1", "solo"], ["g-t1", "trio"], ["g-t2", "trio"], ["g-t3", "trio"]] as const) await create(name, { group });
    await chat("g-p1");
    await chat("g-k1");
    await chat("g-k2");
    await chat("g-p2");
    expect(await status("g-p1")).toBe("stopped"); // swap within pair
    expect(await status("g-k1")).toBe("running"); // keep is not a swap group
    await chat("g-t1");
    await chat("g-t2");
    await chat("g-t3");
    expect([await status("g-t1"), await status("g-t2"), await status("g-t3")]).toEqual(["stopped", "running", "running"]);
    await chat("g-s1"); // exclusive: pair and trio members stop, keep's are persistent
    expect([await status("g-p2"), await status("g-t2"), await status("g-t3")]).toEqual(["stopped", "stopped", "stopped"]);
    expect([await status("g-k1"), await status("g-k2"), await status("g-s1")]).toEqual(["running", "running", "running"]);
    await stopAll();
  });
});

describe("request queue", () => {
  test("parallel slots and max_queue: the next request is 503 with Retry-After in each API's error shape", async () => {
    await create("queued", { parallel: 1, max_queue: 1 }, ["--latency-ms", "1200"]);
    await g.api("/api/v1/instances/queued/start", json("POST"));
    const first = chat("queued", "one");
    await waitFor(async () => (await (await g.api("/api/v1/instances/queued")).json()).requests.in_flight === 1, 2000);
    const second = chat("queued", "two");
    await waitFor(async () => (await (await g.api("/api/v1/instances/queued")).json()).requests.queued === 1, 2000);
    const full = await chat("queued", "three").catch((e) => e);
    expect(full).toBeInstanceOf(OpenAI.APIError);
    expect(full.status).toBe(503);
    expect(Number(full.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(full.error).toMatchObject({ type: "server_error", code: "queue_full" });
    const anthropic = await fetch(`${g.url}/v1/messages`, { method: "POST", headers: { "x-api-key": inferenceKey, "content-type": "application/json" }, body: JSON.stringify({ model: "queued", max_tokens: 5, messages: [{ role: "user", content: "x" }] }) });
    expect(anthropic.status).toBe(503);
    expect(anthropic.headers.get("retry-after")).not.toBeNull();
    expect(await anthropic.json()).toMatchObject({ type: "error", error: { type: "overloaded_error" } });
    const ollama = await fetch(`${g.url}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${inferenceKey}` }, body: JSON.stringify({ model: "queued", stream: false, messages: [{ role: "user", content: "x" }] }) });
    expect(ollama.status).toBe(503);
    expect(await ollama.json()).toMatchObject({ code: "QUEUE_FULL" });
    expect((await first).choices[0]!.message.content).toBe("You said: one");
    expect((await second).choices[0]!.message.content).toBe("You said: two");
    await stopAll();
  });

  test("requests for a model that is starting wait for it in its queue and are all answered", async () => {
    await create("slow-start", { parallel: 1, max_queue: 8 }, ["--start-delay-ms", "800"]);
    const answers = await Promise.all([1, 2, 3, 4].map((i) => chat("slow-start", `n${i}`)));
    expect(answers.map((a) => a.choices[0]!.message.content)).toEqual(["You said: n1", "You said: n2", "You said: n3", "You said: n4"]);
    await stopAll();
  });
});

describe("keep_alive, load and unload", () => {
  test("keep_alive 0 unloads after the request; a negative one outlives idle_timeout; a bad one is 400", async () => {
    await create("ka-zero");
    expect((await chat("ka-zero", "bye", inferenceKey, { keep_alive: 0 })).choices[0]!.message.content).toBe("You said: bye");
    await waitFor(async () => (await status("ka-zero")) === "stopped", 3000, "keep_alive 0 to unload");

    await create("ka-forever", { idle_timeout: 1 });
    await create("ka-default", { idle_timeout: 1 });
    const ollama = new Ollama({ host: g.url, headers: { authorization: `Bearer ${inferenceKey}` } });
    await ollama.chat({ model: "ka-forever", messages: [{ role: "user", content: "stay" }], keep_alive: -1 });
    await ollama.chat({ model: "ka-default", messages: [{ role: "user", content: "go" }] });
    const loaded = (await ollama.ps()).models;
    expect(new Date(loaded.find((m) => m.name === "ka-forever")!.expires_at).getTime()).toBeGreaterThan(Date.now() + 300 * 86_400_000);
    expect(new Date(loaded.find((m) => m.name === "ka-default")!.expires_at).getTime()).toBeLessThan(Date.now() + 2000);
    await waitFor(async () => (await status("ka-default")) === "stopped", 4000, "idle_timeout to stop the other");
    expect(await status("ka-forever")).toBe("running");
    expect((await (await g.api("/api/v1/instances/ka-forever")).json()).keep_alive_s).toBe(-1);
    // Ollama's way to unload: an empty generate with keep_alive 0.
    expect(await ollama.generate({ model: "ka-forever", prompt: "", keep_alive: 0 })).toMatchObject({ done: true, done_reason: "unload" });
    expect(await status("ka-forever")).toBe("stopped");

    const bad = await chat("ka-zero", "x", inferenceKey, { keep_alive: "soon" }).catch((e) => e);
    expect(bad.status).toBe(400);
    expect(bad.message).toContain("keep_alive 'soon' is not a duration");
  });

  test("POST .../load keeps it for keep_alive, .../unload stops it; both for operators only", async () => {
    await create("loadable", { idle_timeout: 1 });
    const loaded = await g.api("/api/v1/instances/loadable/load", json("POST", { keep_alive: "10m" }));
    expect(loaded.status).toBe(200);
    expect(await loaded.json()).toMatchObject({ message: "Instance loaded", status: "running", keep_alive_s: 600 });
    await Bun.sleep(1500); // past idle_timeout: keep_alive wins
    expect(await status("loadable")).toBe("running");
    expect((await g.api("/api/v1/instances/loadable/unload", { method: "POST", auth: inferenceKey })).status).toBe(403);
    const unloaded = await g.api("/api/v1/instances/loadable/unload", json("POST"));
    expect(await unloaded.json()).toMatchObject({ message: "Instance unloaded", status: "stopped" });
    expect((await g.api("/api/v1/instances/loadable/load", json("POST", { keep_alive: "5 minutes" }))).status).toBe(400);
    expect((await g.api("/api/v1/instances/nope/load", json("POST", {}))).status).toBe(404);
  });
});

describe("API keys scoped to models", () => {
  const newKey = async (fields: Record<string, unknown>) => {
    const res = await g.api("/api/v1/auth/keys", json("POST", { name: `scoped-${Math.random()}`, role: "inference", ...fields }));
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string; key: string; models: string[] | null };
  };

  test("an allow list (aliases resolve to their instance), expiry and per-minute limits, through the openai client", async () => {
    await create("scoped-x", { aliases: ["alias-x"] });
    await create("scoped-y");
    const allowed = await newKey({ models: ["alias-x"] });
    expect(allowed.models).toEqual(["alias-x"]);
    expect((await chat("scoped-x", "by name", allowed.key)).choices[0]!.message.content).toBe("You said: by name");
    expect((await chat("alias-x", "by alias", allowed.key)).choices[0]!.message.content).toBe("You said: by alias");
    const refused = await chat("scoped-y", "no", allowed.key).catch((e) => e);
    expect(refused).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(refused.message).toContain("may not use the model 'scoped-y'");
    expect(await status("scoped-y")).toBe("stopped"); // refused before anything started
    // A change applies to the next request.
    expect((await g.api(`/api/v1/auth/keys/${allowed.id}`, json("PATCH", { models: ["scoped-y"] }))).status).toBe(200);
    expect(await chat("scoped-x", "now no", allowed.key).catch((e) => e.status)).toBe(403);
    // Nor can it unload a model it may not use (Ollama's empty generate with keep_alive 0).
    const unload = await g.api("/api/generate", { ...json("POST", { model: "scoped-x", keep_alive: 0 }), auth: allowed.key });
    expect(unload.status).toBe(403);
    expect(await status("scoped-x")).toBe("running");

    const expiring = await newKey({ expires_at: new Date(Date.now() + 1500).toISOString() });
    expect((await chat("scoped-x", "in time", expiring.key)).choices[0]!.message.content).toBe("You said: in time");
    await Bun.sleep(1600);
    expect(await chat("scoped-x", "late", expiring.key).catch((e) => e)).toBeInstanceOf(OpenAI.AuthenticationError);

    const limited = await newKey({ requests_per_minute: 2 });
    await chat("scoped-x", "1", limited.key);
    await chat("scoped-x", "2", limited.key);
    const over = await chat("scoped-x", "3", limited.key).catch((e) => e);
    expect(over).toBeInstanceOf(OpenAI.RateLimitError);
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(over.error).toMatchObject({ code: "rate_limit_exceeded" });

    const tokens = await newKey({ tokens_per_minute: 5 });
    await chat("scoped-x", "one two three four five", tokens.key); // 3 prompt + 7 completion tokens
    expect(await chat("scoped-x", "more", tokens.key).catch((e) => e)).toBeInstanceOf(OpenAI.RateLimitError);

    const invalid = await g.api("/api/v1/auth/keys", json("POST", { name: "bad", role: "inference", expires_at: "tomorrow" }));
    expect(invalid.status).toBe(400);
    expect((await g.api("/api/v1/auth/keys/nosuchkey", json("PATCH", { models: null }))).status).toBe(404);
    await stopAll();
  });
});

describe("loading progress", () => {
  test("a stream for a cold model starts at once with SSE comments, which the official clients skip", async () => {
    await create("cold-raw", {}, ["--start-delay-ms", "1500"]);
    const res = await fetch(`${g.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${inferenceKey}`, "content-type": "application/json" }, body: JSON.stringify({ model: "cold-raw", stream: true, messages: [{ role: "user", content: "x" }] }) });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const text = await res.text();
    expect(text.startsWith(": loading model cold-raw (0 s)\n\n")).toBe(true);
    expect(text).toContain('"content":"said: "');
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);

    await create("cold-openai", {}, ["--start-delay-ms", "1200"]);
    const stream = await openai().chat.completions.create({ model: "cold-openai", stream: true, messages: [{ role: "user", content: "streamed words" }] });
    let said = "";
    for await (const chunk of stream) said += chunk.choices[0]?.delta.content ?? "";
    expect(said).toBe("You said: streamed words");

    await create("cold-anthropic", {}, ["--start-delay-ms", "1200"]);
    const anthropic = new Anthropic({ baseURL: g.url, apiKey: inferenceKey, maxRetries: 0 });
    const message = await anthropic.messages.stream({ model: "cold-anthropic", max_tokens: 20, messages: [{ role: "user", content: "hello there" }] }).finalMessage();
    expect(message.content).toEqual([expect.objectContaining({ type: "text", text: "You said: hello there" })]);

    // Ollama streams NDJSON, where a progress line would break the client: it waits silently.
    await create("cold-ollama", {}, ["--start-delay-ms", "1200"]);
    const ollama = new Ollama({ host: g.url, headers: { authorization: `Bearer ${inferenceKey}` } });
    let ollamaSaid = "";
    for await (const part of await ollama.chat({ model: "cold-ollama", stream: true, messages: [{ role: "user", content: "ndjson" }] })) ollamaSaid += part.message.content;
    expect(ollamaSaid).toBe("You said: ndjson");
    await stopAll();
  });

  test("a cold model that fails to start ends the begun stream with an error event the clients raise", async () => {
    await g.api("/api/v1/instances", json("POST", { name: "cold-broken", backend: "command", model_path: "x", on_demand_start: true, restart: "never", command: ["/nonexistent/server", "{port}"] }));
    const stream = await openai().chat.completions.create({ model: "cold-broken", stream: true, messages: [{ role: "user", content: "x" }] });
    const failure = await (async () => {
      for await (const _ of stream) { /* no chunk comes */ }
    })().catch((e) => e);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect(failure.message).toContain("could not be started");
    const anthropic = new Anthropic({ baseURL: g.url, apiKey: inferenceKey, maxRetries: 0 });
    const anthropicFailure = await anthropic.messages.stream({ model: "cold-broken", max_tokens: 5, messages: [{ role: "user", content: "x" }] }).finalMessage().catch((e) => e);
    expect(anthropicFailure).toBeInstanceOf(Anthropic.APIError);
    expect(String(anthropicFailure.message)).toContain("could not be started");
    // Refusals that need no start still come as a status before any stream: an unknown model is 404.
    expect(await openai().chat.completions.create({ model: "no-such-model", stream: true, messages: [{ role: "user", content: "x" }] }).catch((e) => e.status)).toBe(404);
  });
});

describe("reload", () => {
  test("a reload of the plugin keeps the queue, the requests in it, placement state and key windows", async () => {
    await create("reload-q", { parallel: 1, max_queue: 4, device: "gpu1", memory: "2GiB" }, ["--latency-ms", "1000"]);
    const limited = (await (await g.api("/api/v1/auth/keys", json("POST", { name: "reload-limited", role: "inference", requests_per_minute: 3 }))).json()).key as string;
    await g.api("/api/v1/instances/reload-q/start", json("POST"));
    const requests = [chat("reload-q", "a", limited), chat("reload-q", "b", limited)];
    await waitFor(async () => (await (await g.api("/api/v1/instances/reload-q")).json()).requests.queued === 1, 2000, "one request queued");
    expect((await g.api("/api/v1/plugins/instances/reload", json("POST"))).status).toBe(200);
    expect((await (await g.api("/api/v1/instances/reload-q")).json()).requests).toEqual({ in_flight: 1, queued: 1, waiting_for_start: 0 });
    expect((await Promise.all(requests)).map((r) => r.choices[0]!.message.content)).toEqual(["You said: a", "You said: b"]);
    expect((await devices())[1]!.residents.find((r) => r.name === "reload-q")).toMatchObject({ status: "running", memory_mib: 2048 });
    await chat("reload-q", "c", limited);
    expect(await chat("reload-q", "d", limited).catch((e) => e.status)).toBe(429); // the window counted across the reload

    // Disabling the plugin stops the server; the requests in its queue end (as errors), none is left hanging.
    const pid = (await (await g.api("/api/v1/instances/reload-q")).json()).pid as number;
    const waiting = ["e", "f"].map((content) => fetch(`${g.url}/v1/chat/completions`, {
      method: "POST", headers: { authorization: `Bearer ${inferenceKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "reload-q", messages: [{ role: "user", content }] }), signal: AbortSignal.timeout(15_000),
    }));
    await waitFor(async () => (await (await g.api("/api/v1/instances/reload-q")).json()).requests.queued === 1, 2000, "one request queued");
    expect((await g.api("/api/v1/plugins/instances/disable", json("POST"))).status).toBe(200);
    expect((await Promise.all(waiting)).map((r) => r.status >= 500)).toEqual([true, true]);
    expect(() => process.kill(pid, 0)).toThrow();
    expect((await g.api("/api/v1/plugins/instances/enable", json("POST"))).status).toBe(200);
  });
});

describe("default model", () => {
  test("started with the plugin and kept loaded: not stopped for idleness, not evicted, started again when stopped", async () => {
    const dataDir = tempDir();
    const settings = { stop_timeout_s: 2, health_interval_s: 0.2, nvidia_smi: "", devices: { gpu0: { memory: "8GiB" } } };
    const first = await startGantry({ builtins: BUILTIN_PLUGINS, dataDir, config: { rate_limit: { enabled: false }, plugin: { instances: settings } } });
    for (const [name, aliases] of [["main-model", ["main"]], ["other-model", []]] as const) {
      const res = await first.api("/api/v1/instances", json("POST", { name, aliases, backend: "command", model_path: name, on_demand_start: true, idle_timeout: 1, device: "gpu0", memory: "6GiB", command: standIn() }));
      expect(res.status).toBe(201);
    }
    await first.stop();
    const second = await startGantry({ builtins: BUILTIN_PLUGINS, dataDir, config: { rate_limit: { enabled: false }, plugin: { instances: { ...settings, default_model: "main" } } } });
    try {
      const state = async (name: string) => (await (await second.api(`/api/v1/instances/${name}`)).json()).status;
      await waitFor(async () => (await state("main-model")) === "running", 5000, "the default model to start");
      await Bun.sleep(1500); // past its idle_timeout
      expect(await state("main-model")).toBe("running");
      const refused = await second.api("/api/v1/instances/other-model/start", json("POST"));
      expect(refused.status).toBe(409);
      expect((await refused.json()).error).toContain("'main-model', which is pinned");
      const gpu0 = ((await (await second.api("/api/v1/system/devices")).json()).devices as { name: string; residents: { name: string; pinned: boolean }[] }[])[0]!;
      expect(gpu0.residents.find((r) => r.name === "main-model")?.pinned).toBe(true);
      await second.api("/api/v1/instances/main-model/stop", json("POST", {}));
      await waitFor(async () => (await state("main-model")) === "running", 5000, "the health watch to start it again");
    } finally {
      await second.stop();
      rmSync(dataDir, { recursive: true, force: true });
      await dropTestDatabase(dataDir);
    }
  });
});
