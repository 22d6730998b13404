import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { pickTables } from "../../core/storage/tables.ts";
import * as batchPg from "../../plugins/batch/schema-pg.ts";
import * as batchSqlite from "../../plugins/batch/schema.ts";
import { ADMIN_KEY, BUILTIN_PLUGINS, createStandInModel, json, startGantry, waitFor, type TestGantry } from "../helpers.ts";

let g: TestGantry;
let viewer: string;

beforeAll(async () => {
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      rate_limit: { enabled: false },
      plugin: {
        agent: { default_model: "brain", agents: { echo: { prompt: "Repeat.", tools: ["/scripts:run", "/cron:list"], allow: ["/scripts:run"], deny: ["/cron:list"] } } },
        batch: { concurrency: 3, max_lines: 20 },
      },
    },
  });
  viewer = (await g.gantry.security.keys.create("batch-viewer", "viewer")).key;
  await createStandInModel(g, "brain");
});
afterAll(() => g.stop());

const submit = (runId: string, lines: unknown[] | string, auth?: string) =>
  g.api(`/api/v1/batch/${runId}`, { method: "POST", headers: { "content-type": "application/x-ndjson" }, body: typeof lines === "string" ? lines : lines.map((l) => JSON.stringify(l)).join("\n"), ...(auth ? { auth } : {}) });
const status = async (runId: string) => (await g.api(`/api/v1/batch/${runId}/status`)).json();

