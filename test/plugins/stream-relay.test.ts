/**
 * The stream relay as clients see it: the official openai, @anthropic-ai/sdk and ollama clients
 * against a real gantry and the wire-habits model server, through every server's framing, random
 * write boundaries, broken and unfinished streams, JSON answers to stream requests, and the
 * model's name in every answer; compared with a direct connection or the answer the server writes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import fc from "fast-check";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { BUILTIN_PLUGINS, FIXTURES, freePort, json, startGantry, waitFor, type TestGantry } from "../helpers.ts";
import { KEEP, relayEvents, type StreamHandler } from "../../plugins/instances/relay.ts";

const WIRE_SERVER = join(FIXTURES, "model-server", "wire-habits.ts");
/** What the server calls its model, as llama-server answers with its GGUF path. */
const SERVER_NAME = "/models/tiny-llama.gguf";
const HABITS = ["llama.cpp", "vllm", "ollama", "tgi", "llama-cpp-python"] as const;

let g: TestGantry;
let key: string;
let direct: string;
let nativeDirect: string;

beforeAll(async () => {
  g = await startGantry({ builtins: BUILTIN_PLUGINS, config: { rate_limit: { enabled: false }, plugin: { instances: { start_timeout_s: 10, stop_timeout_s: 2 } } } });
  key = (await g.gantry.security.keys.create("clients", "inference")).key;
  const port = await freePort();
  direct = `http://127.0.0.1:${port}/v1`;
  const res = await g.api("/api/v1/instances", json("POST", {
    name: "wire", aliases: ["wire-alias"], backend: "command", model_path: "wire", port, on_demand_start: true,
    command: [process.execPath, WIRE_SERVER, "--port", "{port}", "--model", SERVER_NAME],
  }));
  if (res.status !== 201) throw new Error(`${res.status} ${await res.text()}`);
  expect((await g.api("/api/v1/instances/wire/start", { method: "POST" })).status).toBeLessThan(300);
  // The same server for Anthropic's API passed through (as llama.cpp and vLLM serve /v1/messages).
  const nativePort = await freePort();
  nativeDirect = `http://127.0.0.1:${nativePort}`;
  const native = await g.api("/api/v1/instances", json("POST", {
    name: "wire-native", backend: "command", model_path: "wire-native", port: nativePort, on_demand_start: true, options: { anthropic_api: "native" },
    command: [process.execPath, WIRE_SERVER, "--port", "{port}", "--model", SERVER_NAME],
  }));
  if (native.status !== 201) throw new Error(`${native.status} ${await native.text()}`);
});
afterAll(() => g.stop());

const openAi = (baseURL = `${g.url}/v1`) => new OpenAI({ apiKey: key, baseURL, maxRetries: 0 });
const anthropic = () => new Anthropic({ apiKey: key, baseURL: g.url, maxRetries: 0 });
const ollama = () => new Ollama({ host: g.url, headers: { authorization: `Bearer ${key}` } });
const wire = (script: Record<string, unknown>, words: string) => `WIRE ${JSON.stringify(script)}\n${words}`;
/** What the server answers: "You said: " and the words, one chunk per word. */
const said = (words: string) => `You said: ${words}`;
const chunksOf = (words: string) => said(words).split(/(?<= )/).length;

/** A chat stream read with the openai client: text, usage, the models named, whether a usage-only chunk came. */
async function openAiChat(baseURL: string, model: string, content: string, includeUsage: boolean) {
  const stream = await openAi(baseURL).chat.completions.create({ model, messages: [{ role: "user", content }], stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}) });
  let text = "";
  let usage: unknown = null;
  let usageChunks = 0;
  const models = new Set<string>();
  for await (const chunk of stream) {
    models.add(chunk.model);
    text += chunk.choices[0]?.delta?.content ?? "";
    if (chunk.choices.length === 0) usageChunks++;
    if (chunk.usage) usage = chunk.usage;
  }
  return { text, usage: includeUsage ? usage : null, usageChunks, models };
}

