/** Runs one attempt of an agent, command or script phase (nested pipelines are run by the engine). */
import type { AgentRunsService, CoreCommandsService, SandboxService } from "gantry/plugin";
import { interpolate, interpolateAsCode, type Scope } from "./expressions.ts";
import type { RunStarter } from "./store.ts";
import type { Phase } from "./templates.ts";

/*
 * Templates are admin-authored, but a run's inputs come from whoever started it. Agent and command
 * phases therefore act with the starter's role (a command line or a prompt can carry any text), and
 * script phases run the template's fixed code with inputs bound as JavaScript values, never spliced
 * in as source (interpolateAsCode).
 */

export interface PhaseServices {
  commands: CoreCommandsService;
  agentRuns: () => AgentRunsService | undefined;
  sandbox: () => SandboxService | undefined;
}

export interface AttemptResult {
  output: unknown;
  /** Tool calls and the agent run, for the journal. */
  steps: { kind: string; data: Record<string, unknown> }[];
}

/** One attempt; throws with a message the journal records when the attempt fails. */
export async function runAttempt(phase: Phase, scope: Scope, services: PhaseServices, { actor, role }: RunStarter, onAgent: (agent: string) => Promise<void>): Promise<AttemptResult> {
  switch (phase.kind) {
    case "agent": {
      const runs = services.agentRuns();
      if (!runs) throw new Error("agent phases need the agent plugin (the agent-runs service is not offered)");
      const agent = interpolate(phase.target, scope);
      if (!runs.has(agent)) throw new Error(`no agent '${agent}'; list them at GET /api/v1/agents`);
      await onAgent(agent);
      const input = interpolate(phase.input ?? "${inputs}", scope);
      const run = await runs.run(agent, input, actor, { role });
      const steps: AttemptResult["steps"] = (run.steps as { type: string; tool?: string; outcome?: string; arguments?: unknown }[])
        .filter((s) => s.type === "tool").map((s) => ({ kind: "tool_call", data: { agent_run_id: run.id, tool: s.tool, outcome: s.outcome, arguments: s.arguments } }));
      steps.unshift({ kind: "agent_run", data: { agent, agent_run_id: run.id, status: run.status } });
      if (run.status !== "succeeded") throw Object.assign(new Error(run.error ?? `the agent run ${run.id} ${run.status}`), { steps });
      return { output: run.output, steps };
    }
    case "command": {
      const line = interpolate(phase.target, scope);
      const parsed = services.commands.parse(line);
      if (!parsed) throw new Error(`'${line.slice(0, 80)}' is not a slash command line`);
      const invocation = await services.commands.invoke(parsed.qname, parsed.arguments, { role });
      const output = invocation.kind === "code" ? invocation.result : (invocation.result ?? invocation.prompt);
      return { output, steps: [{ kind: "command", data: { command: parsed.qname, arguments: parsed.arguments } }] };
    }
    case "script": {
      const sandbox = services.sandbox();
      if (!sandbox) throw new Error("script phases need the scripts plugin (the sandbox service is not offered)");
      const run = await sandbox.run(interpolateAsCode(phase.target, scope), { actor, via: "pipelines", ...(phase.timeoutS ? { timeoutMs: Math.min(phase.timeoutS * 1000, 600_000) } : {}) });
      if (!run.ok) throw new Error(run.error ? `${run.error.name}: ${run.error.message}` : "the script failed");
      return { output: run.result, steps: [{ kind: "script", data: { duration_ms: run.durationMs, logs: run.logs } }] };
    }
    case "pipeline":
      throw new Error("nested pipelines are run by the engine");
  }
}