describe("batch runs", () => {
  test("JSONL lines run as agent runs with bounded concurrency; results stream as JSONL in line order; tool usage is counted", async () => {
    const lines = [
      ...Array.from({ length: 6 }, (_, i) => ({ custom_id: `q${i}`, agent: "echo", input: `question ${i}` })),
      { custom_id: "tool", agent: "echo", input: 'CALL scripts__run {"arguments": "20 + 22"}' },
      { custom_id: "denied", agent: "echo", input: "CALL cron__list {}" },
    ];
    const res = await submit("first", lines);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ run_id: "first", status: "running", total: 8, actor: "key:bootstrap-admin" });
    await waitFor(async () => (await status("first")).status === "completed", 15_000, "the batch to complete");
    expect(await status("first")).toMatchObject({ total: 8, succeeded: 8, failed: 0, pending: 0, running: 0, progress_percent: 100 });
    const results = await g.api("/api/v1/batch/first/results", { auth: viewer });
    expect(results.headers.get("content-type")).toBe("application/x-ndjson");
    const rows = (await results.text()).trim().split("\n").map((l) => JSON.parse(l));
    expect(rows.map((r) => r.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(rows[0]).toMatchObject({ custom_id: "q0", agent: "echo", status: "succeeded", output: "You said: question 0", error: null });
    expect(rows[6].output).toBe('Tool said: {"result":42,"logs":[]}');
    const agentRun = await (await g.api(`/api/v1/agents/runs/${rows[6].agent_run_id}`)).json();
    expect(agentRun.actor).toBe("batch:first");
    const stats = await (await g.api("/api/v1/batch/first/stats", { auth: viewer })).json();
    expect(stats).toMatchObject({ tool_calls_total: 2, tool_calls: { "/scripts:run": { ran: 1 }, "/cron:list": { denied: 1 } }, lines: { succeeded: 8 } });
    expect((await (await g.api("/api/v1/batch")).json()).runs.map((r: { run_id: string }) => r.run_id)).toContain("first");
  });

  test("every line is checked before any runs: problems by line number, 400, nothing stored; a taken run_id is 409", async () => {
    const res = await submit("bad", '{"agent": "echo", "input": "ok"}\nnot json\n{"agent": "ghost", "input": "x"}\n{"agent": "echo", "input": ""}\n[1]');
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.code).toBe("BATCH_INVALID");
    expect(body.details.problems).toEqual([
      { line: 2, error: "not JSON" }, { line: 3, error: 'unknown agent "ghost"' }, { line: 4, error: "input must be a non-empty string" }, { line: 5, error: "not a JSON object" },
    ]);
    expect((await g.api("/api/v1/batch/bad/status")).status).toBe(404);
    expect((await submit("big", Array.from({ length: 21 }, () => ({ agent: "echo", input: "x" })))).status).toBe(400);
    expect((await submit("empty", "\n\n")).status).toBe(400);
    expect((await submit("first", [{ agent: "echo", input: "again" }])).status).toBe(409);
    expect((await submit("../etc", [{ agent: "echo", input: "x" }])).status).not.toBe(202);
    expect((await submit("by-viewer", [{ agent: "echo", input: "x" }], viewer)).status).toBe(403);
  });

  test("a run a previous gantry process left running is interrupted; resume runs what was left", async () => {
    const db = g.gantry.core.database.db;
    const { batchRuns, batchItems } = pickTables(db, { sqlite: batchSqlite, pg: batchPg });
    const earlier = new Date(Date.now() - 3_600_000);
    await db.insert(batchRuns).values({ id: "crashed", status: "running", actor: "key:someone", total: 3, createdAt: earlier });
    await db.insert(batchItems).values([
      { runId: "crashed", line: 1, agent: "echo", input: "one", status: "succeeded", output: "You said: one", finishedAt: earlier },
      { runId: "crashed", line: 2, agent: "echo", input: "two", status: "running" },
      { runId: "crashed", line: 3, agent: "echo", input: "three", status: "pending" },
    ]);
    expect((await g.api("/api/v1/plugins/batch/reload", json("POST"))).status).toBe(200);
    expect(await status("crashed")).toMatchObject({ status: "interrupted", succeeded: 1, running: 1, pending: 1 });
    const resumed = await g.api("/api/v1/batch/crashed/resume", json("POST"));
    expect(resumed.status).toBe(202);
    await waitFor(async () => (await status("crashed")).status === "completed", 10_000, "the resumed batch");
    const outputs = (await (await g.api("/api/v1/batch/crashed/results")).text()).trim().split("\n").map((l) => JSON.parse(l).output);
    expect(outputs).toEqual(["You said: one", "You said: two", "You said: three"]);
    const again = await g.api("/api/v1/batch/crashed/resume", json("POST"));
    expect([again.status, (await again.json()).code]).toEqual([409, "BATCH_NOT_RESUMABLE"]);
  });

  test("a run picked up by a new generation (or another node) acts with the role stored with it, not a guess", async () => {
    const db = g.gantry.core.database.db;
    const { batchRuns, batchItems } = pickTables(db, { sqlite: batchSqlite, pg: batchPg });
    // Marked running after this process started, so the next generation works it rather than interrupting it.
    for (const [id, role] of [["by-admin", "admin"], ["by-operator", "operator"]] as const) {
      await db.insert(batchRuns).values({ id, status: "running", actor: `key:${role}`, role, total: 1, createdAt: new Date() });
      await db.insert(batchItems).values({ runId: id, line: 1, agent: "echo", input: 'CALL scripts__run {"arguments": "20 + 22"}', status: "pending" });
    }
    expect((await g.api("/api/v1/plugins/batch/reload", json("POST"))).status).toBe(200);
    for (const id of ["by-admin", "by-operator"]) await waitFor(async () => (await status(id)).status === "completed", 10_000, `${id} to complete`);
    const outputOf = async (id: string) => JSON.parse((await (await g.api(`/api/v1/batch/${id}/results`)).text()).trim()).output as string;
    expect(await outputOf("by-admin")).toBe('Tool said: {"result":42,"logs":[]}'); // /scripts:run is admin-only
    expect(await outputOf("by-operator")).not.toContain('"result":42');
  });

  test("progress streams over the run's WebSocket (the current status first, then each line)", async () => {
    await submit("streamed", Array.from({ length: 9 }, (_, i) => ({ agent: "echo", input: `line ${i}` })));
    const ws = new WebSocket(`${g.url.replace("http", "ws")}/api/v1/batch/streamed/stream?api_key=${ADMIN_KEY}`);
    const messages: { type: string; data: { status: string; run_id: string } }[] = [];
    ws.onmessage = (m) => messages.push(JSON.parse(String(m.data)));
    await new Promise((resolve) => (ws.onopen = resolve));
    await waitFor(() => messages.some((m) => m.data.status === "completed"), 10_000, "the completed event");
    expect(messages[0]).toMatchObject({ type: "batch_progress", data: { run_id: "streamed" } });
    ws.close();
    const anonymous = new WebSocket(`${g.url.replace("http", "ws")}/api/v1/batch/streamed/stream`);
    expect(await new Promise<string>((resolve) => {
      anonymous.onopen = () => resolve("open");
      anonymous.onerror = () => resolve("refused");
    })).toBe("refused");
    const missing = new WebSocket(`${g.url.replace("http", "ws")}/api/v1/batch/nothing-here/stream?api_key=${ADMIN_KEY}`);
    const code = await new Promise<number>((resolve) => (missing.onclose = (e) => resolve(e.code)));
    expect(code).toBe(4404);
  });
});
