/** Agent definitions: from [plugin.agent.agents] and from plugins' agents/*.md (core.agents). */
import type { CoreAgentsService } from "gantry/plugin";

export interface AgentSpec {
  name: string;
  description: string;
  source: "config" | "plugin" | "command";
  plugin: string | null;
  /** The instance that answers; null: default_model. */
  model: string | null;
  /** Patterns of the tools offered to the model (`/plugin:command`, `mcp:server/tool`, `*` wildcards). */
  tools: string[];
  allow: string[];
  ask: string[];
  deny: string[];
  maxTurns: number;
  prompt: string;
}

/** An entry of [plugin.agent.agents.<name>] as written in gantry.toml. */
interface ConfiguredAgent {
  description?: unknown;
  model?: unknown;
  prompt?: unknown;
  tools?: unknown;
  allow?: unknown;
  ask?: unknown;
  deny?: unknown;
  max_turns?: unknown;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const RESERVED = new Set(["tools", "runs"]);
const strings = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === "string");

/** The configured agents; an entry that is not usable is skipped with the reason (reported by the caller). */
export function configuredAgents(entries: Record<string, ConfiguredAgent>, defaultMaxTurns: number): { agents: AgentSpec[]; problems: string[] } {
  const agents: AgentSpec[] = [];
  const problems: string[] = [];
  for (const [name, entry] of Object.entries(entries ?? {})) {
    const wrong = [
      !NAME.test(name) || RESERVED.has(name) ? "the name must be letters, digits, . _ - (not 'tools' or 'runs')" : null,
      typeof entry.prompt !== "string" ? "`prompt` (the system prompt) is required" : null,
      entry.model !== undefined && typeof entry.model !== "string" ? "`model` must be an instance name" : null,
      ...(["tools", "allow", "ask", "deny"] as const).map((k) => (entry[k] !== undefined && !strings(entry[k]) ? `\`${k}\` must be a list of tool patterns` : null)),
      entry.max_turns !== undefined && (!Number.isInteger(entry.max_turns) || (entry.max_turns as number) < 1) ? "`max_turns` must be a positive integer" : null,
    ].filter((p): p is string => p !== null);
    if (wrong.length > 0) {
      problems.push(`plugin.agent.agents.${name}: ${wrong.join("; ")}`);
      continue;
    }
    agents.push({
      name, description: typeof entry.description === "string" ? entry.description : "", source: "config", plugin: null,
      model: (entry.model as string | undefined) ?? null, tools: (entry.tools as string[] | undefined) ?? [],
      allow: (entry.allow as string[] | undefined) ?? [], ask: (entry.ask as string[] | undefined) ?? [], deny: (entry.deny as string[] | undefined) ?? [],
      maxTurns: (entry.max_turns as number | undefined) ?? defaultMaxTurns, prompt: entry.prompt as string,
    });
  }
  return { agents, problems };
}

/** Plugin agents (agents/*.md): their `tools` (Claude Code's names: Read, Bash, ...) are what they are offered; the rules decide. */
export function pluginAgents(service: CoreAgentsService, defaultMaxTurns: number): AgentSpec[] {
  return service.list().map((a) => ({
    name: a.qname, description: a.description, source: "plugin", plugin: a.plugin,
    // Claude Code's "inherit" and tier names (sonnet, opus) name no instance here: the default model answers.
    model: a.model && !["inherit", "sonnet", "opus", "haiku"].includes(a.model) ? a.model : null,
    // As in Claude Code, an agent that lists no tools may use all of them (each call still passes the rules).
    tools: a.tools.length > 0 ? a.tools : ["*"], allow: [], ask: [], deny: [], maxTurns: defaultMaxTurns, prompt: a.prompt,
  }));
}
