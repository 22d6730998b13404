import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ADMIN_KEY, BUILTIN_PLUGINS, createStandInModel, FIXTURES, json, STAND_IN_MCP_SERVER, startGantry, waitFor, waitForMcpServer, type TestGantry } from "../helpers.ts";

let g: TestGantry;
let viewer: string;
let operator: string;

beforeAll(async () => {
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      rate_limit: { enabled: false },
      plugin: {
        mcp: { servers: { tools: { command: process.execPath, args: [STAND_IN_MCP_SERVER] } } },
        agent: {
          default_model: "brain",
          approval_timeout_s: 3,
          agents: {
            helper: { description: "Runs scripts, asks before cron", prompt: "You help.", tools: ["/scripts:*", "/cron:*", "mcp:tools/*"], allow: ["/scripts:run", "mcp:tools/add"], ask: ["/cron:*"], deny: ["mcp:tools/crash"] },
            brief: { prompt: "One turn only.", tools: ["/scripts:run"], allow: ["*"], max_turns: 1 },
            lost: { prompt: "No such model.", model: "ghost" },
            broken: { tools: ["*"] },
          },
        },
      },
    },
  });
  viewer = (await g.gantry.security.keys.create("agent-viewer", "viewer")).key;
  operator = (await g.gantry.security.keys.create("agent-operator", "operator")).key;
  await createStandInModel(g, "brain");
  await waitForMcpServer(g, "tools");
});
afterAll(() => g.stop());

const invoke = (agent: string, input: string, auth?: string) => g.api(`/api/v1/agents/${agent}/invoke`, { ...json("POST", { input }), ...(auth ? { auth } : {}) });
type ToolStep = { type: string; tool: string; decision: string; outcome: string; result: string; gate_id: string | null };
const toolSteps = (run: { steps: ToolStep[] }) => run.steps.filter((s) => s.type === "tool");

describe("definitions", () => {
  test("agents from config are listed with model, tools and rules; a broken entry is skipped; viewers read", async () => {
    const { agents } = await (await g.api("/api/v1/agents", { auth: viewer })).json();
    expect(agents.map((a: { name: string }) => a.name)).toEqual(["helper", "brief", "lost"]);
    expect(agents[0]).toMatchObject({ source: "config", model: "brain", tools: ["/scripts:*", "/cron:*", "mcp:tools/*"], rules: { allow: ["/scripts:run", "mcp:tools/add"], ask: ["/cron:*"], deny: ["mcp:tools/crash"], default: "ask" }, max_turns: 8 });
    expect((await (await g.api("/api/v1/agents/helper")).json()).prompt).toBe("You help.");
    expect((await g.api("/api/v1/agents/broken")).status).toBe(404);
    const { tools } = await (await g.api("/api/v1/agents/tools", { auth: viewer })).json();
    expect(tools.map((t: { id: string }) => t.id)).toEqual(expect.arrayContaining(["/scripts:run", "/cron:list", "mcp:tools/add"]));
    const rules = await (await g.api("/api/v1/permissions/rules", { auth: viewer })).json();
    expect(rules.default).toBe("ask");
    expect(rules.agents.find((a: { agent: string }) => a.agent === "helper").deny).toEqual(["mcp:tools/crash"]);
    expect((await invoke("helper", "hi", viewer)).status).toBe(403);
  });
});