/** A completions stream read with the openai client. */
async function openAiCompletion(baseURL: string, model: string, prompt: string, includeUsage: boolean) {
  const stream = await openAi(baseURL).completions.create({ model, prompt, stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}) });
  let text = "";
  let usage: unknown = null;
  const models = new Set<string>();
  for await (const chunk of stream) {
    models.add(chunk.model);
    text += chunk.choices[0]?.text ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  return { text, usage: includeUsage ? usage : null, models };
}

describe("reproductions", () => {
  test("a plain stream (no stream_options) from a server writing its usage chunk on its own ends with [DONE]", async () => {
    // vLLM's habit: one write per event, 5 ms apart; gantry asks for usage and must take that chunk out without stalling.
    const res = await fetch(`${g.url}/v1/chat/completions`, { ...json("POST", { model: "wire", stream: true, messages: [{ role: "user", content: wire({ habit: "vllm" }, "one two three") }] }), headers: { authorization: `Bearer ${key}`, "content-type": "application/json" } });
    const body = await res.text(); // the test's timeout catches a stream that never ends
    expect(body.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(body).not.toContain('"choices":[]');
    expect(body).toContain('"content":"three"');
    const viaClient = await openAiChat(`${g.url}/v1`, "wire", wire({ habit: "llama.cpp", gapMs: 5 }, "a b"), false);
    expect(viaClient).toMatchObject({ text: said("a b"), usageChunks: 0 });
  }, 20_000);

  test("a JSON answer to a stream request through /v1/messages is a stream of the message, not an empty one", async () => {
    const stream = anthropic().messages.stream({ model: "wire", max_tokens: 50, messages: [{ role: "user", content: wire({ end: "json" }, "json please") }] });
    const message = await stream.finalMessage();
    expect(message.content).toEqual([{ type: "text", text: said("json please"), citations: null } as never].map((b) => expect.objectContaining({ type: "text", text: (b as { text: string }).text })));
    expect(message).toMatchObject({ stop_reason: "end_turn", model: "wire", usage: { output_tokens: chunksOf("json please") } });
    // The OpenAI and Ollama routes too: the whole answer arrives as their stream.
    expect(await openAiChat(`${g.url}/v1`, "wire", wire({ end: "json" }, "x y"), true)).toMatchObject({ text: said("x y"), usage: { completion_tokens: chunksOf("x y") } });
    let text = "";
    for await (const part of await ollama().chat({ model: "wire", stream: true, messages: [{ role: "user", content: wire({ end: "json" }, "z") }] })) text += part.message.content;
    expect(text).toBe(said("z"));
  }, 20_000);

  test("answers name the model the client asked for (alias or name), streamed or not, in every family", async () => {
    const chat = await openAi().chat.completions.create({ model: "wire-alias", messages: [{ role: "user", content: "hi" }] });
    expect(chat.model).toBe("wire-alias");
    expect((await openAi().completions.create({ model: "wire", prompt: "hi" })).model).toBe("wire");
    expect([...(await openAiChat(`${g.url}/v1`, "wire-alias", wire({ habit: "llama.cpp" }, "hi"), true)).models]).toEqual(["wire-alias"]);
    expect([...(await openAiCompletion(`${g.url}/v1`, "wire-alias", "hi", false)).models]).toEqual(["wire-alias"]);
    const inference = await (await g.api("/api/v1/inference/wire-alias", json("POST", { messages: [{ role: "user", content: "hi" }] }))).json();
    expect(inference.model).toBe("wire-alias");
    expect((await anthropic().messages.create({ model: "wire-alias", max_tokens: 9, messages: [{ role: "user", content: "hi" }] })).model).toBe("wire-alias");
    expect((await ollama().chat({ model: "wire-alias", messages: [{ role: "user", content: "hi" }] })).model).toBe("wire-alias");
    // Directly, the server names its model file.
    expect((await openAi(direct).chat.completions.create({ model: "wire", messages: [{ role: "user", content: "hi" }] })).model).toBe(SERVER_NAME);
  }, 20_000);
});

describe("broken and unfinished streams end with the family's error", () => {
  const endings = [{ end: "reset", after: 2 }, { end: "eof", after: 1 }, { end: "error", after: 2 }] as const;
  for (const ending of endings) {
    test(`${ending.end}: openai, @anthropic-ai/sdk and ollama clients raise it`, async () => {
      for (const habit of HABITS) {
        const content = wire({ habit, ...ending }, "never finished here");
        const openAiError = await openAiChat(`${g.url}/v1`, "wire", content, false).catch((e) => e);
        expect([habit, openAiError]).toEqual([habit, expect.any(OpenAI.APIError)]);
        expect(String(openAiError.message)).not.toMatch(/127\.0\.0\.1|ECONN/); // the connection's own error names internal addresses
        const anthropicError = await anthropic().messages.stream({ model: "wire", max_tokens: 9, messages: [{ role: "user", content }] }).finalMessage().catch((e) => e);
        expect([habit, anthropicError]).toEqual([habit, expect.any(Anthropic.APIError)]);
        const ollamaError = await (async () => {
          for await (const part of await ollama().chat({ model: "wire", stream: true, messages: [{ role: "user", content }] })) void part;
        })().catch((e) => e);
        expect([habit, ollamaError]).toEqual([habit, expect.any(Error)]);
      }
      // Nothing was left half-counted: every request ends (none stays in flight).
      await waitFor(async () => /gantry_inference_in_flight\{model="wire"\} 0/.test(await (await g.api("/metrics")).text()), 10_000, "no request in flight");
    }, 30_000);
  }
});

test("a client that leaves mid-stream cancels the model server's request, in every family", async () => {
  const aborted = async () => ((await (await g.api("/api/v1/instances/wire/logs?lines=1000")).json()).logs as { message: string }[]).filter((l) => l.message.includes("stream aborted by client")).length;
  const long = wire({ gapMs: 20 }, Array.from({ length: 200 }, (_, i) => `w${i}`).join(" "));
  const routes: [string, Record<string, unknown>][] = [
    ["/v1/chat/completions", { model: "wire", stream: true, messages: [{ role: "user", content: long }] }],
    ["/v1/messages", { model: "wire", stream: true, max_tokens: 999, messages: [{ role: "user", content: long }] }],
    ["/api/chat", { model: "wire", messages: [{ role: "user", content: long }] }],
  ];
  for (const [path, body] of routes) {
    const before = await aborted();
    const controller = new AbortController();
    const res = await fetch(g.url + path, { ...json("POST", body), headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read(); // the stream is under way
    controller.abort();
    await waitFor(async () => (await aborted()) > before, 10_000, `the server to see the client of ${path} leave`);
  }
}, 40_000);

test("llama-swap's /upstream relays a server's stream byte for byte, at random write boundaries", async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 1500 }), { maxLength: 20 }), fc.constantFrom("\n", "\r\n", "\r"), fc.boolean(), async (splits, lineEnd, keepAlive) => {
    // TGI's habit: an empty id and a fixed time, so two answers to one request are the same bytes.
    const body = { model: "wire", stream: true, messages: [{ role: "user", content: wire({ habit: "tgi", splits, lineEnd, keepAlive, gapMs: 0 }, "raw bytes") }] };
    const via = await (await g.api("/upstream/wire/v1/chat/completions", json("POST", body))).text();
    const straight = await (await fetch(`${direct}/chat/completions`, json("POST", body))).text();
    expect(via).toBe(straight);
  }), { numRuns: 20 });
}, 30_000);

