import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN_KEY, BUILTIN_PLUGINS, databaseSettled, STAND_IN_MODEL_SERVER, json, startGantry, tempDir, waitFor, type TestGantry, sqlRows } from "../helpers.ts";

/**
 * 20 rows for the stand-in model ("ANSWER x" is answered with exactly x): rows 1–10 right, 11–15 off
 * by one, 16–20 right inside a sentence. `input_v2` answers every row right (a better prompt).
 */
const ROWS = Array.from({ length: 20 }, (_, i) => {
  const n = i + 1;
  const input = n <= 10 ? `ANSWER ${n}` : n <= 15 ? `ANSWER ${n + 1}` : `ANSWER The answer is ${n}`;
  return { input, input_v2: `ANSWER ${n}`, expected: String(n) };
});
const CSV = `input,input_v2,expected\n${ROWS.map((r) => `"${r.input}","${r.input_v2}",${r.expected}`).join("\n")}\n`;
/** The scripted judge answers the number after SCORE= in its prompt (here: in the reference answer). */
const JUDGED = [
  { input: 'ANSWER {"ok": true}', expected: "SCORE=8 ok true" },
  { input: 'ANSWER {"ok": false}', expected: "SCORE=6 ok false" },
  { input: 'ANSWER {"ok": true}', expected: "SCORE=10 ok true" },
  { input: "ANSWER no idea", expected: "SCORE=0 ok true" },
];
const METRICS = ["exact_match", "contains", { type: "numeric", tolerance: 0 }, { type: "numeric", name: "within_one", tolerance: 1 }, { type: "regex", pattern: "^\\d+$" }];

/** Wilson's 95% interval, written out independently of the plugin's. */
function wilson(k: number, n: number): [number, number] {
  const z = 1.959963984540054, p = k / n, d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d, h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.round((c - h) * 1e4) / 1e4, Math.round((c + h) * 1e4) / 1e4];
}

async function addInstance(g: TestGantry, name: string, extra: string[] = []) {
  const res = await g.api("/api/v1/instances", json("POST", {
    name, backend: "command", model_path: name, on_demand_start: true, command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", ...extra],
  }));
  expect(res.status).toBe(201);
}
async function uploadDataset(g: TestGantry, name: string, content: string, file: string) {
  const form = new FormData();
  form.set("name", name);
  form.set("file", new File([content], file));
  expect((await g.api("/api/v1/datasets", { method: "POST", body: form })).status).toBe(201);
}
const evaluate = async (g: TestGantry, body: Record<string, unknown>, auth?: string) => g.api("/api/v1/evaluations", { ...json("POST", body), ...(auth ? { auth } : {}) });
const report = async (g: TestGantry, id: string) => (await g.api(`/api/v1/evaluations/${id}`)).json();
const completed = async (g: TestGantry, id: string, ms = 15_000) => {
  await waitFor(async () => (await report(g, id)).status === "completed", ms, `evaluation ${id} to complete`);
  return report(g, id);
};

let g: TestGantry;
let viewer: string;

beforeAll(async () => {
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: { rate_limit: { enabled: false }, plugin: { evaluations: { concurrency: 3 } } },
  });
  viewer = (await g.gantry.security.keys.create("evaluations-viewer", "viewer")).key;
  await addInstance(g, "model");
  await addInstance(g, "embedder", ["--embedding-dim", "64"]);
  await uploadDataset(g, "arith", CSV, "arith.csv");
  await uploadDataset(g, "judged", JUDGED.map((r) => JSON.stringify(r)).join("\n"), "judged.jsonl");
});
afterAll(() => g.stop());

