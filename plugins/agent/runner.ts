/**
 * Runs an agent: the model (an instance, through the instances plugin's inference service) is
 * offered the agent's tools; each tool call passes the permission rules — denied, held at an
 * approval gate until someone decides, or run — and its result goes back to the model, until the
 * model answers without tool calls or max_turns is reached.
 */
import type { CommandCaller, CoreCommandsService, InferenceService, KeepScope, McpToolsService, SpawnOptions } from "gantry/plugin";
import type { AgentSpec } from "./definitions.ts";
import type { AgentHooks, HookOutcome, HookStep } from "./hooks.ts";
import { decide, offered, type Decision, type Rules } from "./permissions.ts";
import type { AgentStore, ApprovalRow, DenialRow, RunRow } from "./store.ts";
import { functionNames, hookToolName, toolCatalog, type Tool } from "./tool-catalog.ts";

export interface RunnerSettings {
  defaultModel: string;
  defaultPermission: Decision;
  approvalTimeoutS: number;
  toolResultMaxChars: number;
  runsKept: number;
  /** plugin.agent.permissions: rules for every agent, after the agent's own. */
  permissions: Rules;
  /** How deep agents may start agents (Task). */
  taskMaxDepth: number;
}

interface ToolCall {
  id: string;
  function: { name: string; arguments: string };
}

type ModelStep = { type: "model"; content: string | null; tool_calls: { name: string; arguments: string }[] };
type ToolStep = { type: "tool"; tool: string; arguments: Record<string, unknown>; decision: Decision | "not_offered"; rule: string | null; gate_id: string | null; outcome: "ran" | "denied" | "rejected" | "expired" | "error"; result: string };
type Step = ModelStep | ToolStep | HookStep;

/** What runs need from the plugin generation that serves now (re-pointed at each reload). */
export interface RunnerDependencies {
  inference: InferenceService;
  commands: CoreCommandsService;
  mcp: () => McpToolsService | undefined;
  settings: () => RunnerSettings;
  /** Claude Code's standard tools: Read, Glob, Grep, Write, Edit, Bash, WebFetch, Skill (Task is the runner's own). */
  builtins: () => Tool[];
  hooks: AgentHooks;
  /** Finds an agent for Task by name (`plugin:name`, or a name only one agent has). */
  agentNamed(name: string): AgentSpec | undefined;
}

/**
 * Runs live in a kept resource: a run waiting at an approval gate survives a plugin reload and goes
 * on when the gate is decided through the new generation. Events go out through the newest
 * generation's context (`scope.ctx`); timers belong to the kernel (`scope`).
 */
export class AgentRunner {
  /** Gate id → the run waiting on it. */
  readonly #waiting = new Map<string, (gate: ApprovalRow) => void>();
  #deps: RunnerDependencies | undefined;

  constructor(private readonly scope: KeepScope, private readonly store: AgentStore) {}

  /** Called by each generation at setup. */
  configure(deps: RunnerDependencies): void {
    this.#deps = deps;
  }

  private get ctx() {
    return this.scope.ctx;
  }
  private get inference() {
    return this.#deps!.inference;
  }
  private get commands() {
    return this.#deps!.commands;
  }
  private mcp() {
    return this.#deps!.mcp();
  }
  private settings() {
    return this.#deps!.settings();
  }

  /** Children of runs (Bash, hooks) belong to the kept runner: a reload does not cut a command short; they stop with the plugin. */
  spawn(command: string[], options?: SpawnOptions) {
    return this.scope.spawn(command, options);
  }

  /** The plugin goes away: gates still pending expire, so their runs end (and are recorded) instead of hanging. */
  async close(): Promise<void> {
    await Promise.all([...this.#waiting].map(async ([gateId, done]) =>
      done((await this.store.decideGate(gateId, "expired", null, "the agent plugin stopped")) ?? (await this.store.gate(gateId))!)));
  }

