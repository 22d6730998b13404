/**
 * Feature plugins on the real llama-server: a deployment shadowing one llama-server instance with
 * another (similarity from real embeddings), an evaluation of a dataset, and a knowledge collection
 * embedded by a llama-server instance marked for embeddings.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { ADMIN_KEY, json, waitFor, type TestGantry } from "../helpers.ts";
import { createLlama, startLlamaGantry } from "./llama.ts";

let g: TestGantry;

beforeAll(async () => {
  g = await startLlamaGantry({
    deployments: { check_interval_s: 1, similarity_embeddings_model: "embed" },
    knowledge: { embedding_model: "embed" },
    evaluations: { concurrency: 2 },
  });
  await createLlama(g, "champion", { on_demand_start: true });
  await createLlama(g, "challenger", { on_demand_start: true });
  await createLlama(g, "embed", { on_demand_start: true, options: { embeddings: true } });
});
afterAll(() => g.stop());

describe("plugins on llama-server", () => {
  test("a deployment shadows one llama-server instance with another: each live request is mirrored and compared (exact and by embeddings)", async () => {
    const started = await g.api("/api/v1/deployments/shadow-start", json("POST", { model: "champion", challenger: "challenger", sample_rate: 1 }));
    expect(started.status).toBe(201);
    const openai = new OpenAI({ apiKey: ADMIN_KEY, baseURL: `${g.url}/v1`, maxRetries: 0 });
    const direct = await openai.chat.completions.create({ model: "champion", messages: [{ role: "user", content: "hello there" }], max_tokens: 8, temperature: 0 });
    expect(direct.choices[0]!.message.content!.length).toBeGreaterThan(0);
    for (let i = 0; i < 2; i++) await openai.chat.completions.create({ model: "champion", messages: [{ role: "user", content: `hello ${i}` }], max_tokens: 8, temperature: 0 });
    await waitFor(async () => (await (await g.api("/api/v1/deployments/champion/shadow-status")).json()).counts.mirrored === 3, 30_000, "three mirrors");
    const status = await (await g.api("/api/v1/deployments/champion/shadow-status")).json();
    expect(status).toMatchObject({ champion: "champion", challenger: "challenger", running: true, counts: { seen: 3, mirrored: 3 } });
    expect(status.figures.challenger.error_rate.rate).toBe(0);
    // Same weights, same prompt, temperature 0: the same answer, so similarity is exact.
    expect(status.similarity.exact.rate).toBe(1);
    expect(status.similarity.cosine.n).toBe(3); // compared by the llama-server embeddings instance
    expect(status.similarity.cosine.mean).toBeCloseTo(1, 3);
    expect((await g.api("/api/v1/deployments/shadow-stop", json("POST", { model: "champion" }))).status).toBe(200);
  });

  // max_tokens: without it llama-server generates until its context is full ("Context size has been exceeded").
  test("an evaluation runs a dataset through llama-server and counts its real tokens", async () => {
    const rows = ["hello", "the water", "make a model", "one two three"].map((input) => ({ input, expected: "x" }));
    const form = new FormData();
    form.set("name", "prompts");
    form.set("file", new File([rows.map((r) => JSON.stringify(r)).join("\n")], "prompts.jsonl"));
    expect((await g.api("/api/v1/datasets", { method: "POST", body: form })).status).toBe(201);
    const res = await g.api("/api/v1/evaluations", json("POST", { model: "champion", dataset: "prompts", metrics: ["exact_match", { type: "regex", pattern: "\\S" }], parameters: { max_tokens: 16 } }));
    expect(res.status).toBe(202);
    const { id } = await res.json();
    await waitFor(async () => (await (await g.api(`/api/v1/evaluations/${id}`)).json()).status === "completed", 60_000, "the evaluation");
    const done = await (await g.api(`/api/v1/evaluations/${id}`)).json();
    expect(done).toMatchObject({ succeeded: 4, failed: 0 });
    expect(done.summary.metrics.exact_match.mean).toBe(0); // word salad is never "x"
    expect(done.summary.metrics.regex.passes).toBe(4); // but always says something
    expect(done.summary.tokens.prompt).toBeGreaterThan(4 * 5); // chatml wraps each prompt: the server's usage, not a guess
    expect(done.summary.tokens.completion).toBeGreaterThan(0);
  });

  test("a knowledge collection is embedded by llama-server (64-dim mean-pooled vectors) and searched", async () => {
    expect((await g.api("/api/v1/knowledge/collections", json("POST", { name: "notes" }))).status).toBe(201);
    const form = new FormData();
    form.append("file", new File(["The water pump needs a new seal before the winter."], "pump.txt"));
    form.append("file", new File(["Rotate the server keys every ninety days."], "keys.txt"));
    const uploaded = await g.api("/api/v1/knowledge/collections/notes/documents", { method: "POST", body: form });
    expect(uploaded.status).toBe(201);
    expect((await uploaded.json()).documents.map((d: { status: string }) => d.status)).toEqual(["created", "created"]);
    const collections = (await (await g.api("/api/v1/knowledge/collections")).json()).collections;
    expect(collections).toEqual([expect.objectContaining({ name: "notes", embedding_model: "embed", dimensions: 64, documents: 2 })]);
    const search = await g.api("/api/v1/knowledge/search", json("POST", { query: "water pump seal", collection: "notes", top_k: 2 }));
    expect(search.status).toBe(200);
    const { results } = await search.json();
    expect(results.length).toBeGreaterThan(0);
    expect(results.every((r: { collection: string }) => r.collection === "notes")).toBe(true);
    expect(results.map((r: { source: string }) => r.source)).toContain("pump.txt");
  });
});
