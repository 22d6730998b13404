/** Whether an agent may run a tool: deny rules first, then ask, then allow, then the default. */
import type { AgentSpec } from "./definitions.ts";

export type Decision = "allow" | "ask" | "deny";

/** `*` matches any run of characters; everything else literally. */
export function matches(pattern: string, toolId: string): boolean {
  const regex = new RegExp(`^${pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, "\\$&")).join(".*")}$`);
  return regex.test(toolId);
}

export const offered = (agent: AgentSpec, toolId: string) => agent.tools.some((p) => matches(p, toolId));

export function decide(agent: AgentSpec, toolId: string, defaultDecision: Decision): { decision: Decision; rule: string | null } {
  for (const [decision, patterns] of [["deny", agent.deny], ["ask", agent.ask], ["allow", agent.allow]] as const) {
    const rule = patterns.find((p) => matches(p, toolId));
    if (rule !== undefined) return { decision, rule: `${decision}: ${rule}` };
  }
  return { decision: defaultDecision, rule: null };
}
