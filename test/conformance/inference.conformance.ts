/**
 * gantry in front of the real llama-server, through the official openai, @anthropic-ai/sdk and ollama
 * clients: start (503 while loading shown as `loading`, then `running`), chat and completions streamed
 * and not, tokens counted from the server's usage, embeddings, llama.cpp's print_timing metrics, and
 * `parallel`/`max_queue` as llama-server's slots and gantry's queue.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import { ADMIN_KEY, json, waitFor, type TestGantry } from "../helpers.ts";
import { createLlama, metric, slowLoadingModel, startInstance, startLlamaGantry } from "./llama.ts";

let g: TestGantry;
let tinyPort = 0;
const openai = () => new OpenAI({ apiKey: ADMIN_KEY, baseURL: `${g.url}/v1`, maxRetries: 0 });
const CHAT = { model: "tiny", messages: [{ role: "user" as const, content: "hello llama" }], max_tokens: 12, temperature: 0 };

beforeAll(async () => {
  g = await startLlamaGantry();
  tinyPort = await createLlama(g, "tiny", { parallel: 2, max_queue: 0 });
  await createLlama(g, "embed", { options: { embeddings: true } });
  await startInstance(g, "tiny");
});
afterAll(() => g.stop());

/** A chat's streamed text and the usage chunk, if the server sent one. */
async function streamedChat(includeUsage: boolean) {
  const stream = await openai().chat.completions.create({ ...CHAT, stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}) });
  let text = "";
  let usage: OpenAI.CompletionUsage | undefined;
  const models = new Set<string>();
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    if (chunk.usage) usage = chunk.usage;
    models.add(chunk.model);
  }
  return { text, usage, models };
}

