/**
 * bench/datasets: profile of a 1 M-row CSV through the API (first time, then from the cache), and
 * gantry's peak memory, against DuckDB's own SUMMARIZE of the same file run in this process.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { ADMIN_KEY } from "../test/helpers.ts";
import { mb, round, rssOf, spawnGantry } from "./lib.ts";

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const root = mkdtempSync(join(tmpdir(), "gantry-bench-datasets-"));
const path = join(root, "events.csv");
let fileBytes = 0;
const cities = ["Oslo", "Lima", "Rome", "Kyiv", "Pune", "Lagos", "Quito", "Perth"];
const lines = ["id,city,latency_ms,tokens,ok"];
for (let i = 0; i < ROWS; i++) lines.push(`${i},${cities[i % 8]},${((i * 7919) % 10007) / 10},${(i * 31) % 4096},${i % 3 !== 0}`);
writeFileSync(path, lines.join("\n") + "\n");
fileBytes = Bun.file(path).size;
lines.length = 0;

const server = await spawnGantry({
  GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_RATE_LIMIT__ENABLED: "false", GANTRY_LOG__REQUESTS: "false",
  GANTRY_PLUGIN__DATASETS__ROOTS: JSON.stringify([root]),
});
const headers = { authorization: `Bearer ${ADMIN_KEY}` };
const timed = async (url: string) => {
  const t0 = performance.now();
  const res = await fetch(`${server.url}${url}`, { headers });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  const body = await res.json();
  return { ms: performance.now() - t0, body };
};
const rssBefore = rssOf(server.proc.pid);
const registered = await timed("/api/v1/datasets"); // first list registers the file: row count, schema, SHA-256
const first = await timed("/api/v1/datasets/events/profile");
const cached = await timed("/api/v1/datasets/events/profile");
const peak = Number(/VmHWM:\s+(\d+)/.exec(require("node:fs").readFileSync(`/proc/${server.proc.pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
await server.stop();

// Baseline: DuckDB's SUMMARIZE (approximate quantiles, no top values or histograms) in this process, same threads.
const instance = await DuckDBInstance.create(":memory:", { threads: "2" });
const connection = await instance.connect();
const t0 = performance.now();
await connection.runAndReadAll(`SUMMARIZE SELECT * FROM read_csv('${path}')`);
const summarizeMs = performance.now() - t0;
connection.closeSync();
instance.closeSync();
rmSync(root, { recursive: true, force: true });

console.log(JSON.stringify({
  bench: "datasets", rows: ROWS, file_mb: mb(fileBytes), register_ms: round(registered.ms), profile_ms: round(first.ms), profile_cached_ms: round(cached.ms),
  duckdb_summarize_ms: round(summarizeMs), profile_vs_summarize: round(first.ms / summarizeMs, 2),
  gantry_rss_before_mb: mb(rssBefore), gantry_peak_rss_mb: mb(peak), sampled: first.body.sampled,
}, null, 2));
