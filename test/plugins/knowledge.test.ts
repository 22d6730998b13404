import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { minimalPdf } from "../fixtures/minimal-pdf.ts";
import { BUILTIN_PLUGINS, STAND_IN_MODEL_SERVER, createStandInModel, json, startGantry, tempDir, type TestGantry } from "../helpers.ts";

let g: TestGantry;
let viewer: string;
let root: string;

/** Each document is one chunk; the stand-in embeds by concept (synonyms share one) and ignores words with digits. */
const DOCS: Record<string, string | Uint8Array> = {
  "car-care.md": "# Car care\n\nHow to service your car: check the oil and the tire pressure each month.",
  "e4012.txt": "Error E4012 appears when the GPU loader runs out of memory.",
  "e5001.txt": "Error E5001 appears when the disk is full; free space and retry.",
  "keys.html": "<html><body><h1>Keys</h1><p>Rotate API keys every ninety days from the admin console.</p></body></html>",
  "quantization.pdf": minimalPdf("Pick a smaller quantization when graphics card memory is short."),
};
/** Query → the document that answers it. */
const QUERIES: [string, string][] = [["automobile maintenance", "car-care.md"], ["E4012 GPU", "e4012.txt"], ["rotate keys", "keys.html"]];

const uploadDocs = (collection: string, files: Record<string, string | Uint8Array>, metadata?: Record<string, unknown>, auth?: string) => {
  const form = new FormData();
  for (const [name, content] of Object.entries(files)) form.append("file", new File([content], name));
  if (metadata) form.set("metadata", JSON.stringify(metadata));
  return g.api(`/api/v1/knowledge/collections/${collection}/documents`, { method: "POST", body: form, ...(auth ? { auth } : {}) });
};
const search = async (body: Record<string, unknown>, auth = viewer) => {
  const res = await g.api("/api/v1/knowledge/search", { ...json("POST", body), auth });
  expect(res.status).toBe(200);
  return res.json() as Promise<{ mode: string; results: { source: string; text: string; score: number; position: { chunk: number; start: number; end: number }; collection: string }[] }>;
};

beforeAll(async () => {
  root = tempDir("gantry-knowledge-root-");
  mkdirSync(join(root, "runbooks", "gpu"), { recursive: true });
  writeFileSync(join(root, "runbooks", "restart.md"), "Restart the model server after a driver upgrade.");
  writeFileSync(join(root, "runbooks", "gpu", "vram.txt"), "When VRAM is short, lower the context length.");
  writeFileSync(join(root, "runbooks", "ignored.bin"), "binary");
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      rate_limit: { enabled: false },
      plugin: {
        knowledge: { embedding_model: "embedder", roots: [root], max_upload_bytes: 10_000 },
        agent: { default_model: "brain", agents: { librarian: { prompt: "Look things up.", tools: ["/knowledge:search"], allow: ["/knowledge:search"] } } },
      },
    },
  });
  viewer = (await g.gantry.security.keys.create("knowledge-viewer", "viewer")).key;
  const res = await g.api("/api/v1/instances", json("POST", {
    name: "embedder", backend: "command", model_path: "embedder", on_demand_start: true,
    command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--embedding-dim", "64"],
  }));
  expect(res.status).toBe(201);
  await createStandInModel(g, "brain");
});
afterAll(() => g.stop());

