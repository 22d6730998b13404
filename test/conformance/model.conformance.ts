/**
 * The model written by the TypeScript GGUF writer, loaded by the real llama-server directly: it
 * becomes healthy, completes text deterministically at temperature 0, and shows the embeddings
 * behaviour gantry's llama_cpp backend relies on (no vectors without `--pooling mean`).
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { freePort, waitFor } from "../helpers.ts";
import { LLAMA_SERVER, TINY_MODEL } from "./llama.ts";

let server: Subprocess | undefined;
afterEach(async () => {
  server?.kill("SIGKILL");
  await server?.exited;
  server = undefined;
});

/** Runs llama-server on the tiny model with `flags`; resolves with its base URL once /health answers 200. */
async function llamaServer(...flags: string[]): Promise<string> {
  const port = await freePort();
  server = Bun.spawn([LLAMA_SERVER, "-m", TINY_MODEL, "--host", "127.0.0.1", "--port", String(port), "-c", "512", "-t", "1", ...flags], { stdout: "ignore", stderr: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/health`).catch(() => undefined))?.status === 200, 30_000, "llama-server healthy");
  return url;
}

const post = (url: string, body: unknown) => fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("the tiny GGUF written in TypeScript", () => {
  test("llama-server loads it, reports its shape and completes text, the same twice at temperature 0", async () => {
    const url = await llamaServer();
    expect(await (await fetch(`${url}/health`)).json()).toEqual({ status: "ok" });
    const props = await (await fetch(`${url}/props`)).json();
    expect(props.default_generation_settings.n_ctx).toBe(512);
    expect(props.chat_template).toContain("<|im_start|>");
    const complete = async () => (await (await post(`${url}/v1/completions`, { prompt: "hello world", max_tokens: 8, temperature: 0 })).json()).choices[0].text as string;
    const first = await complete();
    expect(first).toMatch(/^[\x20-\x7e]+$/);
    expect(first.trim().length).toBeGreaterThan(0);
    expect(await complete()).toBe(first);
    // chatml: the chat template wraps the messages, so the prompt is longer than the words in it.
    const chat = await (await post(`${url}/v1/chat/completions`, { messages: [{ role: "user", content: "hello" }], max_tokens: 4, temperature: 0 })).json();
    expect(chat.usage.prompt_tokens).toBeGreaterThan(5);
    expect(chat.choices[0].message.content.length).toBeGreaterThan(0);
    const tokens = (await (await post(`${url}/tokenize`, { content: "hello llama server" })).json()).tokens;
    expect(tokens.length).toBe(3); // three whole-word pieces of the SPM vocab
  });

  test("embeddings: 501 without --embeddings, 400 with it alone, 64-dim vectors with --pooling mean", async () => {
    const plain = await llamaServer();
    expect((await post(`${plain}/v1/embeddings`, { input: "hello" })).status).toBe(501);
    server!.kill("SIGKILL");
    const noPooling = await llamaServer("--embeddings");
    const refused = await post(`${noPooling}/v1/embeddings`, { input: "hello" });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(await refused.json())).toContain("Pooling type 'none' is not OAI compatible");
    server!.kill("SIGKILL");
    const pooled = await llamaServer("--embeddings", "--pooling", "mean");
    const answer = await (await post(`${pooled}/v1/embeddings`, { input: ["hello", "world"] })).json();
    expect(answer.data.map((d: { embedding: number[] }) => d.embedding.length)).toEqual([64, 64]);
  });
});
