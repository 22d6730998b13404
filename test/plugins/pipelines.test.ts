import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ADMIN_KEY, BUILTIN_PLUGINS, createStandInModel, json, STAND_IN_MODEL_SERVER, startGantry, tempDir, waitFor, type TestGantry } from "../helpers.ts";

let g: TestGantry;
let viewer: string;
let operator: string;

const REPORT_BYTES = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256));

const templateDir = tempDir("gantry-pipelines-");
writeFileSync(join(templateDir, "child.yaml"), "description: a nested pipeline\ninputs:\n  who: world\nphases:\n  greet:\n    script: \"'hello ' + ${inputs.who}\"\n");
writeFileSync(join(templateDir, "broken.md"), "---\nphases:\n  a: { needs: [a], script: '1' }\n---\nA template whose only phase needs itself.\n");

beforeAll(async () => {
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      rate_limit: { enabled: false },
      plugins: { disabled: ["cache", "mcp", "batch"] },
      plugin: {
        pipelines: { template_dirs: [templateDir] },
        agent: { default_model: "brain", agents: { echo: { prompt: "Repeat." }, slowpoke: { prompt: "Think slowly.", model: "slow" } } },
      },
      pipelines: {
        release: {
          description: "pull, check in parallel, report, ask, promote", compliance: ["sox"], max_parallel: 2, inputs: { model: null },
          phases: {
            pull: { script: "${inputs.model}.toUpperCase()" },
            evaluate: { needs: ["pull"], agent: "echo", input: "evaluate ${phases.pull.output}" },
            lint: { needs: ["pull"], script: "1 + 1" },
            flaky: { needs: ["pull"], script: "if (${attempt} < 2) throw new Error('flaky on attempt ' + ${attempt}); 'steady'", retry: { attempts: 3, backoff_ms: 20 } },
            optional: { needs: ["evaluate"], when: "${phases.evaluate.output} contains 'nothing'", script: "'should not run'" },
            report: {
              needs: ["evaluate", "lint", "flaky", "optional"], artifact: { name: "report.json", media_type: "application/json" },
              script: `({ summary: 'lint ' + \${phases.lint.output}, artifacts: [{ name: 'weights.bin', content_base64: '${REPORT_BYTES.toString("base64")}' }] })`,
            },
            promote: { needs: ["report"], gate: { message: "promote ${inputs.model}?" }, script: "'promoted'" },
          },
        },
        cyclic: { phases: { a: { needs: ["c"], script: "1" }, b: { needs: ["a"], script: "2" }, c: { needs: ["b"], script: "3" } } },
        weird: { phases: { a: { teleport: "somewhere" } } },
        gated: { phases: { ask: { gate: true, script: "'after gate'" }, after: { needs: ["ask"], script: "'never'" } } },
        chatty: { chat: true, phases: { think: { agent: "slowpoke", input: "think" }, after: { needs: ["think"], script: "'after'" } } },
        parent: { phases: { nested: { pipeline: "child", inputs: { who: "${run.id}" } }, after: { needs: ["nested"], script: "'child said ' + ${phases.nested.output.greet}" } } },
        sneaky: { inputs: { name: null }, phases: { a: { script: "'x'", artifact: { name: "report-${inputs.name}" } } } },
        wrapper: { phases: { inner: { pipeline: "gated" } } },
        nochat: { phases: { think: { agent: "slowpoke", input: "x" } } },
        shout: { inputs: { text: null, n: 1 }, phases: { loud: { script: "${inputs.text}.toUpperCase()" }, twice: { command: "/scripts:run ${inputs.n} * 2" } } },
        quoted: { phases: { a: { script: "'hello ${inputs.who}'" } } },
        picked: { inputs: { cmd: null }, phases: { a: { command: "/${inputs.cmd} now" } } },
      },
    },
  });
  viewer = (await g.gantry.security.keys.create("pipelines-viewer", "viewer")).key;
  operator = (await g.gantry.security.keys.create("pipelines-operator", "operator")).key;
  await createStandInModel(g, "brain");
  const slow = await g.api("/api/v1/instances", json("POST", {
    name: "slow", backend: "command", model_path: "slow", on_demand_start: true, command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--latency-ms", "1200"],
  }));
  expect(slow.status).toBe(201);
});
afterAll(async () => {
  await g.stop();
  rmSync(templateDir, { recursive: true, force: true });
});

