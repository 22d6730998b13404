/**
 * Connections to model servers as real servers treat them: a kept-alive connection the server has
 * dropped while idle (llama-server does after a few seconds) must not turn a client's request into
 * a 502; gantry sends it again on a fresh connection.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { BUILTIN_PLUGINS, FIXTURES, freePort, json, startGantry, type TestGantry } from "../helpers.ts";

let g: TestGantry;
let port: number;

beforeAll(async () => {
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: { plugins: { disabled: readdirSync(BUILTIN_PLUGINS).filter((name) => name !== "instances" && name !== "infra") }, rate_limit: { enabled: false } },
  });
  port = await freePort();
  const created = await g.api("/api/v1/instances", json("POST", {
    name: "stale", backend: "command", model_path: "stale", port, health_path: "/health",
    command: [process.execPath, join(FIXTURES, "model-server", "stale-keep-alive.ts"), "--port", "{port}"],
  }));
  expect(created.status).toBe(201);
  expect((await g.api("/api/v1/instances/stale/start", { method: "POST" })).status).toBeLessThan(300);
});
afterAll(() => g.stop());

test("a pooled connection the model server reset is retried on a fresh one: every request answers 200", async () => {
  const key = (await g.gantry.security.keys.create("stale-client", "inference")).key;
  const client = new OpenAI({ apiKey: key, baseURL: `${g.url}/v1`, maxRetries: 0 });
  for (let i = 0; i < 6; i++) {
    const answer = await client.chat.completions.create({ model: "stale", messages: [{ role: "user", content: `hello ${i}` }] });
    expect(answer.choices[0]!.message.content).toBe("fresh");
    expect(answer.model).toBe("stale");
  }
  // The server really reset reused connections (else this test shows nothing).
  const stats = await (await fetch(`http://127.0.0.1:${port}/stats`, { keepalive: false })).json() as { answered: number; resets: number };
  expect(stats.answered).toBe(6);
  expect(stats.resets).toBeGreaterThan(0);
});

test("a whole Ollama answer charges its tokens: they reach the metrics (the end of a request counts what usage says)", async () => {
  const tokens = async () => {
    const text = await (await g.api("/metrics")).text();
    return Number(/^gantry_inference_tokens_total\{model="stale",kind="completion"\} (\d+)/m.exec(text)?.[1] ?? 0);
  };
  const before = await tokens();
  const res = await g.api("/api/chat", json("POST", { model: "stale", messages: [{ role: "user", content: "hi" }], stream: false }));
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ model: "stale", message: { content: "fresh" }, eval_count: 1 });
  expect(await tokens()).toBe(before + 1);
});