  /**
   * Starts a run: recorded before this returns. `finished` resolves with the final run; `blocked`
   * resolves the first time the run waits at an approval gate (it never rejects).
   */
  async start(agent: AgentSpec, input: string, actor: string, caller: CommandCaller, depth = 0): Promise<{ run: RunRow; finished: Promise<RunRow>; blocked: Promise<void> }> {
    const run = await this.store.startRun(agent.name, actor, input);
    let onBlocked = () => {};
    const blocked = new Promise<void>((resolve) => (onBlocked = resolve));
    const finished = this.scope.track(this.#execute(agent, run, onBlocked, caller, depth).finally(() => this.store.pruneRuns(this.settings().runsKept)));
    return { run, finished, blocked };
  }

  /** A started run once it ends (`ended`), or once it first waits at an approval gate. */
  async settle(started: { run: RunRow; finished: Promise<RunRow>; blocked: Promise<void> }): Promise<{ run: RunRow; ended: boolean }> {
    const ended = await Promise.race([started.finished, started.blocked.then(() => undefined)]);
    return ended ? { run: ended, ended: true } : { run: (await this.store.run(started.run.id))!, ended: false };
  }

  /** Decides a gate: the waiting run goes on. Undefined when there is no such pending gate. */
  async decide(gateId: string, approved: boolean, by: string, note: string | null): Promise<ApprovalRow | undefined> {
    const gate = await this.store.decideGate(gateId, approved ? "approved" : "rejected", by, note);
    if (!gate) return undefined;
    this.ctx.emit("approval_decided", { gate_id: gate.id, run_id: gate.runId, agent: gate.agent, tool: gate.tool, status: gate.status, by });
    this.#waiting.get(gateId)?.(gate);
    return gate;
  }

  /** `caller`: whoever started the run; its tools are the commands that role may invoke. */
  async #execute(agent: AgentSpec, run: RunRow, onBlocked: () => void, caller: CommandCaller, depth: number): Promise<RunRow> {
    const settings = this.settings();
    const steps: Step[] = [];
    const hook = async (event: Parameters<AgentHooks["run"]>[0], input: Record<string, unknown>, tool: string | null = null): Promise<HookOutcome> => {
      const outcome = await this.#deps!.hooks.run(event, run.id, input, tool);
      steps.push(...outcome.steps);
      return outcome;
    };
    const finish = async (status: "succeeded" | "failed", output: string | null, error: string | null) => {
      await hook("SessionEnd", { reason: status === "succeeded" ? "other" : "error" }).catch(() => undefined);
      await this.store.updateRun(run.id, { status, output, error, steps, finishedAt: new Date() });
      this.ctx.emit("agent_run", { run_id: run.id, agent: agent.name, status, error });
      return (await this.store.run(run.id))!;
    };
    try {
      const model = agent.model ?? settings.defaultModel;
      if (!model) throw new Error("no model: the agent names none and plugin.agent.default_model is empty");
      const builtins = [...this.#deps!.builtins(), ...(depth < settings.taskMaxDepth ? [this.#taskTool(run, depth, caller)] : [])];
      const catalog = (await toolCatalog(this.commands, this.mcp(), builtins, caller)).filter((tool) => offered(agent, tool.id));
      const byName = functionNames(catalog);
      const tools = [...byName].map(([name, tool]) => ({ type: "function", function: { name, description: tool.description, parameters: tool.parameters } }));
      const started = await hook("SessionStart", { source: "startup" });
      const submitted = await hook("UserPromptSubmit", { prompt: run.input });
      if (submitted.blocked) return await finish("failed", null, `the prompt was blocked by a UserPromptSubmit hook: ${submitted.blocked}`);
      const system = [agent.prompt, ...started.context].join("\n\n");
      const messages: Record<string, unknown>[] = [{ role: "system", content: system }, { role: "user", content: [run.input, ...submitted.context].join("\n\n") }];
      let stopHookActive = false;
      for (let turn = 0; turn < agent.maxTurns; turn++) {
        const answer = await this.inference.chatCompletion({ model, messages, ...(tools.length > 0 ? { tools } : {}) });
        const message = ((answer.choices as { message?: Record<string, unknown> }[] | undefined)?.[0]?.message) ?? {};
        const calls = (message.tool_calls as ToolCall[] | undefined) ?? [];
        const content = typeof message.content === "string" ? message.content : null;
        steps.push({ type: "model", content, tool_calls: calls.map((c) => ({ name: c.function.name, arguments: c.function.arguments })) });
        messages.push({ role: "assistant", content, ...(calls.length > 0 ? { tool_calls: calls } : {}) });
        if (calls.length === 0) {
          // A Stop hook that blocks sends the model back to work with its reason (once per answer).
          const stop = await hook("Stop", { stop_hook_active: stopHookActive });
          if (!stop.blocked || turn + 1 >= agent.maxTurns) return await finish("succeeded", content ?? "", null);
          stopHookActive = true;
          messages.push({ role: "user", content: stop.blocked });
          continue;
        }
        for (const call of calls) {
          const step = await this.#toolCall(agent, run, byName.get(call.function.name), call, onBlocked, steps, hook);
          steps.push(step);
          messages.push({ role: "tool", tool_call_id: call.id, content: step.result });
        }
        await this.store.updateRun(run.id, { status: "running", steps });
      }
      return await finish("failed", null, `stopped after max_turns (${agent.maxTurns}) model turns`);
    } catch (error) {
      return await finish("failed", null, (error as Error).message);
    }
  }

  /** Task: this agent starts another (by name) with a prompt and gets its answer; runs nest up to taskMaxDepth. */
  /** A subagent runs with its parent's caller: a Task call never widens what the run may invoke. */
  #taskTool(parent: RunRow, depth: number, caller: CommandCaller): Tool {
    return {
      id: "Task", source: "builtin", description: "Starts another agent (subagent_type: its name) with a prompt, and answers what it answered.",
      parameters: { type: "object", properties: { subagent_type: { type: "string" }, prompt: { type: "string" }, description: { type: "string" } }, required: ["subagent_type", "prompt"] },
      run: async (args) => {
        const agent = typeof args.subagent_type === "string" ? this.#deps!.agentNamed(args.subagent_type) : undefined;
        if (!agent) return { text: `No agent '${String(args.subagent_type)}'`, isError: true };
        if (typeof args.prompt !== "string" || !args.prompt) return { text: "'prompt' is required", isError: true };
        const child = await (await this.start(agent, args.prompt, `run:${parent.id}`, caller, depth + 1)).finished;
        return child.status === "succeeded" ? { text: child.output ?? "", isError: false } : { text: `${agent.name} failed (run ${child.id}): ${child.error}`, isError: true };
      },
    };
  }