describe("llama-server behind gantry", () => {
  test("start: 503 while the model loads shows as loading (instance starting), then running and healthy", async () => {
    await createLlama(g, "slow", { model_path: await slowLoadingModel() });
    const start = g.api("/api/v1/instances/slow/start", json("POST"));
    let seen: { status: string; checks: { response: string; port: string } } | undefined;
    await waitFor(async () => {
      seen = await (await g.api("/api/v1/instances/slow/health")).json();
      return seen?.status === "loading";
    }, 30_000, "the health report to show loading");
    expect(seen!.checks).toMatchObject({ port: "open", response: "loading" });
    expect((await (await g.api("/api/v1/instances/slow")).json()).status).toBe("starting");
    const started = await start;
    expect(started.status).toBe(200);
    expect(await started.json()).toMatchObject({ status: "running" });
    expect(await (await g.api("/api/v1/instances/slow/health")).json()).toMatchObject({ status: "healthy", checks: { response: "ok" }, instance_status: "running" });
    // The server's output is read in batches: its "model loaded" line may land just after the health check.
    await waitFor(async () => {
      const logs = (await (await g.api("/api/v1/instances/slow/logs?lines=200")).json()).logs as { message: string; level: string }[];
      return logs.some((l) => l.message.includes("srv  llama_server: model loaded") && l.level === "info");
    }, 30_000, "llama-server's 'model loaded' line in the instance's logs at level info");
    await g.api("/api/v1/instances/slow/stop", json("POST", {}));
    expect((await g.api("/api/v1/instances/slow", { method: "DELETE" })).status).toBe(200);
  });

  test("openai chat: the same text at temperature 0 streamed with include_usage and not streamed; tokens counted from the server's usage", async () => {
    const before = { prompt: await metric(g, "gantry_inference_tokens_total", { model: "tiny", kind: "prompt" }), completion: await metric(g, "gantry_inference_tokens_total", { model: "tiny", kind: "completion" }) };
    const whole = await openai().chat.completions.create(CHAT);
    const text = whole.choices[0]!.message.content!;
    expect(text.length).toBeGreaterThan(0);
    expect(whole.usage!.completion_tokens).toBeGreaterThan(0);
    expect(whole.usage!.prompt_tokens).toBeGreaterThan(0);
    const streamed = await streamedChat(true);
    expect(streamed.text).toBe(text);
    expect(streamed.usage).toMatchObject({ prompt_tokens: whole.usage!.prompt_tokens, completion_tokens: whole.usage!.completion_tokens });
    const want = { prompt: before.prompt + 2 * whole.usage!.prompt_tokens, completion: before.completion + 2 * whole.usage!.completion_tokens };
    await waitFor(async () => (await metric(g, "gantry_inference_tokens_total", { model: "tiny", kind: "completion" })) === want.completion, 10_000, "completion tokens counted");
    expect(await metric(g, "gantry_inference_tokens_total", { model: "tiny", kind: "prompt" })).toBe(want.prompt);
  });

  test("openai chat streamed without include_usage (the client's default) ends with its text, and gantry still counts its tokens", async () => {
    const whole = await openai().chat.completions.create(CHAT);
    const before = await metric(g, "gantry_inference_tokens_total", { model: "tiny", kind: "completion" });
    const streamed = await streamedChat(false);
    expect(streamed.text).toBe(whole.choices[0]!.message.content!);
    expect(streamed.usage).toBeUndefined(); // not asked for, not sent
    await waitFor(async () => (await metric(g, "gantry_inference_tokens_total", { model: "tiny", kind: "completion" })) === before + whole.usage!.completion_tokens, 10_000, "tokens of the stream counted");
  });

  test("openai completions, streamed and not, agree", async () => {
    const body = { model: "tiny", prompt: "the water", max_tokens: 10, temperature: 0 };
    const whole = await openai().completions.create(body);
    let text = "";
    for await (const chunk of await openai().completions.create({ ...body, stream: true, stream_options: { include_usage: true } })) text += chunk.choices[0]?.text ?? "";
    expect(text).toBe(whole.choices[0]!.text);
    expect(whole.usage!.completion_tokens).toBeGreaterThan(0);
  });

  test("responses name the model the client asked for, not the server's GGUF path", async () => {
    const whole = await openai().chat.completions.create(CHAT);
    expect(whole.model).toBe("tiny");
    expect([...(await streamedChat(true)).models]).toEqual(["tiny"]);
  });

  test("anthropic messages (llama-server's own /v1/messages), streamed and not", async () => {
    const claude = new Anthropic({ apiKey: ADMIN_KEY, baseURL: g.url, maxRetries: 0 });
    // temperature 0 (llama.cpp reads it; this SDK version's types leave it out) makes both answers the same.
    const params = { model: "tiny", max_tokens: 10, temperature: 0, messages: [{ role: "user" as const, content: "hello llama" }] };
    const message = await claude.messages.create(params);
    const text = message.content.map((b) => (b.type === "text" ? b.text : "")).join("");
    expect(text.length).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    let streamed = "";
    const stream = claude.messages.stream(params);
    stream.on("text", (delta) => (streamed += delta));
    const final = await stream.finalMessage();
    expect(streamed).toBe(text);
    expect(final.stop_reason).toBe(message.stop_reason);
  });

  test("ollama chat and generate, streamed and not", async () => {
    const ollama = new Ollama({ host: g.url, headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const chat = await ollama.chat({ model: "tiny", messages: [{ role: "user", content: "hello llama" }], options: { temperature: 0, num_predict: 10 } });
    expect(chat.message.content.length).toBeGreaterThan(0);
    expect(chat.eval_count).toBeGreaterThan(0);
    let streamed = "";
    let done = false;
    for await (const part of await ollama.chat({ model: "tiny", messages: [{ role: "user", content: "hello llama" }], options: { temperature: 0, num_predict: 10 }, stream: true })) {
      streamed += part.message.content;
      done ||= part.done;
    }
    expect(done).toBe(true);
    expect(streamed).toBe(chat.message.content);
    const generated = await ollama.generate({ model: "tiny", prompt: "the water", options: { temperature: 0, num_predict: 6 } });
    expect(generated.response!.length).toBeGreaterThan(0);
  });

  test("an instance marked for embeddings runs llama-server with --embeddings --pooling mean: OpenAI and Ollama vectors", async () => {
    const instance = await startInstance(g, "embed");
    const argv = (await Bun.file(`/proc/${instance.pid}/cmdline`).text()).split("\0");
    expect(argv).toEqual(expect.arrayContaining(["--embeddings", "--pooling", "mean"]));
    const answer = await openai().embeddings.create({ model: "embed", input: ["hello world", "water"] });
    expect(answer.data.map((d) => d.embedding.length)).toEqual([64, 64]);
    expect(answer.data[0]!.embedding).not.toEqual(answer.data[1]!.embedding);
    const ollama = new Ollama({ host: g.url, headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const embedded = await ollama.embed({ model: "embed", input: "hello world" });
    expect(embedded.embeddings[0]!.length).toBe(64);
    expect(embedded.embeddings[0]![0]).toBeCloseTo(answer.data[0]!.embedding[0]!, 5);
  });

  test("llama.cpp's print_timing lines become per-model prompt/eval time, TTFT and tokens/s metrics", async () => {
    const before = await metric(g, "gantry_model_server_eval_seconds_count", { model: "tiny" });
    await openai().chat.completions.create(CHAT);
    await waitFor(async () => (await metric(g, "gantry_model_server_eval_seconds_count", { model: "tiny" })) > before, 10_000, "the timing lines read");
    expect(await metric(g, "gantry_model_server_prompt_seconds_count", { model: "tiny" })).toBeGreaterThan(before);
    expect(await metric(g, "gantry_model_server_ttft_seconds_count", { model: "tiny" })).toBeGreaterThan(before);
    expect(await metric(g, "gantry_model_server_tokens_per_second", { model: "tiny", phase: "eval" })).toBeGreaterThan(0);
    expect(await metric(g, "gantry_model_server_tokens_per_second", { model: "tiny", phase: "prompt" })).toBeGreaterThan(0);
    expect(await metric(g, "gantry_model_server_eval_seconds_sum", { model: "tiny" })).toBeGreaterThan(0);
  });

  test("parallel is llama-server's slots (-np), each with its share of the context; max_queue refuses past the queue with 503", async () => {
    const slots = await (await fetch(`http://127.0.0.1:${tinyPort}/slots`)).json();
    expect(slots).toHaveLength(2);
    expect(slots.map((s: { n_ctx: number }) => s.n_ctx)).toEqual([256, 256]);
    await createLlama(g, "narrow", { parallel: 1, max_queue: 1 });
    const narrow = await startInstance(g, "narrow");
    expect(await (await fetch(`http://127.0.0.1:${narrow.port}/slots`)).json()).toHaveLength(1);
    // Ten at once on one slot and a queue of one: two are served, the rest refused at once (no 500).
    const answers = await Promise.all(Array.from({ length: 10 }, () => g.api("/v1/chat/completions", json("POST", { ...CHAT, model: "narrow", max_tokens: 200 }))));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    const refused = answers.find((r) => r.status === 503)!;
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    expect((await refused.json()).error).toMatchObject({ code: "queue_full", type: "server_error" });
    await Promise.all(answers.filter((r) => !r.bodyUsed).map((r) => r.arrayBuffer()));
  });
});