/** Random write boundaries, framings and habits; the relay must deliver what a direct connection does. */
const script = fc.record({
  habit: fc.constantFrom(...HABITS),
  lineEnd: fc.option(fc.constantFrom("\n", "\r\n", "\r"), { nil: undefined }),
  splits: fc.option(fc.array(fc.integer({ min: 1, max: 2500 }), { maxLength: 30 }), { nil: undefined }),
  gapMs: fc.constantFrom(0, 1, 5),
  end: fc.constantFrom("done", "done", "no-done"),
  keepAlive: fc.boolean(),
  multiline: fc.boolean(),
  longChunk: fc.option(fc.integer({ min: 1000, max: 70_000 }), { nil: undefined, freq: 8 }),
});
const words = fc.array(fc.constantFrom("alpha", "béta", "日本語", "emoji🙂", "x", "quote\"d", "back\\slash", "line\nbreak"), { minLength: 1, maxLength: 8 }).map((w) => w.join(" "));
const RUNS = 12;

describe("properties: every family through every framing and random chunk boundaries", () => {
  test("OpenAI chat and completions: same text and usage as a direct connection, no usage chunk unasked, the client's model named", async () => {
    await fc.assert(fc.asyncProperty(script, words, fc.boolean(), fc.boolean(), async (s, w, includeUsage, chat) => {
      const content = wire(s, w);
      const read = chat ? openAiChat : openAiCompletion;
      const [via, straight] = [await read(`${g.url}/v1`, "wire-alias", content, includeUsage), await read(direct, "wire", content, includeUsage)];
      expect(via.text).toBe(straight.text);
      expect(via.usage).toEqual(straight.usage);
      expect([...via.models]).toEqual(["wire-alias"]);
      if (chat && !includeUsage) expect("usageChunks" in via && via.usageChunks).toBe(0);
    }), { numRuns: RUNS });
  }, 60_000);

  test("Anthropic translation: the server's text, stop reason and usage through @anthropic-ai/sdk", async () => {
    await fc.assert(fc.asyncProperty(script, words, async (s, w) => {
      const message = await anthropic().messages.stream({ model: "wire-alias", max_tokens: 99, messages: [{ role: "user", content: wire(s, w) }] }).finalMessage();
      const text = message.content.map((b) => (b.type === "text" ? b.text : "")).join("");
      const extra = s.longChunk ? 1 : 0;
      expect(text.startsWith(said(w))).toBe(true);
      expect(message).toMatchObject({ model: "wire-alias", stop_reason: "end_turn", usage: { output_tokens: chunksOf(w) + extra } });
    }), { numRuns: RUNS });
  }, 60_000);

  test("Anthropic passed through: same text, stop reason and usage as a direct connection, the client's model named", async () => {
    const read = async (baseURL: string, model: string, content: string, stream = true) => {
      const client = new Anthropic({ apiKey: key, baseURL, maxRetries: 0 });
      const body = { model, max_tokens: 99, messages: [{ role: "user" as const, content }] };
      const message = stream ? await client.messages.stream(body).finalMessage() : await client.messages.create(body);
      return { text: message.content.map((b) => (b.type === "text" ? b.text : "")).join(""), stop: message.stop_reason, usage: message.usage.output_tokens, model: message.model };
    };
    await fc.assert(fc.asyncProperty(script, words, fc.constantFrom("done", "json"), async (s, w, end) => {
      const content = wire({ ...s, end }, w);
      // A JSON answer to a stream request, directly, is no stream at all (the SDK fails): compared with the server's whole answer.
      const [via, straight] = [await read(g.url, "wire-native", content), await read(nativeDirect, "wire-native", content, end !== "json")];
      expect({ ...via, model: straight.model }).toEqual(straight);
      expect([via.model, straight.model]).toEqual(["wire-native", SERVER_NAME]);
    }), { numRuns: RUNS });
    const broken = await anthropic().messages.stream({ model: "wire-native", max_tokens: 9, messages: [{ role: "user", content: wire({ end: "reset", after: 1, splits: [40, 300] }, "cut short") }] }).finalMessage().catch((e) => e);
    expect(broken).toBeInstanceOf(Anthropic.APIError);
  }, 60_000);

  test("Ollama translation: the server's text and counts through the ollama client", async () => {
    await fc.assert(fc.asyncProperty(script, words, async (s, w) => {
      let text = "";
      let last: { done: boolean; eval_count?: number; model: string } | undefined;
      for await (const part of await ollama().chat({ model: "wire-alias", stream: true, messages: [{ role: "user", content: wire(s, w) }] })) {
        text += part.message.content;
        last = part;
      }
      expect(text.startsWith(said(w))).toBe(true);
      expect(last).toMatchObject({ done: true, model: "wire-alias", eval_count: chunksOf(w) + (s.longChunk ? 1 : 0) });
    }), { numRuns: RUNS });
  }, 60_000);
});