describe("knowledge", () => {
  test("documents of every type are chunked and embedded; search answers the expected chunk first with source and position", async () => {
    expect((await g.api("/api/v1/knowledge/collections", json("POST", { name: "ops", description: "runbooks" }))).status).toBe(201);
    const res = await uploadDocs("ops", DOCS, { team: "infra" });
    expect(res.status).toBe(201);
    const { documents } = await res.json();
    expect(documents.map((d: { status: string; chunks: number }) => [d.status, d.chunks])).toEqual(Array(5).fill(["created", 1]));
    const collections = (await (await g.api("/api/v1/knowledge/collections", { auth: viewer })).json()).collections;
    expect(collections).toEqual([expect.objectContaining({ name: "ops", embedding_model: "embedder", dimensions: 64, documents: 5 })]);
    for (const [query, expected] of QUERIES) {
      const { mode, results } = await search({ query, collection: "ops", top_k: 3 });
      expect(mode).toBe("hybrid");
      expect(results[0]!.source).toBe(expected);
    }
    const [pdf] = (await search({ query: "smaller quantization", top_k: 1 })).results;
    expect(pdf).toMatchObject({ source: "quantization.pdf", collection: "ops", position: { chunk: 0, start: 0 }, text: "Pick a smaller quantization when graphics card memory is short." });
    const [html] = (await search({ query: "rotate keys", top_k: 1 })).results;
    expect(html!.text).toContain("Rotate API keys every ninety days");
    expect(html!.text).not.toContain("<p>");
  });

  test("hybrid ranking finds what vector search alone and full-text search alone miss", async () => {
    const hitsAtOne = async (mode: string) => {
      let hits = 0;
      for (const [query, expected] of QUERIES) if ((await search({ query, collection: "ops", top_k: 1, mode })).results[0]?.source === expected) hits++;
      return hits;
    };
    const [hybrid, vector, lexical] = [await hitsAtOne("hybrid"), await hitsAtOne("vector"), await hitsAtOne("lexical")];
    expect(hybrid).toBe(QUERIES.length);
    expect(vector).toBeLessThan(hybrid);
    expect(lexical).toBeLessThan(hybrid);
    // Synonyms are found by meaning only; the error code by its exact word only.
    expect((await search({ query: "automobile maintenance", collection: "ops", mode: "lexical" })).results).toEqual([]);
    expect((await search({ query: "E4012 GPU", collection: "ops", top_k: 1, mode: "vector" })).results[0]!.source).toBe("quantization.pdf");
  });

  test("filters; re-ingesting a changed file replaces its chunks; unchanged files are skipped", async () => {
    const filtered = await search({ query: "error appears", filter: { source: "e5*" } });
    expect(filtered.results.map((r) => r.source)).toEqual(["e5001.txt"]);
    expect((await search({ query: "error appears", filter: { team: "nobody" } })).results).toEqual([]);
    const unchanged = await (await uploadDocs("ops", { "e5001.txt": DOCS["e5001.txt"]! }, { team: "infra" })).json();
    expect(unchanged.documents[0].status).toBe("unchanged");
    const long = Array.from({ length: 30 }, (_, i) => `Paragraph ${i} says the tire pressure matters.`).join("\n\n");
    const replaced = await (await uploadDocs("ops", { "car-care.md": long }, { team: "infra" })).json();
    expect(replaced.documents[0]).toMatchObject({ status: "replaced" });
    expect(replaced.documents[0].chunks).toBeGreaterThan(1);
    const docs = (await (await g.api("/api/v1/knowledge/collections/ops/documents")).json()).documents;
    expect(docs.filter((d: { source: string }) => d.source === "car-care.md")).toHaveLength(1);
    expect((await search({ query: "oil", collection: "ops", mode: "lexical" })).results).toEqual([]);
    const positions = (await search({ query: "Paragraph tire pressure", top_k: 100 })).results.filter((r) => r.source === "car-care.md").map((r) => r.position);
    expect(positions.length).toBe(replaced.documents[0].chunks);
    for (const p of positions) expect(long.slice(p.start, p.end).length).toBe(p.end - p.start);
  });

  test("a folder under a root is ingested; a collection without an embedding model searches full text", async () => {
    expect((await g.api("/api/v1/knowledge/collections", json("POST", { name: "plain", embedding_model: null }))).status).toBe(201);
    const res = await g.api("/api/v1/knowledge/collections/plain/ingest", json("POST", { path: "runbooks" }));
    expect(res.status).toBe(200);
    expect((await res.json()).documents.map((d: { source: string }) => d.source)).toEqual(["gpu/vram.txt", "restart.md"]);
    const { mode, results } = await search({ query: "driver upgrade", collection: "plain" });
    expect([mode, results[0]!.source]).toEqual(["lexical", "restart.md"]);
    const again = await (await g.api("/api/v1/knowledge/collections/plain/ingest", json("POST", { path: "runbooks" }))).json();
    expect(again.documents.map((d: { status: string }) => d.status)).toEqual(["unchanged", "unchanged"]);
    const restart = (await (await g.api("/api/v1/knowledge/collections/plain/documents")).json()).documents.find((d: { source: string }) => d.source === "restart.md");
    expect((await g.api(`/api/v1/knowledge/collections/plain/documents/${restart.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await search({ query: "driver upgrade", collection: "plain" })).results).toEqual([]);
    for (const [path, status, code] of [["/etc", 400, "PATH_OUTSIDE_ROOT"], ["../..", 400, "PATH_OUTSIDE_ROOT"], ["nowhere", 404, "PATH_NOT_FOUND"], ["runbooks/restart.md", 400, "KNOWLEDGE_FOLDER_NOT_ALLOWED"]] as const) {
      const refused = await g.api("/api/v1/knowledge/collections/plain/ingest", json("POST", { path }));
      expect([refused.status, (await refused.json()).code]).toEqual([status, code]);
    }
  });

  test("agents get /knowledge:search as a tool under their permission rules", async () => {
    const res = await g.api("/api/v1/agents/librarian/invoke", json("POST", { input: 'CALL knowledge__search {"arguments": "E4012 GPU"}' }));
    const run = await res.json();
    expect(run.status).toBe("succeeded");
    expect(run.output).toContain("e4012.txt");
    const viaCommand = await (await g.api("/api/v1/plugins/commands/knowledge:search/invoke", json("POST", { arguments: "rotate keys" }))).json();
    expect(viaCommand.result[0].source).toBe("keys.html");
  });

  test("unhappy paths answer 4xx with {error, code, details}", async () => {
    const expectError = async (res: Response, status: number, code: string) => {
      const body = await res.json();
      expect([res.status, body.code]).toEqual([status, code]);
      expect(body).toHaveProperty("details");
    };
    await expectError(await g.api("/api/v1/knowledge/search", json("POST", { query: "x", collection: "ghost" })), 404, "KNOWLEDGE_COLLECTION_NOT_FOUND");
    expect((await g.api("/api/v1/knowledge/search", json("POST", { query: "" }))).status).toBe(400);
    expect((await g.api("/api/v1/knowledge/search", json("POST", { query: "x", top_k: 1000 }))).status).toBe(400);
    await expectError(await uploadDocs("ops", { "sheet.xlsx": "x" }), 400, "KNOWLEDGE_DOCUMENT_TYPE_UNKNOWN");
    await expectError(await uploadDocs("ops", { "big.txt": "x".repeat(10_001) }), 413, "KNOWLEDGE_DOCUMENT_TOO_LARGE");
    await expectError(await uploadDocs("ops", { "broken.pdf": "%PDF-1.4 nothing here" }), 400, "KNOWLEDGE_DOCUMENT_UNREADABLE");
    await expectError(await uploadDocs("ops", { "a.txt": "x" }, undefined, viewer), 403, "FORBIDDEN");
    await expectError(await g.api("/api/v1/knowledge/collections", json("POST", { name: "ops" })), 409, "KNOWLEDGE_COLLECTION_EXISTS");
    expect((await g.api("/api/v1/knowledge/collections", json("POST", { name: "lost", embedding_model: "no-such-model" }))).status).toBe(201);
    await expectError(await uploadDocs("lost", { "a.txt": "hello" }), 502, "KNOWLEDGE_EMBEDDING_FAILED");
    expect((await (await g.api("/api/v1/knowledge/collections/lost/documents")).json()).documents).toEqual([]);
    expect((await g.api("/api/v1/knowledge/collections/lost", { method: "DELETE" })).status).toBe(200);
    await expectError(await g.api("/api/v1/knowledge/collections/lost/documents"), 404, "KNOWLEDGE_COLLECTION_NOT_FOUND");
  });

  test("a reload keeps the index open; a lost index is rebuilt from the stored chunks; uninstall removes search and the agent tool", async () => {
    expect((await g.api("/api/v1/plugins/knowledge/reload", json("POST"))).status).toBe(200);
    expect((await search({ query: "E4012 GPU", collection: "ops", top_k: 1 })).results[0]!.source).toBe("e4012.txt");
    expect(g.logs.text).not.toContain("knowledge index rebuilt from the stored chunks");
    // Disabled, the plugin lets its index go; the file is lost; enabled again, it rebuilds it.
    expect((await g.api("/api/v1/plugins/knowledge/disable", json("POST"))).status).toBe(200);
    for (const suffix of ["", "-wal", "-shm"]) rmSync(join(g.dataDir, "plugins", "knowledge", `search-index.sqlite${suffix}`), { force: true });
    expect((await g.api("/api/v1/plugins/knowledge/enable", json("POST"))).status).toBe(200);
    expect(g.logs.text).toContain("knowledge index rebuilt from the stored chunks");
    expect((await search({ query: "E4012 GPU", collection: "ops", top_k: 1 })).results[0]!.source).toBe("e4012.txt");
    expect((await g.api("/api/v1/plugins/knowledge?force=true", { method: "DELETE" })).status).toBe(200);
    expect((await g.api("/api/v1/knowledge/search", json("POST", { query: "x" }))).status).toBe(404);
    expect((await g.api("/api/v1/plugins/commands/knowledge:search/invoke", json("POST", { arguments: "x" }))).status).toBe(404);
  });
});