const start = (template: string, inputs?: Record<string, unknown>, auth: string = operator) => g.api("/api/v1/pipelines", { ...json("POST", { template, inputs }), auth });
const view = async (id: string) => (await g.api(`/api/v1/pipelines/${id}`, { auth: viewer })).json();
const phase = (run: { phases: { name: string }[] }, name: string) => run.phases.find((p) => p.name === name) as Record<string, unknown>;
const events = async (id: string, query = "") => (await (await g.api(`/api/v1/pipelines/${id}/events${query}`, { auth: viewer })).json()).events as { seq: number; kind: string; phase: string | null; data: Record<string, unknown> }[];
const sql = (id: string, statement: string) => g.api(`/api/v1/pipelines/${id}/events?sql=${encodeURIComponent(statement)}`, { auth: viewer });
const approvalFor = async (runId: string) =>
  ((await (await g.api("/api/v1/approvals?status=pending")).json()).approvals as { id: string; run_id: string; tool: string; arguments: Record<string, unknown> }[]).find((a) => a.run_id === runId);

describe("pipelines", () => {
  test("parallel phases, a retry that succeeds on its second try, a skipping when, artifacts, a gate that outlives a plugin reload; journal and SQL over it", async () => {
    const res = await start("release", { model: "llama" });
    expect(res.status).toBe(201);
    const created = await res.json();
    expect(created).toMatchObject({ template: "release", state: "running", actor: "key:pipelines-operator", compliance: ["sox"], inputs: { model: "llama" } });
    const id = created.run_id as string;
    await waitFor(async () => (await approvalFor(id)) !== undefined, 20_000, "the promote gate");
    const waiting = await view(id);
    expect(waiting.current_phases).toEqual(["promote"]);
    expect(phase(waiting, "promote")).toMatchObject({ state: "waiting_gate" });
    expect(waiting.outputs.pull).toBe("LLAMA");
    expect(waiting.outputs.evaluate).toBe("You said: evaluate LLAMA");
    expect(phase(waiting, "flaky")).toMatchObject({ state: "succeeded", attempts: 2, output: "steady" });
    expect(phase(waiting, "optional")).toMatchObject({ state: "skipped" });
    const gate = (await approvalFor(id))!;
    expect(gate).toMatchObject({ tool: "gate:promote", arguments: { message: "promote llama?", phase: "promote" } });

    // The run waits at its gate across a reload of the plugin and goes on when the gate is approved.
    expect((await g.api("/api/v1/plugins/pipelines/reload", json("POST"))).status).toBe(200);
    expect((await g.api(`/api/v1/approvals/${gate.id}/approve`, { ...json("POST", { comment: "ship it" }), auth: operator })).status).toBe(200);
    await waitFor(async () => (await view(id)).state === "succeeded", 10_000, "the run to succeed");
    const done = await view(id);
    expect(done.outputs.promote).toBe("promoted");
    expect(done.current_phases).toEqual([]);

    // Independent phases ran side by side, never more than max_parallel (2) at once.
    const journal = await events(id);
    expect(journal.map((e) => e.seq)).toEqual(journal.map((_, i) => i + 1));
    let running = 0;
    let most = 0;
    for (const e of journal) {
      if (e.kind === "phase_started") most = Math.max(most, ++running);
      if (e.kind === "phase_succeeded" || e.kind === "phase_attempt_failed") running--;
    }
    expect(most).toBe(2);
    expect(journal.filter((e) => e.phase === "flaky").map((e) => e.kind)).toEqual(["phase_started", "phase_attempt_failed", "phase_retry", "phase_started", "script", "phase_succeeded"]);
    expect(journal.find((e) => e.kind === "gate_approved")).toMatchObject({ phase: "promote", data: { by: "key:pipelines-operator", note: "ship it" } });
    expect(journal.at(-1)).toMatchObject({ kind: "run_succeeded" });
    expect((await events(id, "?kind=phase_skipped")).map((e) => e.phase)).toEqual(["optional"]);
    const tail = await events(id, `?since_seq=${journal.length - 2}`);
    expect(tail.map((e) => e.seq)).toEqual([journal.length - 1, journal.length]);
    expect((await events(id, "?phase=evaluate&kind=agent_run"))[0]!.data).toMatchObject({ agent: "echo", status: "succeeded" });

    // SQL over this run's journal only; read-only; bounded in time.
    const counted = await sql(id, "SELECT kind, count(*) AS n FROM run_events WHERE phase = 'flaky' GROUP BY kind ORDER BY kind");
    expect(counted.status).toBe(200);
    expect(await counted.json()).toMatchObject({ columns: ["kind", "n"], rows: [["phase_attempt_failed", 1], ["phase_retry", 1], ["phase_started", 2], ["phase_succeeded", 1], ["script", 1]] });
    expect((await (await sql(id, "SELECT DISTINCT run_id FROM run_events")).json()).rows).toEqual([[id]]);
    for (const refused of ["DELETE FROM run_events", "SELECT 1; DELETE FROM run_events", "SELECT * FROM pipeline_runs", "SELECT * FROM api_keys", "ATTACH DATABASE 'x.db' AS x"]) {
      const answer = await sql(id, refused);
      expect([refused, answer.status, (await answer.json()).code]).toEqual([refused, 400, "PIPELINE_QUERY_REFUSED"]);
    }
    const runaway = await sql(id, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c");
    expect([runaway.status, (await runaway.json()).code]).toEqual([422, "PIPELINE_QUERY_TIMEOUT"]);

    // Artifacts: listed with size and checksum; downloaded whole or by range.
    const { artifacts } = await (await g.api(`/api/v1/pipelines/${id}/artifacts`, { auth: viewer })).json();
    expect(artifacts.map((a: { name: string }) => a.name).sort()).toEqual(["report.json", "weights.bin"]);
    const weights = artifacts.find((a: { name: string }) => a.name === "weights.bin");
    expect(weights).toMatchObject({ phase: "report", size: 300, media_type: "application/octet-stream", sha256: new Bun.CryptoHasher("sha256").update(REPORT_BYTES).digest("hex") });
    const whole = await g.api(weights.download, { auth: viewer });
    expect(Buffer.from(await whole.arrayBuffer()).equals(REPORT_BYTES)).toBe(true);
    const part = await g.api(weights.download, { auth: viewer, headers: { range: "bytes=100-199" } });
    expect([part.status, part.headers.get("content-range")]).toEqual([206, "bytes 100-199/300"]);
    expect(Buffer.from(await part.arrayBuffer()).equals(REPORT_BYTES.subarray(100, 200))).toBe(true);
    expect((await g.api(weights.download, { auth: viewer, headers: { range: "bytes=400-" } })).status).toBe(416);
    const report = artifacts.find((a: { name: string }) => a.name === "report.json");
    expect(JSON.parse(await (await g.api(report.download)).text())).toMatchObject({ summary: "lint 2" });

    // The list filters by state, template and compliance, paged.
    const listed = await (await g.api("/api/v1/pipelines?compliance=sox&state=succeeded&limit=1", { auth: viewer })).json();
    expect(listed).toMatchObject({ total: 1, limit: 1, offset: 0 });
    expect(listed.runs[0].run_id).toBe(id);
    expect((await (await g.api("/api/v1/pipelines?compliance=hipaa")).json()).total).toBe(0);
    // Paging takes whole numbers only: a fractional limit is a 400, not a failed query.
    const fractional = await g.api("/api/v1/pipelines?limit=1.5");
    expect(fractional.status).toBe(400);
    expect((await fractional.json()).code).toBeString();
  }, 40_000);

  test("bad templates and requests answer 4xx with the reason; a rejected gate fails the run; roles are enforced", async () => {
    const cyclic = await start("cyclic");
    const cyclicBody = await cyclic.json();
    expect([cyclic.status, cyclicBody.code]).toEqual([400, "PIPELINE_TEMPLATE_INVALID"]);
    expect(cyclicBody.details.problems).toEqual(["needs form a cycle: a → c → b → a"]);
    const weird = await start("weird");
    expect(weird.status).toBe(400);
    expect((await weird.json()).details.problems[0]).toContain("unknown phase kind 'teleport'");
    const templates = (await (await g.api("/api/v1/pipelines/templates", { auth: viewer })).json()).templates;
    expect(templates.find((t: { name: string }) => t.name === "weird")).toMatchObject({ valid: false });
    expect((await start("nope")).status).toBe(404);
    const missing = await start("release", {});
    expect([missing.status, (await missing.json()).code]).toEqual([400, "PIPELINE_INPUTS_INVALID"]);
    expect((await start("release", { model: "x" }, viewer)).status).toBe(403);
    expect((await g.api("/api/v1/pipelines", { auth: false })).status).toBe(401);
    expect((await g.api("/api/v1/pipelines/pl_missing", { auth: viewer })).status).toBe(404);
    expect((await g.api("/api/v1/pipelines", { ...json("POST", { inputs: {} }), auth: operator })).status).toBe(400);

    // A placeholder cannot turn an artifact name into a path.
    const sneaky = (await (await start("sneaky", { name: "/../../../escape" })).json()).run_id;
    await waitFor(async () => (await view(sneaky)).state === "failed", 5000, "the sneaky run to fail");
    expect((await view(sneaky)).error).toContain("must be a file name");
    expect((await (await g.api(`/api/v1/pipelines/${sneaky}/artifacts`)).json()).artifacts).toEqual([]);

    const id = (await (await start("gated")).json()).run_id;
    await waitFor(async () => (await approvalFor(id)) !== undefined, 5000, "the gate");
    const gate = (await approvalFor(id))!;
    expect((await g.api(`/api/v1/approvals/${gate.id}/reject`, { ...json("POST", { reason: "not today" }), auth: operator })).status).toBe(200);
    await waitFor(async () => (await view(id)).state === "failed", 5000, "the run to fail");
    const failed = await view(id);
    expect(phase(failed, "ask")).toMatchObject({ state: "failed", error: "gate rejected by key:pipelines-operator: not today" });
    expect(phase(failed, "after")).toMatchObject({ state: "pending", attempts: 0 });
    expect((await events(id, "?kind=gate_rejected")).length).toBe(1);
    const cancelDone = await g.api(`/api/v1/pipelines/${id}/cancel`, { ...json("POST"), auth: operator });
    expect([cancelDone.status, (await cancelDone.json()).code]).toEqual([409, "PIPELINE_FINISHED"]);
    expect((await g.api(`/api/v1/pipelines/${id}/cancel`, { ...json("POST"), auth: viewer })).status).toBe(403);
  }, 20_000);

  test("chat reaches the active agent of a chat-mode run; cancel is soft (the running step finishes); resume runs what is left; the stream sends state first", async () => {
    const id = (await (await start("chatty")).json()).run_id;
    const ws = new WebSocket(`${g.url.replace("http", "ws")}/api/v1/pipelines/${id}/stream?api_key=${ADMIN_KEY}`);
    const messages: { type: string; data: Record<string, unknown> }[] = [];
    ws.onmessage = (m) => messages.push(JSON.parse(String(m.data)));
    await waitFor(async () => (await view(id)).active_agent === "slowpoke", 10_000, "the agent phase");
    const other = (await (await start("nochat")).json()).run_id;
    const refused = await g.api("/api/v1/chat", { ...json("POST", { run_id: other, message: "hi" }), auth: operator });
    expect([refused.status, (await refused.json()).code]).toEqual([409, "PIPELINE_CHAT_DISABLED"]);
    expect((await g.api("/api/v1/chat", { ...json("POST", { run_id: id, message: "hi" }), auth: viewer })).status).toBe(403);

    // Cancelled while the agent thinks: the agent step goes on (and still takes messages), nothing after it starts.
    const cancelling = await g.api(`/api/v1/pipelines/${id}/cancel`, { ...json("POST"), auth: operator });
    expect([cancelling.status, (await cancelling.json()).cancel_requested]).toEqual([202, true]);
    const chat = await g.api("/api/v1/chat", { ...json("POST", { run_id: id, message: "how far along?" }), auth: operator });
    expect(chat.status).toBe(200);
    expect(await chat.json()).toMatchObject({ run_id: id, phase: "think", agent: "slowpoke", status: "succeeded", answer: "You said: how far along?" });
    await waitFor(async () => (await view(id)).state === "cancelled", 10_000, "the run to be cancelled");
    const cancelled = await view(id);
    expect(phase(cancelled, "think")).toMatchObject({ state: "succeeded", output: "You said: think" });
    expect(phase(cancelled, "after")).toMatchObject({ state: "pending" });
    const late = await g.api("/api/v1/chat", { ...json("POST", { run_id: id, message: "still there?" }), auth: operator });
    expect([late.status, (await late.json()).code]).toEqual([409, "PIPELINE_NO_ACTIVE_AGENT"]);
    const said = (await events(id, "?kind=message")).map((e) => e.data.text);
    expect(said).toEqual(["how far along?", "You said: how far along?"]);

    const resumed = await g.api(`/api/v1/pipelines/${id}/resume`, { ...json("POST"), auth: operator });
    expect(resumed.status).toBe(202);
    await waitFor(async () => (await view(id)).state === "succeeded", 5000, "the resumed run");
    expect((await events(id, "?kind=phase_started")).map((e) => e.phase)).toEqual(["think", "after"]);
    expect((await g.api(`/api/v1/pipelines/${id}/resume`, { ...json("POST"), auth: operator })).status).toBe(409);

    await waitFor(() => messages.some((m) => m.data.kind === "run_succeeded"), 3000, "the stream to report the end");
    ws.close();
    expect(messages[0]).toMatchObject({ type: "pipeline_state", data: { run_id: id } });
    expect(messages.slice(1).map((m) => m.data.kind)).toContain("message");
    await waitFor(async () => (await view(other)).state === "succeeded", 10_000, "the other run");
  }, 40_000);

  test("templates from files (YAML, markdown front matter); a nested pipeline runs as a run of its own", async () => {
    const templates = (await (await g.api("/api/v1/pipelines/templates", { auth: viewer })).json()).templates;
    expect(templates.find((t: { name: string }) => t.name === "child")).toMatchObject({ valid: true, source: join(templateDir, "child.yaml"), inputs: { who: "world" } });
    expect(templates.find((t: { name: string }) => t.name === "broken")).toMatchObject({ valid: false, problems: ["needs form a cycle: a → a"] });
    const id = (await (await start("parent")).json()).run_id;
    await waitFor(async () => (await view(id)).state === "succeeded", 10_000, "the parent run");
    const parent = await view(id);
    expect(parent.outputs).toEqual({ nested: { greet: `hello ${id}` }, after: `child said hello ${id}` });
    const childId = (await events(id, "?kind=nested_run"))[0]!.data.run_id as string;
    expect(await view(childId)).toMatchObject({ template: "child", state: "succeeded", parent_run_id: id, inputs: { who: id } });

    // Cancelling a parent cancels its nested run (here waiting at a gate).
    const wrapper = (await (await start("wrapper")).json()).run_id;
    await waitFor(async () => (await events(wrapper, "?kind=nested_run")).length === 1, 5000, "the nested run");
    const inner = (await events(wrapper, "?kind=nested_run"))[0]!.data.run_id as string;
    await waitFor(async () => (await approvalFor(inner)) !== undefined, 5000, "the nested gate");
    expect((await g.api(`/api/v1/pipelines/${wrapper}/cancel`, { ...json("POST"), auth: operator })).status).toBe(202);
    await waitFor(async () => (await view(wrapper)).state === "cancelled", 5000, "the parent to be cancelled");
    expect((await view(inner)).state).toBe("cancelled");
  }, 20_000);

  test("inputs are data: script phases bind them as values, command and agent phases act with the starter's role", async () => {
    const hostile = "'); globalThis.owned = true; ('";
    const byOperator = await (await start("shout", { text: hostile })).json();
    expect(byOperator).toMatchObject({ actor: "key:pipelines-operator", role: "operator" });
    await waitFor(async () => (await view(byOperator.run_id)).state === "failed", 10_000, "the operator's run to fail at its admin-only command");
    const operatorRun = await view(byOperator.run_id);
    expect(operatorRun.outputs.loud).toBe(hostile.toUpperCase());
    expect(phase(operatorRun, "twice")).toMatchObject({ state: "failed" });
    expect(String(phase(operatorRun, "twice").error)).toContain("admin");

    const byAdmin = await (await start("shout", { text: "fine", n: 21 }, ADMIN_KEY)).json();
    expect(byAdmin.role).toBe("admin");
    await waitFor(async () => (await view(byAdmin.run_id)).state === "succeeded", 10_000, "the admin's run");
    expect((await view(byAdmin.run_id)).outputs).toMatchObject({ loud: "FINE", twice: { result: 42 } });

    const templates = (await (await g.api("/api/v1/pipelines/templates", { auth: viewer })).json()).templates as { name: string; valid: boolean; problems: string[] }[];
    expect(templates.find((t) => t.name === "quoted")?.problems.join()).toContain("inside a string literal");
    expect(templates.find((t) => t.name === "picked")?.problems.join()).toContain("command's name must be written out");
    expect((await start("picked", { cmd: "scripts:run" }, ADMIN_KEY)).status).toBe(400);
  }, 20_000);

  test("/pipelines:run and /pipelines:status start and read runs", async () => {
    const invoked = await g.api("/api/v1/plugins/commands/pipelines:run/invoke", json("POST", { arguments: "release model=qwen" }));
    expect(invoked.status).toBe(200);
    const runId = (await invoked.json()).result.run_id;
    const status = await (await g.api("/api/v1/plugins/commands/pipelines:status/invoke", json("POST", { arguments: runId }))).json();
    expect(status.result).toMatchObject({ run_id: runId, template: "release", inputs: { model: "qwen" }, actor: "command:/pipelines:run" });
    await waitFor(async () => (await approvalFor(runId)) !== undefined, 20_000, "the gate");
    await g.api(`/api/v1/pipelines/${runId}/cancel`, json("POST"));
    await waitFor(async () => (await view(runId)).state === "cancelled", 5000, "cancel at the gate");
  }, 30_000);
});