describe("properties: broken streams at random boundaries", () => {
  const broken = fc.record({
    habit: fc.constantFrom(...HABITS),
    lineEnd: fc.option(fc.constantFrom("\n", "\r\n", "\r"), { nil: undefined }),
    splits: fc.array(fc.integer({ min: 1, max: 1500 }), { maxLength: 20 }),
    gapMs: fc.constantFrom(0, 1),
    end: fc.constantFrom("reset", "eof", "error"),
    after: fc.integer({ min: 0, max: 2 }), // at least 3 chunks come ("You ", "said: ", a word): the answer never finished
    keepAlive: fc.boolean(),
  });
  test("every client raises the family's error, never a parse error or a silent end", async () => {
    await fc.assert(fc.asyncProperty(broken, words, async (s, w) => {
      const content = wire(s, w);
      expect(await openAiChat(`${g.url}/v1`, "wire", content, false).catch((e) => e)).toBeInstanceOf(OpenAI.APIError);
      for (const model of ["wire", "wire-native"]) {
        expect(await anthropic().messages.stream({ model, max_tokens: 9, messages: [{ role: "user", content }] }).finalMessage().catch((e) => e)).toBeInstanceOf(Anthropic.APIError);
      }
      const ollamaError = await (async () => {
        for await (const part of await ollama().chat({ model: "wire", stream: true, messages: [{ role: "user", content }] })) void part;
      })().catch((e) => e);
      expect(ollamaError).toBeInstanceOf(Error);
      expect(ollamaError).not.toBeInstanceOf(SyntaxError);
    }), { numRuns: RUNS });
  }, 60_000);
});