describe("runs", () => {
  test("an allowed tool runs and its result goes back to the model; commands above the starter's role are not offered", async () => {
    // /scripts:run is an admin command: a run an operator starts is not offered it.
    const asOperator = await (await invoke("helper", 'CALL scripts__run {"arguments": "6 * 7"}', operator)).json();
    expect(asOperator).toMatchObject({ actor: "key:agent-operator", status: "succeeded" });
    expect(asOperator.output).toContain("is not offered to this agent");
    const res = await invoke("helper", 'CALL scripts__run {"arguments": "6 * 7"}');
    expect(res.status).toBe(200);
    const run = await res.json();
    expect(run).toMatchObject({ agent: "helper", actor: "key:bootstrap-admin", status: "succeeded", error: null });
    expect(run.output).toBe('Tool said: {"result":42,"logs":[]}');
    expect(toolSteps(run)).toMatchObject([{ tool: "/scripts:run", decision: "allow", outcome: "ran" }]);
    const mcp = await (await invoke("helper", 'CALL mcp__tools__add {"a": 2, "b": 3}')).json();
    expect(mcp.output).toBe("Tool said: 5");
    expect((await (await g.api(`/api/v1/agents/runs/${run.id}`, { auth: viewer })).json()).status).toBe("succeeded");
    expect((await (await g.api("/api/v1/agents/runs?agent=helper")).json()).runs.length).toBeGreaterThanOrEqual(2);
  });

  test("an ask rule holds the call at an approval gate until an operator approves; events announce it", async () => {
    const ws = new WebSocket(`${g.url.replace("http", "ws")}/api/v1/ws?api_key=${ADMIN_KEY}&types=approval_requested`);
    const requested: { data: { gate_id: string; tool: string } }[] = [];
    ws.onmessage = (m) => requested.push(JSON.parse(String(m.data)));
    await new Promise((resolve) => (ws.onopen = resolve));
    const held = await invoke("helper", "CALL cron__list {}");
    expect(held.status).toBe(202);
    const run = await held.json();
    expect(run.status).toBe("waiting_approval");
    const { approvals } = await (await g.api("/api/v1/approvals?status=pending", { auth: viewer })).json();
    const gate = approvals.find((a: { run_id: string }) => a.run_id === run.id);
    expect(gate).toMatchObject({ agent: "helper", tool: "/cron:list", rule: "ask: /cron:*", status: "pending" });
    await waitFor(() => requested.some((e) => e.data.gate_id === gate.id), 2000, "approval_requested");
    ws.close();
    expect((await g.api(`/api/v1/approvals/${gate.id}/approve`, { ...json("POST", {}), auth: viewer })).status).toBe(403);
    const approved = await (await g.api(`/api/v1/approvals/${gate.id}/approve`, { ...json("POST", { comment: "ok" }), auth: operator })).json();
    expect(approved).toMatchObject({ status: "approved", decided_by: "key:agent-operator", note: "ok" });
    const again = await g.api(`/api/v1/approvals/${gate.id}/reject`, json("POST", {}));
    expect([again.status, (await again.json()).code]).toEqual([409, "GATE_DECIDED"]);
    expect((await g.api("/api/v1/approvals/gate_nope/approve", json("POST", {}))).status).toBe(404);
    await waitFor(async () => (await (await g.api(`/api/v1/agents/runs/${run.id}`)).json()).status === "succeeded", 3000, "the run to finish");
    const done = await (await g.api(`/api/v1/agents/runs/${run.id}`)).json();
    expect(done.output).toBe("Tool said: []");
    expect(toolSteps(done)).toMatchObject([{ tool: "/cron:list", decision: "ask", outcome: "ran", gate_id: gate.id }]);
  });

  test("a run waiting at a gate goes on after a plugin reload once the gate is decided through the new instance", async () => {
    const held = await (await invoke("helper", "CALL cron__list {}")).json();
    expect(held.status).toBe("waiting_approval");
    expect((await g.api("/api/v1/plugins/agent/reload", json("POST"))).status).toBe(200);
    const gate = (await (await g.api("/api/v1/approvals?status=pending")).json()).approvals.find((a: { run_id: string }) => a.run_id === held.id);
    expect((await g.api(`/api/v1/approvals/${gate.id}/approve`, json("POST", {}))).status).toBe(200);
    await waitFor(async () => (await (await g.api(`/api/v1/agents/runs/${held.id}`)).json()).status === "succeeded", 2500, "the run to go on");
  });

  test("rejected, expired, denied by rule and not offered: the model is told, the denial is logged", async () => {
    const held = await (await invoke("helper", "CALL cron__list {}")).json();
    const gate = (await (await g.api("/api/v1/approvals?status=pending")).json()).approvals.find((a: { run_id: string }) => a.run_id === held.id);
    await g.api(`/api/v1/approvals/${gate.id}/reject`, json("POST", { reason: "not now" }));
    await waitFor(async () => (await (await g.api(`/api/v1/agents/runs/${held.id}`)).json()).status === "succeeded", 3000, "the rejected run to end");
    expect((await (await g.api(`/api/v1/agents/runs/${held.id}`)).json()).output).toBe("Tool said: Permission denied: rejected by key:bootstrap-admin: not now");

    const expiring = await (await invoke("helper", "CALL cron__list {}")).json();
    await waitFor(async () => (await (await g.api(`/api/v1/agents/runs/${expiring.id}`)).json()).status === "succeeded", 6000, "the gate to expire");
    expect((await (await g.api(`/api/v1/agents/runs/${expiring.id}`)).json()).output).toBe("Tool said: Permission denied: no decision within 3 s");

    const denied = await (await invoke("helper", "CALL mcp__tools__crash {}")).json();
    expect(toolSteps(denied)).toMatchObject([{ tool: "mcp:tools/crash", decision: "deny", outcome: "denied" }]);
    expect((await (await g.api("/api/v1/mcp/servers/tools")).json()).status).toBe("connected"); // it did not run
    const unoffered = await (await invoke("helper", "CALL infra__anything {}")).json();
    expect(toolSteps(unoffered)).toMatchObject([{ tool: "infra__anything", decision: "not_offered", outcome: "denied" }]);

    const { denials } = await (await g.api("/api/v1/permissions/denials?agent=helper", { auth: viewer })).json();
    expect(denials.map((d: { source: string }) => d.source)).toEqual(expect.arrayContaining(["rejected", "expired", "rule", "not_offered"]));
    const byRule = (await (await g.api("/api/v1/permissions/denials?source=rule")).json()).denials;
    expect(byRule[0]).toMatchObject({ tool: "mcp:tools/crash", rule: "deny: mcp:tools/crash", reason: "denied by rule 'deny: mcp:tools/crash'" });
    expect((await g.api("/api/v1/permissions/denials?source=bogus")).status).toBe(400);
  });

  test("a run fails with the reason: unknown model, max_turns reached; bad input is 400", async () => {
    const lost = await (await invoke("lost", "hello")).json();
    expect(lost).toMatchObject({ status: "failed", error: "The model 'ghost' does not exist" });
    const brief = await (await invoke("brief", 'CALL scripts__run {"arguments": "1"}')).json();
    expect(brief).toMatchObject({ status: "failed", error: "stopped after max_turns (1) model turns" });
    expect((await g.api("/api/v1/agents/helper/invoke", json("POST", { input: "" }))).status).toBe(400);
    expect((await invoke("nobody", "hi")).status).toBe(404);
  });

  test("/agent:run runs an agent from a slash command (CLI, cron jobs)", async () => {
    const res = await g.api("/api/v1/plugins/commands/agent:run/invoke", json("POST", { arguments: 'helper CALL scripts__run {"arguments": "2 + 2"}' }));
    expect(res.status).toBe(200);
    expect((await res.json()).result).toMatchObject({ status: "succeeded", output: 'Tool said: {"result":4,"logs":[]}', error: null });
    const missing = await g.api("/api/v1/plugins/commands/agent:run/invoke", json("POST", { arguments: "nobody hi" }));
    expect([missing.status, (await missing.json()).error]).toEqual([422, "Command 'agent:run' failed: no agent 'nobody'; list them at GET /api/v1/agents"]);
  });

  test("markdown slash commands run as one-off agents on the default model", async () => {
    expect((await g.api("/api/v1/plugins", json("POST", { path: join(FIXTURES, "claude-plugins", "code-review") }))).status).toBe(201);
    const res = await g.api("/api/v1/plugins/commands/code-review:review/invoke", json("POST", { arguments: "feature-x security" }));
    expect(res.status).toBe(200);
    const answer = await res.json();
    expect(answer).toMatchObject({ kind: "markdown", ran_as_agent: true });
    expect(answer.result.output).toStartWith("You said: Review the changes on branch feature-x compared with main.");
    expect((await (await g.api(`/api/v1/agents/runs/${answer.result.run_id}`)).json()).agent).toBe("command:code-review:review");
    expect((await (await g.api("/api/v1/agents")).json()).agents.map((a: { name: string }) => a.name)).toContain("code-review:code-reviewer");
  });
});
