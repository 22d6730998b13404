/** The agents, approvals and permissions routes. */
import { QueryLimit, createError, defineErrors, Nullable, t, type CommandCaller, type CoreCommandsService, type CoreIdentityService, type McpToolsService, type RolesApp } from "gantry/plugin";
import type { AgentSpec } from "./definitions.ts";
import type { Decision, Rules } from "./permissions.ts";
import type { AgentRunner } from "./runner.ts";
import type { AgentStore, ApprovalRow, DenialRow, RunRow } from "./store.ts";
import { toolCatalog, type Tool } from "./tool-catalog.ts";

export const AgentErrors = defineErrors("agent", {
  AGENT_NOT_FOUND: createError("AGENT_NOT_FOUND", 404, (name: string) => `No agent '${name}'; list them at GET /api/v1/agents`),
  RUN_NOT_FOUND: createError("RUN_NOT_FOUND", 404, (id: string) => `No agent run '${id}'`),
  GATE_NOT_FOUND: createError("GATE_NOT_FOUND", 404, (id: string) => `No approval gate '${id}'`),
  GATE_DECIDED: createError("GATE_DECIDED", 409, (id: string, status: string) => `Approval gate '${id}' is already ${status}`),
  GATE_FOUR_EYES: createError("GATE_FOUR_EYES", 403, (id: string) => `Approval gate '${id}' was requested by you: someone else must approve it (four-eyes)`),
});

export interface AgentRouteParts {
  agents: () => AgentSpec[];
  runner: AgentRunner;
  store: AgentStore;
  commands: CoreCommandsService;
  mcp: () => McpToolsService | undefined;
  builtins: () => Tool[];
  identity: CoreIdentityService;
  settings: () => { defaultModel: string; defaultPermission: Decision; permissions: Rules };
}

const Rules = t.Object({ allow: t.Array(t.String()), ask: t.Array(t.String()), deny: t.Array(t.String()), default: t.String() });
const AgentView = t.Object({
  name: t.String(), description: t.String(), source: t.String(), plugin: Nullable(t.String()),
  model: Nullable(t.String({ description: "the instance that answers (default_model when the agent names none)" })),
  tools: t.Array(t.String(), { description: "patterns of the tools offered" }), rules: Rules, max_turns: t.Integer(),
});
const RunView = t.Object({
  id: t.String(), agent: t.String(), actor: t.String(), status: t.Union([t.Literal("running"), t.Literal("waiting_approval"), t.Literal("succeeded"), t.Literal("failed")]),
  input: t.String(), output: Nullable(t.String()), error: Nullable(t.String()), steps: t.Array(t.Unknown()), started_at: t.String(), finished_at: Nullable(t.String()),
});
const GateView = t.Object({
  id: t.String(), run_id: t.String(), agent: t.String(), tool: t.String(), arguments: t.Record(t.String(), t.Unknown()), rule: Nullable(t.String()),
  status: t.Union([t.Literal("pending"), t.Literal("approved"), t.Literal("rejected"), t.Literal("expired")]),
  requested_at: t.String(), requested_by: Nullable(t.String({ description: "who asked for the gate (gates opened by other plugins); they cannot approve it" })), decided_at: Nullable(t.String()), decided_by: Nullable(t.String()), note: Nullable(t.String()),
});
const DenialSource = t.Union([t.Literal("rule"), t.Literal("hook"), t.Literal("rejected"), t.Literal("expired"), t.Literal("not_offered")]);
const Limit = QueryLimit(1000, "default 100");

export const runView = (r: RunRow) => ({
  id: r.id, agent: r.agent, actor: r.actor, status: r.status, input: r.input, output: r.output, error: r.error, steps: r.steps,
  started_at: r.startedAt.toISOString(), finished_at: r.finishedAt?.toISOString() ?? null,
});
const gateView = (g: ApprovalRow) => ({
  id: g.id, run_id: g.runId, agent: g.agent, tool: g.tool, arguments: g.arguments, rule: g.rule, status: g.status,
  requested_at: g.requestedAt.toISOString(), requested_by: g.requestedBy, decided_at: g.decidedAt?.toISOString() ?? null, decided_by: g.decidedBy, note: g.note,
});
const denialView = (d: DenialRow) => ({ id: d.id, at: d.at.toISOString(), agent: d.agent, run_id: d.runId, tool: d.tool, source: d.source, rule: d.rule, reason: d.reason });

