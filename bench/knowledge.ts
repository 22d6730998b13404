/**
 * bench/knowledge: ingest throughput (chunks/s, through the API and the stand-in embedding model)
 * and search latency over CHUNKS chunks on SQLite, per mode; vector recall@10 and latency against
 * an exact brute-force cosine scan of the same stored vectors in this process (the baseline).
 */
import { Database } from "bun:sqlite";
import { join } from "node:path";
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
await server.stop();

console.log(JSON.stringify({
  bench: "knowledge", database: "sqlite", chunks: ingested, dimensions: DIM, ingest_s: round(ingestS, 1), ingest_chunks_per_s: round(ingested / ingestS, 0),
  search_p50_ms: { hybrid: round(percentile(latencies.hybrid!, 50)), vector: round(percentile(latencies.vector!, 50)), lexical: round(percentile(latencies.lexical!, 50)) },
  search_p95_ms: { hybrid: round(percentile(latencies.hybrid!, 95)), vector: round(percentile(latencies.vector!, 95)), lexical: round(percentile(latencies.lexical!, 95)) },
  brute_force_js_p50_ms: round(percentile(bruteTimes, 50)), vector_api_vs_brute_force_p50: round(percentile(latencies.vector!, 50) / percentile(bruteTimes, 50), 3),
  vector_recall_at_10: round(recalled / Math.max(1, expectedTotal), 4),
}, null, 2));