describe("evaluations", () => {
  let first = "";

  test("a 20-row evaluation of the stand-in model scores every metric as expected, with intervals, latency and tokens", async () => {
    const res = await evaluate(g, { model: "model", dataset: "arith", metrics: METRICS, name: "baseline" });
    expect(res.status).toBe(202);
    const started = await res.json();
    expect(started).toMatchObject({ status: "running", total: 20, model: "model", dataset: "arith", actor: "key:bootstrap-admin" });
    first = started.id;
    const done = await completed(g, first);
    expect(done).toMatchObject({ succeeded: 20, failed: 0, pending: 0 });
    const m = done.summary.metrics;
    expect(m.exact_match).toEqual({ type: "exact_match", n: 20, mean: 0.5, passes: 10, ci95: wilson(10, 20) });
    expect(m.contains).toMatchObject({ mean: 0.75, passes: 15, ci95: wilson(15, 20) });
    expect(m.numeric).toMatchObject({ mean: 0.75, passes: 15 });
    expect(m.within_one).toMatchObject({ mean: 1, passes: 20, ci95: wilson(20, 20) });
    expect(m.regex).toMatchObject({ mean: 0.75, passes: 15 });
    expect(done.summary).toMatchObject({ rows: 20, failed_rows: 0 });
    expect(done.summary.tokens.prompt).toBe(60);
    expect(done.summary.latency_ms.p50).toBeGreaterThan(0);
    const rows = (await (await g.api(`/api/v1/evaluations/${first}/rows?limit=20`, { auth: viewer })).json()).rows;
    expect(rows.map((r: { row: number }) => r.row)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(rows[11]).toMatchObject({ input: "ANSWER 13", expected: "12", output: "13", scores: { exact_match: 0, within_one: 1 }, notes: { numeric: "13 vs 12" } });
    expect((await (await g.api("/api/v1/evaluations", { auth: viewer })).json()).evaluations[0].id).toBe(first);
  });

  test("two runs on the same data compare row by row", async () => {
    const better = await (await evaluate(g, { model: "model", dataset: "arith", metrics: METRICS, input_column: "input_v2" })).json();
    await completed(g, better.id);
    const res = await g.api(`/api/v1/evaluations/${first}/compare/${better.id}`, { auth: viewer });
    expect(res.status).toBe(200);
    const comparison = await res.json();
    expect(comparison).toMatchObject({ rows_compared: 20, a: { id: first }, b: { id: better.id } });
    expect(comparison.metrics.exact_match).toMatchObject({ a_mean: 0.5, b_mean: 1, delta: 0.5, improved: 10, regressed: 0, unchanged: 10 });
    expect(comparison.metrics.exact_match.delta_ci95[0]).toBeGreaterThan(0);
  });

  test("LLM-as-judge with a scripted judge, JSON-schema validity and embedding similarity", async () => {
    await addInstance(g, "judge");
    const res = await evaluate(g, {
      model: "model", dataset: "judged", judge: { model: "judge", rubric: "JUDGE: the reference holds the score." },
      metrics: ["llm_judge", { type: "json_schema", schema: { type: "object", required: ["ok"], properties: { ok: { type: "boolean" } } } }, { type: "embedding_similarity", model: "embedder" }],
    });
    expect(res.status).toBe(202);
    const done = await completed(g, (await res.json()).id);
    expect(done.summary.metrics.llm_judge.mean).toBe(0.6);
    expect(done.summary.metrics.llm_judge.ci95[0]).toBeLessThan(0.6);
    expect(done.summary.metrics.json_schema).toMatchObject({ mean: 0.75, passes: 3 });
    // "ok true" against "SCORE=8 ok true": 2 shared concepts of 2 and 3 → 2/√6; "no idea" shares none.
    expect(done.summary.metrics.embedding_similarity.mean).toBeCloseTo((3 * 2) / Math.sqrt(6) / 4, 3);
    const rows = (await (await g.api(`/api/v1/evaluations/${done.id}/rows`)).json()).rows;
    expect(rows[3].notes.json_schema).toBe("the answer is not JSON");
    expect(rows[0].notes.llm_judge).toBe("8");
  });

  test("bad requests are refused before anything runs", async () => {
    const expectError = async (res: Response, status: number, code: string) => {
      const body = await res.json();
      expect([res.status, body.code]).toEqual([status, code]);
      return body;
    };
    const invalid = await expectError(await evaluate(g, {
      model: "model", dataset: "arith", input_column: "question", metrics: ["llm_judge", { type: "regex", pattern: "(" }, { type: "json_schema" }, { type: "embedding_similarity" }],
    }), 400, "EVALUATION_INVALID");
    expect(invalid.details.problems).toHaveLength(5);
    await expectError(await evaluate(g, { model: "model", dataset: "ghost", metrics: ["exact_match"] }), 404, "DATASET_NOT_FOUND");
    expect((await evaluate(g, { model: "model", dataset: "arith", metrics: ["bleu"] })).status).toBe(400);
    expect((await evaluate(g, { model: "model", dataset: "arith", metrics: [] })).status).toBe(400);
    expect((await evaluate(g, { model: "model", dataset: "arith", metrics: ["exact_match"] }, viewer)).status).toBe(403);
    await expectError(await g.api("/api/v1/evaluations/nope"), 404, "EVALUATION_NOT_FOUND");
    const judged = (await (await g.api("/api/v1/evaluations")).json()).evaluations.find((e: { dataset: string }) => e.dataset === "judged");
    await expectError(await g.api(`/api/v1/evaluations/${first}/compare/${judged.id}`), 409, "EVALUATION_NOT_COMPARABLE");
    await expectError(await g.api(`/api/v1/evaluations/${first}/resume`, json("POST")), 409, "EVALUATION_NOT_RESUMABLE");
    // A model that does not exist fails every row; the report says so and the run still completes.
    const missing = await completed(g, (await (await evaluate(g, { model: "no-such-model", dataset: "arith", metrics: ["exact_match"], limit: 3 })).json()).id);
    expect(missing.summary).toMatchObject({ rows: 3, failed_rows: 3, metrics: { exact_match: { mean: 0 } } });
  });

  test("progress streams over the WebSocket; a reload mid-run keeps it going; uninstall stops it", async () => {
    await addInstance(g, "slow", ["--latency-ms", "60"]);
    const run = await (await evaluate(g, { model: "slow", dataset: "arith", metrics: ["exact_match"] })).json();
    const events: { type: string; data: { status: string; row?: number } }[] = [];
    const connect = () => {
      const ws = new WebSocket(`${g.url.replace("http", "ws")}/api/v1/evaluations/${run.id}/stream?api_key=${ADMIN_KEY}`);
      ws.onmessage = (m) => events.push(JSON.parse(String(m.data)));
      return ws;
    };
    const before = connect();
    const closed = new Promise<number>((resolve) => (before.onclose = (e) => resolve(e.code)));
    await waitFor(() => events.some((e) => e.data.row !== undefined), 10_000, "a progress event");
    expect((await g.api("/api/v1/plugins/evaluations/reload", json("POST"))).status).toBe(200);
    // The reloaded plugin's sockets close with 1012 (service restart); a client reconnects.
    expect(await closed).toBe(1012);
    const after = connect();
    const done = await completed(g, run.id);
    expect(done).toMatchObject({ succeeded: 20, summary: { rows: 20, metrics: { exact_match: { mean: 0.5 } } } });
    await waitFor(() => events.some((e) => e.data.status === "completed"), 5000, "the completed event");
    after.close();

    const second = await (await evaluate(g, { model: "slow", dataset: "arith", metrics: ["exact_match"] })).json();
    await waitFor(async () => (await report(g, second.id)).succeeded >= 3, 10_000, "some rows");
    expect((await g.api("/api/v1/plugins/evaluations?force=true", { method: "DELETE" })).status).toBe(200);
    expect((await g.api(`/api/v1/evaluations/${second.id}`)).status).toBe(404);
    const id = String(second.id).replace(/[^\w-]/g, "");
    const finished = async () => Number((await sqlRows(g, `SELECT count(*) AS n FROM evaluation_rows WHERE evaluation_id = '${id}' AND status = 'succeeded'`))[0]!.n);
    await databaseSettled(g, 500); // rows in flight at uninstall finish and are recorded
    const settled = await finished();
    await Bun.sleep(400);
    expect(await finished()).toBe(settled);
    expect(settled).toBeLessThan(20);
  });
});

describe("evaluations across a restart", () => {
  test("a run gantry stopped in the middle of is interrupted at the next start and resumes where it was", async () => {
    const dataDir = tempDir();
    const config = { rate_limit: { enabled: false }, plugin: { evaluations: { concurrency: 2 } } };
    let first: TestGantry | undefined = await startGantry({ builtins: BUILTIN_PLUGINS, dataDir, config });
    await addInstance(first, "slow", ["--latency-ms", "80"]);
    await uploadDataset(first, "arith", CSV, "arith.csv");
    const run = await (await evaluate(first, { model: "slow", dataset: "arith", metrics: ["exact_match", "contains"] })).json();
    await waitFor(async () => (await report(first!, run.id)).succeeded >= 4, 10_000, "some rows");
    await first.stop();
    first = undefined;
    const second = await startGantry({ builtins: BUILTIN_PLUGINS, dataDir, config });
    try {
      const interrupted = await report(second, run.id);
      expect(interrupted.status).toBe("interrupted");
      expect(interrupted.succeeded).toBeGreaterThanOrEqual(4);
      expect(interrupted.succeeded).toBeLessThan(20);
      const resumed = await second.api(`/api/v1/evaluations/${run.id}/resume`, json("POST"));
      expect(resumed.status).toBe(202);
      const done = await completed(second, run.id);
      expect(done).toMatchObject({ succeeded: 20, failed: 0, summary: { rows: 20, metrics: { exact_match: { mean: 0.5 }, contains: { mean: 0.75 } } } });
      const outputs = (await (await second.api(`/api/v1/evaluations/${run.id}/rows?limit=20`)).json()).rows.map((r: { output: string }) => r.output);
      expect(outputs.slice(0, 3)).toEqual(["1", "2", "3"]);
    } finally {
      await second.stop();
    }
  });
});