export function agentRoutes(p: AgentRouteParts) {
  const agentView = (a: AgentSpec) => ({
    name: a.name, description: a.description, source: a.source, plugin: a.plugin, model: a.model ?? (p.settings().defaultModel || null),
    tools: a.tools, rules: { allow: a.allow, ask: a.ask, deny: a.deny, default: p.settings().defaultPermission }, max_turns: a.maxTurns,
  });
  const find = (name: string) => {
    const agent = p.agents().find((a) => a.name === name);
    if (!agent) throw AgentErrors.AGENT_NOT_FOUND([name]);
    return agent;
  };
  const actorOf = async (request: Request) => (await p.identity.identify(request))?.subject ?? "unknown";
  const decideGate = async (id: string, approved: boolean, note: string | null, request: Request) => {
    const actor = await actorOf(request);
    // Four-eyes: whoever asked for a gate may withdraw it (reject) but not approve it.
    if (approved && (await p.store.gate(id))?.requestedBy === actor) throw AgentErrors.GATE_FOUR_EYES([id]);
    const gate = await p.runner.decide(id, approved, actor, note);
    if (gate) return gateView(gate);
    const existing = await p.store.gate(id);
    throw existing ? AgentErrors.GATE_DECIDED([id, existing.status]) : AgentErrors.GATE_NOT_FOUND([id]);
  };

  return (app: RolesApp) =>
    app
      .get("/api/v1/agents", () => ({ agents: p.agents().map(agentView) }), {
        role: "viewer", response: t.Object({ agents: t.Array(AgentView) }), detail: { summary: "Agents from config and plugins", tags: ["agents"] },
      })
      .get("/api/v1/agents/tools", async () => ({
        tools: (await toolCatalog(p.commands, p.mcp(), p.builtins(), { role: "admin" })).map((tool) => ({ id: tool.id, source: tool.source, description: tool.description, parameters: tool.parameters })), // every tool; a run sees those its starter's role allows
      }), {
        role: "viewer",
        response: t.Object({ tools: t.Array(t.Object({ id: t.String(), source: t.Union([t.Literal("builtin"), t.Literal("command"), t.Literal("mcp")]), description: t.String(), parameters: t.Record(t.String(), t.Unknown()) })) }),
        detail: { summary: "Every tool an agent can be offered: Claude Code's standard tools, slash commands and connected MCP servers' tools", tags: ["agents"] },
      })
      .get("/api/v1/agents/runs", async ({ query }) => ({ runs: (await p.store.runs(query.agent, query.limit ?? 100)).map(runView) }), {
        role: "viewer", query: t.Object({ agent: t.Optional(t.String({ maxLength: 200 })), limit: Limit }),
        response: t.Object({ runs: t.Array(RunView) }), detail: { summary: "Agent runs, newest first", tags: ["agents"] },
      })
      .get("/api/v1/agents/runs/:id", async ({ params }) => {
        const run = await p.store.run(params.id);
        if (!run) throw AgentErrors.RUN_NOT_FOUND([params.id]);
        return runView(run);
      }, { role: "viewer", params: t.Object({ id: t.String({ maxLength: 64 }) }), response: RunView, detail: { summary: "One run with every model turn and tool call", tags: ["agents"] } })
      .get("/api/v1/agents/:name", ({ params }) => {
        const agent = find(params.name);
        return { ...agentView(agent), prompt: agent.prompt };
      }, {
        role: "viewer", params: t.Object({ name: t.String({ maxLength: 200 }) }), response: t.Object({ ...AgentView.properties, prompt: t.String() }),
        detail: { summary: "An agent's definition: model, tools, rules, prompt", tags: ["agents"] },
      })
      .post("/api/v1/agents/:name/invoke", async ({ params, body, request, set }) => {
        const identity = await p.identity.identify(request);
        const started = await p.runner.start(find(params.name), body.input, identity?.subject ?? "unknown", { role: (identity?.role ?? "viewer") as CommandCaller["role"] });
        started.finished.catch(() => undefined);
        if (body.wait === false) {
          set.status = 202;
          return runView(started.run);
        }
        const { run, ended } = await p.runner.settle(started);
        if (!ended) set.status = 202; // held at an approval gate: decide it at /api/v1/approvals, then read the run
        return runView(run);
      }, {
        role: { min: "operator", rateLimit: "expensive" }, params: t.Object({ name: t.String({ maxLength: 200 }) }),
        body: t.Object({
          input: t.String({ minLength: 1, maxLength: 65_536, description: "what the agent is asked" }),
          wait: t.Optional(t.Boolean({ description: "default true: answer when the run ends or stops at an approval gate (202)" })),
        }),
        response: { 200: RunView, 202: RunView },
        detail: { summary: "Run an agent (outside a pipeline)", tags: ["agents"] },
      })
      .get("/api/v1/approvals", async ({ query }) => ({ approvals: (await p.store.gates(query.status, query.limit ?? 100)).map(gateView) }), {
        role: "viewer", query: t.Object({ status: t.Optional(GateView.properties.status), limit: Limit }),
        response: t.Object({ approvals: t.Array(GateView) }), detail: { summary: "Approval gates, pending and decided, newest first", tags: ["approvals"] },
      })
      .post("/api/v1/approvals/:id/approve", ({ params, body, request }) => decideGate(params.id, true, body?.comment ?? null, request), {
        role: "operator", params: t.Object({ id: t.String({ maxLength: 64 }) }), body: t.Optional(t.Object({ comment: t.Optional(t.String({ maxLength: 2000 })) })),
        response: GateView, detail: { summary: "Approve a held tool call; the run goes on", tags: ["approvals"] },
      })
      .post("/api/v1/approvals/:id/reject", ({ params, body, request }) => decideGate(params.id, false, body?.reason ?? null, request), {
        role: "operator", params: t.Object({ id: t.String({ maxLength: 64 }) }), body: t.Optional(t.Object({ reason: t.Optional(t.String({ maxLength: 2000 })) })),
        response: GateView, detail: { summary: "Reject a held tool call; the model is told it was denied", tags: ["approvals"] },
      })
      .get("/api/v1/permissions/rules", () => ({
        default: p.settings().defaultPermission,
        shared: p.settings().permissions,
        agents: p.agents().map((a) => ({ agent: a.name, source: a.source, tools: a.tools, allow: a.allow, ask: a.ask, deny: a.deny })),
      }), {
        role: "viewer",
        response: t.Object({ default: t.String(), shared: t.Object({ allow: t.Array(t.String()), ask: t.Array(t.String()), deny: t.Array(t.String()) }, { description: "plugin.agent.permissions: checked for every agent after its own rules" }), agents: t.Array(t.Object({ agent: t.String(), source: t.String(), tools: t.Array(t.String()), allow: t.Array(t.String()), ask: t.Array(t.String()), deny: t.Array(t.String()) })) }),
        detail: { summary: "The rules of every agent and those shared by all (deny, then a PreToolUse hook's decision, then ask, then allow, then the tool's default)", tags: ["permissions"] },
      })
      .get("/api/v1/permissions/denials", async ({ query }) => ({
        denials: (await p.store.denials({ agent: query.agent, tool: query.tool, source: query.source, since: query.since ? new Date(query.since) : undefined, limit: query.limit ?? 100 })).map(denialView),
      }), {
        role: "viewer",
        query: t.Object({ agent: t.Optional(t.String({ maxLength: 200 })), tool: t.Optional(t.String({ maxLength: 400 })), source: t.Optional(DenialSource), since: t.Optional(t.String({ format: "date-time" })), limit: Limit }),
        response: t.Object({ denials: t.Array(t.Object({ id: t.Integer(), at: t.String(), agent: t.String(), run_id: t.String(), tool: t.String(), source: DenialSource, rule: Nullable(t.String()), reason: t.String() })) }),
        detail: { summary: "Tool calls that did not run, newest first", tags: ["permissions"] },
      });
}