  async #toolCall(agent: AgentSpec, run: RunRow, tool: Tool | undefined, call: ToolCall, onBlocked: () => void, steps: Step[], hook: (event: "PreToolUse" | "PostToolUse", input: Record<string, unknown>, tool: string) => Promise<HookOutcome>): Promise<ToolStep> {
    let args: Record<string, unknown>;
    try {
      const parsed = JSON.parse(call.function.arguments || "{}");
      args = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? parsed : { value: parsed };
    } catch {
      args = { raw: call.function.arguments };
    }
    const toolId = tool?.id ?? call.function.name;
    const denied = async (source: DenialRow["source"], rule: string | null, reason: string, decision: Decision | "not_offered", gateId: string | null = null): Promise<ToolStep> => {
      await this.store.deny({ agent: agent.name, runId: run.id, tool: toolId, source, rule, reason });
      const outcome = source === "rule" || source === "not_offered" || source === "hook" ? "denied" : source;
      return { type: "tool", tool: toolId, arguments: args, decision, rule, gate_id: gateId, outcome, result: `Permission denied: ${reason}` };
    };
    if (!tool) return denied("not_offered", null, `the tool '${call.function.name}' is not offered to this agent`, "not_offered");
    const hookName = hookToolName(tool);
    const pre = await hook("PreToolUse", { tool_name: hookName, tool_input: args }, hookName);
    const settings = this.settings();
    const { decision, rule } = decide(agent, tool.id, tool.ruleInput?.(args) ?? args, settings.defaultPermission, settings.permissions, pre.decision ?? undefined);
    if (decision === "deny") return rule?.startsWith("hook: ") ? denied("hook", rule, `denied by a PreToolUse hook (${rule.slice(6)})`, decision) : denied("rule", rule, `denied by rule '${rule ?? "default"}'`, decision);
    let gateId: string | null = null;
    if (decision === "ask") {
      const gate = await this.store.openGate(run.id, agent.name, tool.id, args, rule);
      gateId = gate.id;
      await this.store.updateRun(run.id, { status: "waiting_approval", steps });
      this.ctx.emit("approval_requested", { gate_id: gate.id, run_id: run.id, agent: agent.name, tool: tool.id, arguments: args });
      onBlocked();
      const decided = await this.#await(gate.id);
      await this.store.updateRun(run.id, { status: "running" });
      if (decided.status === "rejected") return denied("rejected", rule, `rejected by ${decided.decidedBy}${decided.note ? `: ${decided.note}` : ""}`, decision, gate.id);
      if (decided.status !== "approved") return denied("expired", rule, `no decision within ${this.settings().approvalTimeoutS} s`, decision, gate.id);
    }
    let ran: { text: string; isError: boolean };
    try {
      ran = await tool.run(args);
    } catch (error) {
      ran = { text: `Error: ${(error as Error).message}`, isError: true };
    }
    // A PostToolUse hook that blocks adds its reason for the model to the result.
    const post = await hook("PostToolUse", { tool_name: hookName, tool_input: args, tool_response: ran.text }, hookName);
    const feedback = [post.blocked, ...post.context].filter(Boolean).join("\n");
    const result = this.#clip(ran.text) + (feedback ? `\n[hook] ${feedback}` : "");
    return { type: "tool", tool: tool.id, arguments: args, decision, rule, gate_id: gateId, outcome: ran.isError ? "error" : "ran", result };
  }

  /**
   * Resolves when the gate is decided, or expires it after approval_timeout_s. A decision written
   * to the database by another gantry node is seen by reading the gate each second.
   */
  #await(gateId: string): Promise<ApprovalRow> {
    return new Promise((resolve) => {
      const done = (gate: ApprovalRow) => {
        cancelTimer();
        cancelPoll();
        this.#waiting.delete(gateId);
        resolve(gate);
      };
      const expire = async () => (await this.store.decideGate(gateId, "expired", null, "no decision in time")) ?? (await this.store.gate(gateId))!;
      const cancelTimer = this.scope.setTimeout(() => void expire().then(done, () => {}), this.settings().approvalTimeoutS * 1000);
      const cancelPoll = this.scope.setInterval(() => {
        void this.store.gate(gateId).then((gate) => {
          if (gate && gate.status !== "pending") done(gate);
        }, () => {});
      }, 1000);
      this.#waiting.set(gateId, done);
    });
  }

  #clip(text: string): string {
    const max = this.settings().toolResultMaxChars;
    return text.length <= max ? text : `${text.slice(0, max)}… [cut at ${max} of ${text.length} characters]`;
  }
}
