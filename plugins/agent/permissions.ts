/**
 * Whether an agent may run a tool: deny rules first (the agent's, then plugin.agent.permissions'),
 * then what a PreToolUse hook decided, then ask, then allow, then the tool's default. Rules are
 * gantry patterns (`/cron:*`, `mcp:files/*`) or Claude Code rules (`Bash(git status:*)`, `Read`).
 */
import { globMatches, ruleMatches, ruleTool } from "gantry/plugin";
import type { AgentSpec } from "./definitions.ts";

export type Decision = "allow" | "ask" | "deny";

export interface Rules {
  allow: string[];
  ask: string[];
  deny: string[];
}

/** Claude Code's standard tools that only read are allowed by default; those that change things or reach out ask. */
const TOOL_DEFAULTS: Record<string, Decision> = { Read: "allow", Glob: "allow", Grep: "allow", Skill: "allow", Task: "allow", Write: "ask", Edit: "ask", Bash: "ask", WebFetch: "ask" };

export const matches = (pattern: string, toolId: string) => globMatches(pattern, toolId);

/** Claude Code's newer names for tools gantry knows by the older one. */
const ALIASES: Record<string, string> = { Agent: "Task" };

/** Whether the agent's `tools` offer this tool (`Bash(git diff:*)` offers Bash; its calls are then checked by the rules). */
export const offered = (agent: AgentSpec, toolId: string) => agent.tools.some((p) => globMatches(ALIASES[ruleTool(p)] ?? ruleTool(p), toolId));

export function decide(agent: AgentSpec, toolId: string, input: Record<string, unknown>, defaultDecision: Decision, global: Rules, hook?: { decision: Decision; reason: string }): { decision: Decision; rule: string | null } {
  const find = (decision: Decision) => {
    const own = agent[decision].find((p) => ruleMatches(p, toolId, input));
    if (own !== undefined) return `${decision}: ${own}`;
    const shared = global[decision].find((p) => ruleMatches(p, toolId, input));
    return shared === undefined ? null : `${decision}: ${shared} (plugin.agent.permissions)`;
  };
  const denied = find("deny");
  if (denied) return { decision: "deny", rule: denied };
  if (hook) return { decision: hook.decision, rule: `hook: ${hook.reason}` };
  for (const decision of ["ask", "allow"] as const) {
    const rule = find(decision);
    if (rule) return { decision, rule };
  }
  const builtin = TOOL_DEFAULTS[toolId];
  if (builtin && defaultDecision !== "deny") return { decision: builtin, rule: null };
  return { decision: defaultDecision, rule: null };
}
