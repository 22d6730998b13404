/**
 * bench/knowledge: ingest throughput (chunks/s, through the API and the stand-in embedding model)
 * and search latency over CHUNKS chunks on SQLite, per mode; vector recall@10 and latency against
 * an exact brute-force cosine scan of the same stored vectors in this process (the baseline).
 * Freshness across nodes: a second node over the same database (its gantry.db linked to the
 * first's) searches full text with its own index; after an ingest on the first, its next search
 * rebuilds the collection (the catch-up), measured against its steady search p50. The revision
 * check each search makes is timed against a full-text query of the same index, in this process.
 */
import { Database } from "bun:sqlite";
import { readdirSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { SearchIndex } from "../plugins/knowledge/search-index.ts";
import { ADMIN_KEY, STAND_IN_MODEL_SERVER } from "../test/helpers.ts";
import { freePort, percentile, round, spawnGantry } from "./lib.ts";

const CHUNKS = Number(process.env.CHUNKS ?? 100_000);
const PER_DOC = 100;
const DIM = Number(process.env.DIM ?? 128);
const QUERIES = 200;
const server = await spawnGantry({
  GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_RATE_LIMIT__ENABLED: "false", GANTRY_LOG__REQUESTS: "false", GANTRY_SERVER__BODY_LIMIT_BYTES: "10485760",
  GANTRY_PLUGIN__KNOWLEDGE__CHUNK_SIZE: "160", GANTRY_PLUGIN__KNOWLEDGE__CHUNK_OVERLAP: "0", GANTRY_PLUGIN__KNOWLEDGE__EMBED_BATCH: "128",
});
const headers = { authorization: `Bearer ${ADMIN_KEY}` };
const post = async (path: string, body: unknown) => {
  const res = await fetch(`${server.url}${path}`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
};
await post("/api/v1/instances", { name: "embedder", backend: "command", model_path: "embedder", port: await freePort(), command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--embedding-dim", String(DIM)] });
await post("/api/v1/instances/embedder/start", {});
await post("/api/v1/knowledge/collections", { name: "bench", embedding_model: "embedder" });

// A synthetic vocabulary; each paragraph (one chunk) is 16 words drawn with a fixed generator.
let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const vocabulary = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}x${"abcdefghij"[i % 10]}`.replace(/\d/g, (d) => "klmnopqrst"[Number(d)]!));
const paragraph = () => Array.from({ length: 16 }, () => vocabulary[Math.floor(random() ** 2 * vocabulary.length)]).join(" ") + ".";

const docs = Math.ceil(CHUNKS / PER_DOC);
const t0 = performance.now();
let ingested = 0;
let next = 0;
await Promise.all(Array.from({ length: 2 }, async () => {
  while (next < docs) {
    const form = new FormData();
    const n = next++;
    form.set("file", new File([Array.from({ length: PER_DOC }, paragraph).join("\n\n")], `doc-${n}.txt`));
    const res = await fetch(`${server.url}/api/v1/knowledge/collections/bench/documents`, { method: "POST", headers, body: form });
    if (res.status !== 201) throw new Error(`ingest: ${res.status} ${await res.text()}`);
    ingested += (await res.json()).documents[0].chunks;
  }
}));
const ingestS = (performance.now() - t0) / 1000;

const queries = Array.from({ length: QUERIES }, () => Array.from({ length: 3 }, () => vocabulary[Math.floor(random() ** 2 * vocabulary.length)]).join(" "));
const latencies: Record<string, number[]> = { hybrid: [], vector: [], lexical: [] };
const vectorHits: number[][] = [];
for (const [i, query] of queries.entries()) {
  for (const mode of ["hybrid", "vector", "lexical"]) {
    const started = performance.now();
    const answer = await post("/api/v1/knowledge/search", { query, collection: "bench", top_k: 10, mode });
    latencies[mode]!.push(performance.now() - started);
    if (mode === "vector") vectorHits[i] = answer.results.map((r: { chunk_id: number }) => r.chunk_id);
  }
}

// Baseline: exact cosine over every stored vector, in this process.
const db = new Database(join(server.dataDir, "gantry.db"), { readonly: true });
const rows = db.query("SELECT id, embedding FROM knowledge_chunks").all() as { id: number; embedding: Uint8Array }[];
const ids = rows.map((r) => r.id);
const matrix = new Float32Array(rows.length * DIM);
rows.forEach((r, i) => matrix.set(new Float32Array(r.embedding.buffer.slice(r.embedding.byteOffset, r.embedding.byteOffset + r.embedding.byteLength)), i * DIM));
db.close();
const embeddings = (await post("/v1/embeddings", { model: "embedder", input: queries })).data.map((d: { embedding: number[] }) => new Float32Array(d.embedding));
const bruteTimes: number[] = [];
let recalled = 0;
let expectedTotal = 0;
for (const [i, q] of embeddings.entries()) {
  const started = performance.now();
  const qn = Math.hypot(...q) || 1;
  const scored: [number, number][] = [];
  for (let r = 0; r < ids.length; r++) {
    let dot = 0, nn = 0;
    for (let d = 0; d < DIM; d++) {
      const x = matrix[r * DIM + d]!;
      dot += x * q[d]!;
      nn += x * x;
    }
    scored.push([nn === 0 ? 0 : dot / (Math.sqrt(nn) * qn), ids[r]!]);
  }
  scored.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  bruteTimes.push(performance.now() - started);
  // Ties at the 10th score make any of the tied chunks a right answer.
  const tenth = scored[Math.min(9, scored.length - 1)]![0];
  const acceptable = new Set(scored.filter(([s]) => s >= tenth - 1e-6).map(([, id]) => id));
  const top = Math.min(10, scored.filter(([s]) => s > 0).length);
  expectedTotal += top;
  recalled += vectorHits[i]!.slice(0, top).filter((id) => acceptable.has(id)).length;
}

// A second node over the same database, with only the knowledge plugin (full-text search needs no model).
const plugins = resolve(import.meta.dir, "../plugins");
const others = readdirSync(plugins, { withFileTypes: true }).filter((e) => e.isDirectory() && e.name !== "knowledge").map((e) => e.name);
const dataDirB = (await import("node:fs")).mkdtempSync(join((await import("node:os")).tmpdir(), "gantry-bench-b-"));
symlinkSync(join(server.dataDir, "gantry.db"), join(dataDirB, "gantry.db"));
const nodeB = await spawnGantry({ GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_RATE_LIMIT__ENABLED: "false", GANTRY_LOG__REQUESTS: "false", GANTRY_PLUGINS__DISABLED: others.join(",") }, dataDirB);
const searchOnB = async (query: string) => {
  const started = performance.now();
  const res = await fetch(`${nodeB.url}/api/v1/knowledge/search`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify({ query, collection: "bench", top_k: 10, mode: "lexical" }) });
  if (!res.ok) throw new Error(`search on B: ${res.status} ${await res.text()}`);
  await res.json();
  return performance.now() - started;
};
const steadyB: number[] = [];
for (const query of queries) steadyB.push(await searchOnB(query));
const change = new FormData();
change.set("file", new File([Array.from({ length: PER_DOC }, paragraph).join("\n\n")], "doc-changed.txt"));
if ((await fetch(`${server.url}/api/v1/knowledge/collections/bench/documents`, { method: "POST", headers, body: change })).status !== 201) throw new Error("ingest of the change failed");
const catchUpMs = await searchOnB(queries[0]!);
const afterB: number[] = [];
for (const query of queries) afterB.push(await searchOnB(query));
await nodeB.stop();
await server.stop(true);

// The per-search revision check against a full-text query, on the first node's index file.
const index = new SearchIndex(join(server.dataDir, "plugins", "knowledge", "search-index.sqlite"));
const [collectionId] = index.collections();
const time = (n: number, work: () => unknown) => {
  const started = performance.now();
  for (let i = 0; i < n; i++) work();
  return ((performance.now() - started) / n) * 1000;
};
const checkUs = time(10_000, () => index.revision(collectionId!));
const lexicalUs = time(QUERIES, () => index.lexical(collectionId!, queries[Math.floor(random() * QUERIES)]!, 100));
index.close();
(await import("node:fs")).rmSync(server.dataDir, { recursive: true, force: true });

console.log(JSON.stringify({
  bench: "knowledge", database: "sqlite", chunks: ingested, dimensions: DIM, ingest_s: round(ingestS, 1), ingest_chunks_per_s: round(ingested / ingestS, 0),
  search_p50_ms: { hybrid: round(percentile(latencies.hybrid!, 50)), vector: round(percentile(latencies.vector!, 50)), lexical: round(percentile(latencies.lexical!, 50)) },
  search_p95_ms: { hybrid: round(percentile(latencies.hybrid!, 95)), vector: round(percentile(latencies.vector!, 95)), lexical: round(percentile(latencies.lexical!, 95)) },
  brute_force_js_p50_ms: round(percentile(bruteTimes, 50)), vector_api_vs_brute_force_p50: round(percentile(latencies.vector!, 50) / percentile(bruteTimes, 50), 3),
  vector_recall_at_10: round(recalled / Math.max(1, expectedTotal), 4),
  other_node: {
    lexical_p50_ms: round(percentile(steadyB, 50)), lexical_p50_after_catch_up_ms: round(percentile(afterB, 50)),
    catch_up_first_search_ms: round(catchUpMs), catch_up_vs_search_p50: round(catchUpMs / percentile(steadyB, 50), 1),
  },
  revision_check_us: round(checkUs, 2), index_lexical_query_us: round(lexicalUs, 1), revision_check_vs_lexical_query: round(checkUs / lexicalUs, 4),
}, null, 2));
