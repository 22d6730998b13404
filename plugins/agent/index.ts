/** agents: models using tools under permission rules with human approvals (agents, approvals, permissions). */
import { definePlugin, type CommandCaller } from "gantry/plugin";
import { configuredAgents, pluginAgents, type AgentSpec } from "./definitions.ts";
import { fileTools } from "./file-tools.ts";
import { AgentHooks } from "./hooks.ts";
import type { Decision, Rules } from "./permissions.ts";
import { shellWebTools } from "./shell-web-tools.ts";
import { skillTool } from "./skill-tool.ts";
import { agentRoutes, runView } from "./routes.ts";
import { AgentRunner } from "./runner.ts";
import { AgentStore } from "./store.ts";

interface AgentsConfig {
  agents: Record<string, Record<string, unknown>>;
  default_model: string;
  default_permission: Decision;
  max_turns: number;
  approval_timeout_s: number;
  tool_result_max_chars: number;
  runs_kept: number;
  workspaces: string[];
  permissions: Partial<Rules>;
  bash_timeout_s: number;
  bash_max_output_chars: number;
  web_fetch_max_chars: number;
  task_max_depth: number;
}

const stringList = (value: unknown, key: string): string[] => {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) throw new Error(`plugin.agent.${key} must be a list of strings`);
  return value;
};

export default definePlugin({
  name: "agent",
  async setup(ctx) {
    const config = ctx.config as unknown as AgentsConfig;
    if (!["allow", "ask", "deny"].includes(config.default_permission)) throw new Error(`plugin.agent.default_permission must be allow, ask or deny, not '${config.default_permission}'`);
    const commands = ctx.services.consume("core.commands");
    const store = new AgentStore(ctx.db);
    const closed = await store.closeInterrupted(ctx.services.consume("core.info").startedAt);
    if (closed.runs + closed.gates > 0) ctx.log.warn(closed, "agent runs and approval gates left open by a previous gantry process are closed");
    const { agents: configured, problems } = configuredAgents(config.agents, config.max_turns);
    for (const problem of problems) ctx.log.warn({ problem }, "agent skipped");
    const declared = ctx.services.consume("core.agents");
    const agents = (): AgentSpec[] => [...configured, ...pluginAgents(declared, config.max_turns)];
    const agentNamed = (name: string) => agents().find((a) => a.name === name);
    // Task names agents as Claude Code does (`code-reviewer`); a plugin agent is also found by its name without the plugin.
    const agentForTask = (name: string) => agentNamed(name) ?? (([only, ...others]) => (others.length === 0 ? only : undefined))(agents().filter((a) => a.name.endsWith(`:${name}`)));
    const workspaces = stringList(config.workspaces, "workspaces");
    const permissions: Rules = { allow: stringList(config.permissions?.allow, "permissions.allow"), ask: stringList(config.permissions?.ask, "permissions.ask"), deny: stringList(config.permissions?.deny, "permissions.deny") };
    const mcpService = ctx.services.consume("mcp");
    // The mcp plugin is optional: without it agents are offered slash commands only.
    const mcp = () => (ctx.services.has("mcp") ? mcpService : undefined);
    const settings = () => ({
      defaultModel: config.default_model, defaultPermission: config.default_permission, approvalTimeoutS: config.approval_timeout_s,
      toolResultMaxChars: config.tool_result_max_chars, runsKept: config.runs_kept, permissions, taskMaxDepth: config.task_max_depth,
    });
    const runner = ctx.keep("runner", (scope) => new AgentRunner(scope, store), (kept) => kept.close());
    // Shells and hooks run as children of the kept runner (a reload does not cut them short).
    const spawn = runner.spawn.bind(runner);
    const skills = ctx.services.consume("core.skills");
    const toolSettings = () => ({
      workspaces, paths: ctx.paths, bashTimeoutS: config.bash_timeout_s, bashMaxOutputChars: config.bash_max_output_chars,
      webFetchMaxChars: config.web_fetch_max_chars,
    });
    const builtins = () => [...fileTools(() => workspaces, ctx.paths), ...shellWebTools({ spawn, signal: ctx.signal, outbound: ctx.services.consume("core.outbound") }, toolSettings), ...[skillTool(skills)].filter((t) => t !== null)];
    const hooks = new AgentHooks(spawn, () => ctx.services.get("core.hooks"), () => workspaces[0]);
    runner.configure({ inference: ctx.services.consume("inference"), commands, mcp, settings, builtins, hooks, agentNamed: agentForTask });

    ctx.routes(agentRoutes({ agents, runner, store, commands, mcp, builtins, identity: ctx.services.consume("core.identity"), settings }), { prefix: "" });
    // For other plugins (batch): run an agent to its end, read a run.
    ctx.services.provide("agent-runs", {
      has: (name: string) => agentNamed(name) !== undefined,
      async run(name: string, input: string, actor: string, caller: CommandCaller) {
        const agent = agentNamed(name);
        if (!agent) throw new Error(`no agent '${name}'`);
        return runView(await (await runner.start(agent, input, actor, caller)).finished);
      },
    });
    // For other plugins (pipelines): gates of their own, decided at /api/v1/approvals like tool-call gates.
    ctx.services.provide("approvals", {
      async open(request) {
        const gate = await store.openGate(request.runId, request.agent, request.tool, request.arguments, null, request.requestedBy ?? null);
        ctx.emit("approval_requested", { gate_id: gate.id, run_id: request.runId, agent: request.agent, tool: request.tool, arguments: request.arguments, requested_by: request.requestedBy ?? null });
        return { id: gate.id };
      },
      async status(id) {
        const gate = await store.gate(id);
        return gate ? { status: gate.status, decidedBy: gate.decidedBy, note: gate.note } : undefined;
      },
    });
    // From the CLI (gantry /agent:run ops "check the model servers") or a cron job.
    ctx.command("run", {
      description: "Run an agent with the rest of the line as its input; answers the run (or where it waits for approval)",
      argumentHint: "<agent> <input...>",
      run: async ({ arguments: line, caller }) => {
        const [name = "", ...rest] = line.trim().split(/\s+/);
        const agent = agentNamed(name);
        if (!agent) throw new Error(`no agent '${name}'; list them at GET /api/v1/agents`);
        const input = line.trim().slice(name.length).trim();
        if (!input && rest.length === 0) throw new Error("give the agent an input after its name");
        const { run } = await runner.settle(await runner.start(agent, input, "command:/agent:run", caller));
        return { run_id: run.id, status: run.status, output: run.output, error: run.error };
      },
    });
    // Markdown slash commands run here (the rendered prompt as the input of a one-off agent) once a
    // default model is set; without one they keep answering their rendered prompt.
    if (!config.default_model) return;
    ctx.services.provide("agents", {
      workingDirectory: () => workspaces[0],
      async runPrompt(request: { prompt: string; allowedTools: string[]; model: string | null; command: string; caller: CommandCaller }) {
        const agent: AgentSpec = {
          name: `command:${request.command}`, description: `/${request.command}`, source: "command", plugin: null, model: null,
          // allowed-tools are what Claude Code runs without asking: offered and allowed.
          tools: request.allowedTools, allow: request.allowedTools, ask: [], deny: [], maxTurns: config.max_turns, prompt: "You carry out the user's request.",
        };
        const run = await (await runner.start(agent, request.prompt, `command:/${request.command}`, request.caller)).finished;
        if (run.status !== "succeeded") throw new Error(run.error ?? "the agent run failed");
        return { run_id: run.id, output: run.output };
      },
    });
  },
});
