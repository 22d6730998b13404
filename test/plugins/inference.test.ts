/**
 * The inference endpoint as clients use it: the official openai, @anthropic-ai/sdk and ollama
 * clients against a real gantry and stand-in model servers; CORS from a browser's point of view;
 * per-model metrics after a known sequence of requests.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI, { toFile } from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import { BUILTIN_PLUGINS, freePort, json, STAND_IN_MODEL_SERVER, startGantry, waitFor, type TestGantry } from "../helpers.ts";

let g: TestGantry;
let key: string;
const QWEN = "Qwen/Qwen2.5-7B-Instruct";
const NATIVE = "qwen2.5:7b";

const standIn = (...flags: string[]) => [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--model", "{model_path}", ...flags];
async function create(name: string, extra: Record<string, unknown> = {}, flags: string[] = []): Promise<void> {
  // A port free now, not one from a fixed range: tests in other checkouts may run at the same time.
  const res = await g.api("/api/v1/instances", json("POST", { name, backend: "command", model_path: name, port: await freePort(), on_demand_start: true, command: standIn(...flags), ...extra }));
  if (res.status !== 201) throw new Error(`${name}: ${res.status} ${await res.text()}`);
}

beforeAll(async () => {
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      rate_limit: { enabled: false },
      server: { cors: { origins: ["https://chat.example"] } },
      plugin: { instances: { stop_timeout_s: 2 } },
    },
  });
  key = (await g.gantry.security.keys.create("clients", "inference")).key;
  await create(QWEN, { aliases: ["gpt-4o-mini"] }, ["--chunk-delay-ms", "1"]);
  await create(NATIVE, { options: { anthropic_api: "native" } }, ["--anthropic", "--chunk-delay-ms", "1"]);
  await create("hidden", { unlisted: true });
});
afterAll(() => g.stop());

describe("OpenAI client", () => {
  const client = () => new OpenAI({ apiKey: key, baseURL: `${g.url}/v1`, maxRetries: 0 });

  test("models: list with aliases, retrieve by id with '/' and by alias, unlisted hidden but served", async () => {
    const ids = (await client().models.list()).data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining([QWEN, "gpt-4o-mini", NATIVE]));
    expect(ids).not.toContain("hidden");
    expect(await client().models.retrieve(QWEN)).toMatchObject({ id: QWEN, object: "model", instance: QWEN });
    expect(await client().models.retrieve("gpt-4o-mini")).toMatchObject({ id: "gpt-4o-mini", instance: QWEN });
    expect((await client().models.retrieve("hidden")).id).toBe("hidden");
    const missing = await client().models.retrieve("nope").catch((e) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect(missing).toMatchObject({ status: 404, code: "model_not_found", type: "invalid_request_error" });
    // An id that is not valid percent-encoding names no model (a 4xx, not a 500 from decoding it).
    for (const [path, status] of [["/v1/models/%ZZ", 404], ["/api/v1/inference/%E0%A4%A", 400], ["/upstream/%ZZ/health", 404]] as const) {
      const res = await g.api(path, path.startsWith("/api") ? json("POST", { messages: [] }) : {});
      expect([path, res.status]).toEqual([path, status]);
    }
  });

  test("chat by alias, responses (plain and streamed), rerank, speech, images, transcription upload", async () => {
    const chat = await client().chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi alias" }] });
    expect(chat.choices[0]!.message.content).toBe("You said: hi alias");
    const response = await client().responses.create({ model: QWEN, input: "hello responses" });
    expect(response.output_text).toBe("You said: hello responses");
    let streamed = "";
    for await (const event of await client().responses.create({ model: QWEN, input: "a b c", stream: true })) if (event.type === "response.output_text.delta") streamed += event.delta;
    expect(streamed).toBe("You said: a b c");
    const rerank = await client().post("/rerank", { body: { model: QWEN, query: "cat", documents: ["dog", "a cat"] } }) as { results: { index: number }[] };
    expect(rerank.results[0]!.index).toBe(1);
    expect((await g.api("/v1/reranking", { ...json("POST", { model: QWEN, query: "x", documents: ["x"] }), auth: key })).status).toBe(200);
    const speech = await client().audio.speech.create({ model: QWEN, input: "spoken", voice: "alloy" });
    expect(speech.headers.get("content-type")).toBe("audio/wav");
    expect(await speech.text()).toBe("RIFFspoken");
    const image = await client().images.generate({ model: QWEN, prompt: "a red square" });
    expect(Buffer.from(image.data![0]!.b64_json!, "base64").toString()).toBe("a red square");
    const heard = await client().audio.transcriptions.create({ model: "gpt-4o-mini", file: await toFile(Buffer.alloc(1234), "clip.wav") });
    expect(heard.text).toBe("heard clip.wav: 1234 bytes for gpt-4o-mini");
  });

  test("a long conversation is routed by a scan of its body: model before or after the messages; streams get usage asked for and taken out", async () => {
    const client = new OpenAI({ apiKey: key, baseURL: `${g.url}/v1` });
    // Past 64 KiB, where the proxy scans the body instead of parsing it.
    const history = Array.from({ length: 500 }, (_, i) => ({ role: i % 2 ? "assistant" as const : "user" as const, content: `turn ${i}: ${"words ".repeat(20)}` }));
    const messages = [...history, { role: "user" as const, content: "the last question" }];
    // As Python's SDK writes a body: the messages first, then model and stream.
    const whole = await client.chat.completions.create({ messages, model: "gpt-4o-mini" });
    expect(whole.choices[0]!.message.content).toBe("You said: the last question");
    for (const body of [{ messages, model: QWEN, stream: true as const }, { model: QWEN, stream: true as const, messages }]) {
      const chunks = [];
      for await (const chunk of await client.chat.completions.create(body)) chunks.push(chunk);
      expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe("You said: the last question");
      expect(chunks.some((c) => c.usage)).toBe(false);
    }
    const asked = [];
    for await (const chunk of await client.chat.completions.create({ messages, model: QWEN, stream: true, stream_options: { include_usage: true } })) asked.push(chunk);
    expect(asked.at(-1)!.usage!.completion_tokens).toBeGreaterThan(0);
    // The same key twice: the last one counts, as JSON.parse reads it (the scan leaves such bodies to the parser).
    const twice = `{"model":"ghost","messages":${JSON.stringify(messages)},"model":"gpt-4o-mini"}`;
    const res = await g.api("/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: twice, auth: key });
    expect(res.status).toBe(200);
  });

  test("errors carry OpenAI's code and type: no key, wrong key, unknown path, a body without model", async () => {
    const noKey = await g.api("/v1/models", { auth: false });
    expect(noKey.status).toBe(401);
    expect((await noKey.json()).error).toMatchObject({ code: "missing_api_key", type: "authentication_error", param: null });
    const wrong = await new OpenAI({ apiKey: "gk_abcdefghij_wrongwrongwrongwrongwrongwrongwrong", baseURL: `${g.url}/v1`, maxRetries: 0 })
      .chat.completions.create({ model: QWEN, messages: [] }).catch((e) => e);
    expect(wrong).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(wrong).toMatchObject({ code: "invalid_api_key", type: "authentication_error" });
    expect(wrong.message).toContain("not valid");
    const unknown = await g.api("/v1/nothing/here", { ...json("POST", {}), auth: key });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error).toMatchObject({ message: "Invalid URL (POST /v1/nothing/here)", type: "invalid_request_error", code: "unknown_route" });
    const badBody = await g.api("/v1/audio/transcriptions", { method: "POST", headers: { "content-type": "text/plain" }, body: "x", auth: key });
    expect(badBody.status).toBe(400);
    expect((await badBody.json()).error.param).toBe("model");
  });
});

describe("Anthropic client", () => {
  const client = (apiKey = key) => new Anthropic({ apiKey, baseURL: g.url, maxRetries: 0 });

  test("translated onto chat completions: message, stream, tool use, token count", async () => {
    const message = await client().messages.create({ model: "gpt-4o-mini", max_tokens: 64, system: "be brief", messages: [{ role: "user", content: "hello claude" }] });
    expect(message).toMatchObject({ type: "message", role: "assistant", model: "gpt-4o-mini", stop_reason: "end_turn", content: [{ type: "text", text: "You said: hello claude" }] });
    expect(message.usage).toEqual(expect.objectContaining({ input_tokens: 3, output_tokens: 4 }));
    const stream = client().messages.stream({ model: QWEN, max_tokens: 64, messages: [{ role: "user", content: "one two three" }] });
    const texts: string[] = [];
    stream.on("text", (text) => texts.push(text));
    const final = await stream.finalMessage();
    expect(texts.length).toBeGreaterThan(3);
    expect(texts.join("")).toBe("You said: one two three");
    expect(final.usage.output_tokens).toBe(5);
    const tools = await client().messages.create({
      model: QWEN, max_tokens: 64, tools: [{ name: "weather", description: "forecast", input_schema: { type: "object", properties: { city: { type: "string" } } } }],
      messages: [{ role: "user", content: 'CALL weather {"city":"Paris"}' }],
    });
    expect(tools.stop_reason).toBe("tool_use");
    const call = tools.content.find((b) => b.type === "tool_use")!;
    expect(call).toMatchObject({ name: "weather", input: { city: "Paris" } });
    const answered = await client().messages.create({
      model: QWEN, max_tokens: 64, tools: [{ name: "weather", input_schema: { type: "object" } }],
      messages: [{ role: "user", content: "weather?" }, { role: "assistant", content: tools.content }, { role: "user", content: [{ type: "tool_result", tool_use_id: call.type === "tool_use" ? call.id : "", content: "sunny" }] }],
    });
    expect(answered.content as unknown).toEqual([{ type: "text", text: "Tool said: sunny" }]);
    expect(await client().messages.countTokens({ model: QWEN, messages: [{ role: "user", content: "four words right here" }] })).toEqual({ input_tokens: 4 });
  });

  test("passed through to a server that serves /v1/messages: message, stream, token count", async () => {
    const message = await client().messages.create({ model: NATIVE, max_tokens: 64, messages: [{ role: "user", content: "straight" }] });
    expect(message.content as unknown).toEqual([{ type: "text", text: "Natively: straight" }]);
    const texts: string[] = [];
    const stream = client().messages.stream({ model: NATIVE, max_tokens: 64, messages: [{ role: "user", content: "x y" }] });
    stream.on("text", (text) => texts.push(text));
    await stream.finalMessage();
    expect(texts.join("")).toBe("Natively: x y");
    expect((await client().messages.countTokens({ model: NATIVE, messages: [{ role: "user", content: "a b c" }] })).input_tokens).toBe(3);
  });

  test("errors in Anthropic's shape: wrong key, unknown model", async () => {
    const wrong = await client("gk_abcdefghij_wrongwrongwrongwrongwrongwrongwrong").messages.create({ model: QWEN, max_tokens: 8, messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(wrong).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(wrong.error).toMatchObject({ type: "error", error: { type: "authentication_error" } });
    const missing = await client().messages.create({ model: "claude-nope", max_tokens: 8, messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect(missing.error.error).toEqual({ type: "not_found_error", message: "The model 'claude-nope' does not exist" });
  });
});

describe("Ollama client", () => {
  const client = () => new Ollama({ host: g.url, headers: { authorization: `Bearer ${key}` } });

  test("list, show, ps, version; chat streamed and whole; generate; embed", async () => {
    const names = (await client().list()).models.map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining([QWEN, "gpt-4o-mini", NATIVE]));
    expect(names).not.toContain("hidden");
    expect((await client().show({ model: NATIVE })).model_info).toMatchObject({ "gantry.instance": NATIVE });
    const parts: string[] = [];
    let last: { done: boolean; eval_count: number; prompt_eval_count: number } | undefined;
    for await (const part of await client().chat({ model: `${NATIVE}`, stream: true, messages: [{ role: "user", content: "stream me please" }] })) {
      parts.push(part.message.content);
      last = part;
    }
    expect(parts.join("")).toBe("You said: stream me please");
    expect(last).toMatchObject({ done: true, eval_count: 5, prompt_eval_count: 3 });
    const whole = await client().chat({ model: "gpt-4o-mini", messages: [{ role: "user", content: "whole" }] });
    expect(whole).toMatchObject({ model: "gpt-4o-mini", done: true, message: { role: "assistant", content: "You said: whole" } });
    expect((await client().generate({ model: QWEN, prompt: "gen" })).response).toBe("You said: gen");
    const tools = [{ type: "function", function: { name: "weather", description: "forecast", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
    for (const stream of [false, true] as const) {
      const ask = { model: QWEN, tools, messages: [{ role: "user", content: 'CALL weather {"city":"Paris"}' }] };
      const parts = stream ? await Array.fromAsync(await client().chat({ ...ask, stream: true })) : [await client().chat({ ...ask, stream: false })];
      expect(parts[0]!.message.tool_calls).toEqual([{ function: { name: "weather", arguments: { city: "Paris" } } }]);
    }
    expect((await client().embed({ model: QWEN, input: ["abc", "de"] })).embeddings.map((e) => e[0])).toEqual([3, 2]);
    expect((await client().ps()).models.map((m) => m.name)).toContain(QWEN);
    expect((await client().version()).version).toMatch(/^\d+\.\d+\.\d+$/);
    const missing = await client().chat({ model: "nope", messages: [] }).catch((e) => e);
    expect(missing).toMatchObject({ status_code: 404, error: "The model 'nope' does not exist" });
  });
});

describe("CORS", () => {
  test("a browser's preflight is answered before auth; allowed origins get headers on answers and errors; others get none", async () => {
    const preflight = await fetch(`${g.url}/v1/chat/completions`, {
      method: "OPTIONS", headers: { origin: "https://chat.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, x-stainless-os" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://chat.example");
    expect(preflight.headers.get("access-control-allow-methods")).toContain("POST");
    expect(preflight.headers.get("access-control-allow-headers")).toBe("authorization, content-type, x-stainless-os");
    const answer = await g.api("/v1/models", { auth: key, headers: { origin: "https://chat.example" } });
    expect(answer.headers.get("access-control-allow-origin")).toBe("https://chat.example");
    expect(answer.headers.get("access-control-expose-headers")).toContain("x-request-id");
    const refused = await fetch(`${g.url}/v1/models`, { headers: { origin: "https://chat.example" } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-allow-origin")).toBe("https://chat.example"); // so the page can read why
    const other = await fetch(`${g.url}/v1/chat/completions`, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("model names and aliases through the instances API", () => {
  test("ids with ':' and '/' are names; path tricks are refused; an id reaches one instance only", async () => {
    for (const name of ["../etc", "a//b", "trailing/", "/lead", "sp ace"]) {
      expect((await g.api("/api/v1/instances", json("POST", { name, backend: "command", model_path: "m", command: standIn() }))).status).toBe(400);
    }
    const detail = await (await g.api(`/api/v1/instances/${encodeURIComponent(QWEN)}`)).json();
    expect(detail).toMatchObject({ name: QWEN, aliases: ["gpt-4o-mini"], unlisted: false });
    const clash = await g.api("/api/v1/instances", json("POST", { name: "other", backend: "command", model_path: "m", command: standIn(), aliases: ["gpt-4o-mini"] }));
    expect(clash.status).toBe(409);
    expect((await clash.json()).code).toBe("MODEL_ID_TAKEN");
    expect((await g.api("/api/v1/instances", json("POST", { name: "gpt-4o-mini", backend: "command", model_path: "m", command: standIn() }))).status).toBe(409);
  });
});

describe("metrics per model", () => {
  const series = (text: string, name: string, labels: string) => Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);

  test("requests, tokens, time to first token and a stream's whole duration; usage asked for and taken out again", async () => {
    await create("metered", {}, ["--chunk-delay-ms", "100"]);
    await g.api("/api/v1/instances/metered/start", json("POST"));
    const chat = (extra: Record<string, unknown>) => g.api("/v1/chat/completions", { ...json("POST", { model: "metered", messages: [{ role: "user", content: "a b c" }], ...extra }), auth: key });
    const plain = await (await chat({ stream: true })).text();
    expect(plain).not.toContain('"usage"'); // gantry asked for usage; this client did not
    const asked = await (await chat({ stream: true, stream_options: { include_usage: true } })).text();
    expect(asked).toContain('"usage":{"prompt_tokens":3,"completion_tokens":5');
    expect((await (await chat({})).json()).usage.completion_tokens).toBe(5);
    const text = await (await g.api("/metrics")).text();
    const model = 'model="metered"';
    expect(series(text, "gantry_inference_requests_total", `${model},api="openai",status="200"`)).toBe(3);
    expect(series(text, "gantry_inference_tokens_total", `${model},kind="prompt"`)).toBe(9);
    expect(series(text, "gantry_inference_tokens_total", `${model},kind="completion"`)).toBe(15);
    expect(series(text, "gantry_inference_time_to_first_token_seconds_count", model)).toBe(2);
    expect(series(text, "gantry_inference_time_to_first_token_seconds_bucket", `le="0.25",${model}`)).toBe(2);
    // Two streams of 5 chunks 100 ms apart: measured to their end, not to their headers.
    expect(series(text, "gantry_inference_duration_seconds_sum", `${model},api="openai",status="200"`)).toBeGreaterThan(0.8);
    expect(series(text, "gantry_inference_in_flight", model)).toBe(0);
    expect(series(text, "gantry_instance_up", 'instance="metered"')).toBe(1);
    const lines = g.logs.records.filter((r) => r.msg === "inference" && r.model === "metered");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ api: "openai", status: 200, stream: true, prompt_tokens: 3, completion_tokens: 5 });
    expect(lines[0]!.ms as number).toBeGreaterThan(400);
    expect(g.logs.records.some((r) => r.msg === "instance started" && r.instance === "metered")).toBe(true);
    // A reload of the plugin keeps the counts (and the running server); a deleted instance leaves the up gauge.
    expect((await g.api("/api/v1/plugins/instances/reload", json("POST"))).status).toBe(200);
    await chat({});
    const reloaded = await (await g.api("/metrics")).text();
    expect(series(reloaded, "gantry_inference_requests_total", `${model},api="openai",status="200"`)).toBe(4);
    expect(series(reloaded, "gantry_inference_tokens_total", `${model},kind="completion"`)).toBe(20);
    expect(series(reloaded, "gantry_instance_up", 'instance="metered"')).toBe(1);
    await g.api("/api/v1/instances/metered/stop", json("POST", {}));
    expect((await g.api("/api/v1/instances/metered", { method: "DELETE" })).status).toBe(200);
    expect(await (await g.api("/metrics")).text()).not.toContain('gantry_instance_up{instance="metered"}');
  });
});

describe("the inference log line", () => {
  test("a secret in its request id is redacted; its other fields are as measured", async () => {
    const idSecret = "sk-proj-InFeReNcEsEcReT0123456789abcdXYZ";
    const request = json("POST", { model: QWEN, messages: [{ role: "user", content: "a b c" }] });
    const res = await g.api("/v1/chat/completions", { ...request, auth: key, headers: { ...request.headers, "x-request-id": idSecret } });
    expect(res.status).toBe(200);
    await res.text();
    const inferenceLine = () => g.logs.records.find((r) => r.msg === "inference" && r.reqId === "[redacted]");
    // The line is written when the request ends, just after its response.
    await waitFor(() => inferenceLine() !== undefined, 5000, "the inference log line");
    const line = inferenceLine();
    expect(line).toMatchObject({ model: QWEN, api: "openai", status: 200, stream: false, prompt_tokens: 3, completion_tokens: 5 });
    expect(line).not.toHaveProperty("outcome");
    expect(g.logs.text).not.toContain("InFeReNcEsEcReT");
  });
});

describe("llama-swap's helper routes", () => {
  test("/running, /upstream/{model}/... (role-checked), /unload", async () => {
    await g.api("/v1/chat/completions", { ...json("POST", { model: QWEN, messages: [{ role: "user", content: "wake" }] }), auth: key });
    const running = await (await g.api("/running", { auth: key })).json();
    expect(running.running).toContainEqual({ model: QWEN, state: "ready", ttl: 0 });
    const raw = await g.api(`/upstream/${QWEN}/v1/models`);
    expect((await raw.json()).data[0].id).toBe(QWEN);
    expect((await g.api(`/upstream/${encodeURIComponent(QWEN)}/health`)).status).toBe(200);
    expect((await g.api(`/upstream/${QWEN}/v1/models`, { auth: key })).status).toBe(403);
    expect((await g.api("/unload", { auth: key })).status).toBe(403);
    expect(await (await g.api("/unload")).text()).toBe("OK");
    expect((await (await g.api("/running", { auth: key })).json()).running).toEqual([]);
    expect(g.logs.records.some((r) => r.msg === "instance stopped" && r.instance === QWEN)).toBe(true);
  });
});