describe("the relay itself", () => {
  /** Events as a spec parser reads them. */
  const parse = (text: string) => {
    const events: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (e) => void events.push(e) });
    parser.feed(`${text}\n`); // a last lone CR ends its line (a parser waits to see whether an LF follows)
    return events.map((e) => ({ event: e.event, data: e.data }));
  };
  const streamOf = (bytes: Uint8Array, cuts: number[]) => new ReadableStream<Uint8Array>({
    start(controller) {
      const at = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
      [0, ...at].forEach((start, i) => controller.enqueue(bytes.slice(start, at[i] ?? bytes.length)));
      controller.close();
    },
  });
  const event = fc.record({ event: fc.option(fc.constantFrom("message_start", "delta"), { nil: undefined }), data: fc.array(fc.string({ unit: "grapheme", minLength: 1 }).filter((s) => !/[\r\n]/.test(s)), { minLength: 1, maxLength: 3 }) });
  const framing = fc.constantFrom("\n", "\r\n", "\r");

  test("events kept pass as the same bytes, at any split; changed events are re-encoded so a spec parser reads what the handler meant", async () => {
    await fc.assert(fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 6 }), framing, fc.array(fc.nat(400)), fc.boolean(), async (events, eol, cuts, comment) => {
      const text = events.map((e) => `${comment ? `: ping${eol}` : ""}${e.event ? `event: ${e.event}${eol}` : ""}${e.data.map((d) => `data: ${d}`).join(eol)}${eol}${eol}`).join("");
      const bytes = new TextEncoder().encode(text);
      const keepAll: StreamHandler = { passThrough: true, event: () => KEEP, end: () => null };
      const same = new Uint8Array(await new Response(relayEvents(streamOf(bytes, cuts), keepAll, () => {})).arrayBuffer());
      expect(same).toEqual(bytes);
      const upper: StreamHandler = { passThrough: true, event: (e) => (e.data.length % 2 === 0 ? KEEP : new TextEncoder().encode(`data: ${e.data.toUpperCase().replaceAll("\n", "\ndata: ")}\n\n`)), end: () => null };
      const changed = await new Response(relayEvents(streamOf(bytes, cuts), upper, () => {})).text();
      expect(parse(changed).map((e) => e.data)).toEqual(parse(text).map((e) => (e.data.length % 2 === 0 ? e.data : e.data.toUpperCase())));
    }), { numRuns: 300 });
  });
});
