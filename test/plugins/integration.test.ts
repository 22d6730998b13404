// The plugins together: a cron job runs an agent, the agent's model (an instance) calls an MCP
// server's tool under an allow rule, and every layer records what happened.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { BUILTIN_PLUGINS, createStandInModel, json, STAND_IN_MCP_SERVER, startGantry, waitForMcpServer, type TestGantry } from "../helpers.ts";

let g: TestGantry;

beforeAll(async () => {
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      rate_limit: { enabled: false },
      plugin: {
        mcp: { servers: { calc: { command: process.execPath, args: [STAND_IN_MCP_SERVER] } } },
        agent: { default_model: "brain", agents: { nightly: { prompt: "Add numbers with the tool.", tools: ["mcp:calc/add"], allow: ["mcp:calc/add"] } } },
      },
    },
  });
  await createStandInModel(g, "brain");
  await waitForMcpServer(g, "calc");
});
afterAll(() => g.stop());

test("cron → agent → model instance (started on demand) → MCP tool, recorded at every step", async () => {
  const job = await (await g.api("/api/v1/cron/jobs", json("POST", { name: "nightly-sum", schedule: "0 3 * * *", command: '/agent:run nightly CALL mcp__calc__add {"a": 40, "b": 2}' }))).json();
  expect(job.id).toMatch(/^cj_/);
  const run = await (await g.api(`/api/v1/cron/jobs/${job.id}/run`, json("POST"))).json();
  expect(run).toMatchObject({ status: "succeeded", trigger: "manual" });
  expect(run.result).toMatchObject({ status: "succeeded", output: "Tool said: 42", error: null });
  const agentRun = await (await g.api(`/api/v1/agents/runs/${run.result.run_id}`)).json();
  expect(agentRun).toMatchObject({ agent: "nightly", actor: "command:/agent:run" });
  expect(agentRun.steps.find((s: { type: string }) => s.type === "tool")).toMatchObject({ tool: "mcp:calc/add", decision: "allow", outcome: "ran", result: "42" });
  expect((await (await g.api("/api/v1/instances/brain")).json()).status).toBe("running"); // started on demand by the agent's first turn
});
