/**
 * bench/evaluations: rows per second of an evaluation (concurrency 4, exact match) against the
 * same prompts sent by 4 concurrent clients straight to the proxy's /v1/chat/completions, same
 * stand-in model (the baseline: what the evaluation's bookkeeping and scoring cost on top).
 */
import { ADMIN_KEY, STAND_IN_MODEL_SERVER } from "../test/helpers.ts";
import { freePort, round, spawnGantry } from "./lib.ts";

const ROWS = Number(process.env.ROWS ?? 500);
const CONCURRENCY = 4;
const server = await spawnGantry({
  GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_RATE_LIMIT__ENABLED: "false", GANTRY_LOG__REQUESTS: "false",
  GANTRY_PLUGIN__EVALUATIONS__CONCURRENCY: String(CONCURRENCY),
});
const headers = { authorization: `Bearer ${ADMIN_KEY}` };
const post = async (path: string, body: unknown) => {
  const res = await fetch(`${server.url}${path}`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
};
await post("/api/v1/instances", { name: "model", backend: "command", model_path: "model", port: await freePort(), command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}"] });
await post("/api/v1/instances/model/start", {});
const rows = Array.from({ length: ROWS }, (_, i) => ({ input: `ANSWER ${i}`, expected: String(i) }));
const form = new FormData();
form.set("name", "bench");
form.set("file", new File([rows.map((r) => JSON.stringify(r)).join("\n")], "bench.jsonl"));
if (!(await fetch(`${server.url}/api/v1/datasets`, { method: "POST", headers, body: form })).ok) throw new Error("dataset upload failed");

async function direct(n: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < n) await post("/v1/chat/completions", { model: "model", messages: [{ role: "user", content: rows[next++ % ROWS]!.input }] });
  }));
  return n / ((performance.now() - t0) / 1000);
}
async function evaluation(limit: number): Promise<{ rowsPerS: number; exact: number }> {
  const t0 = performance.now();
  const run = await post("/api/v1/evaluations", { model: "model", dataset: "bench", metrics: ["exact_match"], limit });
  for (;;) {
    const report = await (await fetch(`${server.url}/api/v1/evaluations/${run.id}`, { headers })).json();
    if (report.status === "completed") return { rowsPerS: limit / ((performance.now() - t0) / 1000), exact: report.summary.metrics.exact_match.mean };
    await Bun.sleep(50);
  }
}
await direct(50);
await evaluation(50);
const directRate = await direct(ROWS);
const evaluated = await evaluation(ROWS);
await server.stop();
console.log(JSON.stringify({
  bench: "evaluations", rows: ROWS, concurrency: CONCURRENCY, direct_rows_per_s: round(directRate, 1), evaluation_rows_per_s: round(evaluated.rowsPerS, 1),
  evaluation_vs_direct: round(evaluated.rowsPerS / directRate, 3), exact_match: evaluated.exact,
}, null, 2));
