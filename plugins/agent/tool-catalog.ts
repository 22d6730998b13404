/**
 * The tools agents can be offered: Claude Code's standard tools (Read, Glob, Grep, Write, Edit,
 * Bash, WebFetch, Task, Skill), every slash command (`/plugin:command`, one `arguments` string)
 * and, when the mcp plugin runs, every tool of a connected MCP server (`mcp:server/tool`).
 */
import { mayInvoke, type CommandCaller, type CoreCommandsService, type McpToolsService } from "gantry/plugin";

export interface Tool {
  /** What rules and definitions name: `/plugin:command` or `mcp:server/tool`. */
  id: string;
  source: "builtin" | "command" | "mcp";
  description: string;
  parameters: Record<string, unknown>;
  run(args: Record<string, unknown>): Promise<{ text: string; isError: boolean }>;
  /** What permission rules see of a call, when it differs from the arguments (file tools add the path's absolute and workspace-relative forms). */
  ruleInput?(args: Record<string, unknown>): Record<string, unknown>;
}

const COMMAND_PARAMETERS = { type: "object", properties: { arguments: { type: "string", description: "the command's arguments, as after /plugin:command on a command line" } } };

/** The tools a run started by `caller` may use: commands above the caller's role are neither offered nor runnable. */
export async function toolCatalog(commands: CoreCommandsService, mcp: McpToolsService | undefined, builtins: Tool[], caller: CommandCaller): Promise<Tool[]> {
  const tools: Tool[] = [...builtins, ...commands.list()
    .filter((c) => c.plugin !== "agent") // an agent starting agents is left to a later design
    .filter((c) => mayInvoke(caller.role, c.role))
    .map((c) => ({
      id: `/${c.qname}`, source: "command", description: c.description || `/${c.qname}`, parameters: COMMAND_PARAMETERS,
      async run(args) {
        const invocation = await commands.invoke(c.qname, typeof args.arguments === "string" ? args.arguments : "", caller);
        const value = invocation.kind === "code" ? invocation.result : invocation.result ?? invocation.prompt;
        return { text: typeof value === "string" ? value : JSON.stringify(value), isError: false };
      },
    }) satisfies Tool)];
  for (const t of (await mcp?.tools().catch(() => [])) ?? []) {
    tools.push({
      id: `mcp:${t.server}/${t.name}`, source: "mcp", description: t.description ?? t.name, parameters: t.input_schema,
      async run(args) {
        const result = await mcp!.call(t.server, t.name, args);
        const text = result.content.map((part) => ((part as { type?: string }).type === "text" ? (part as { text: string }).text : JSON.stringify(part))).join("\n");
        return { text, isError: result.is_error };
      },
    });
  }
  return tools;
}

/** Function names for the model (letters, digits, _ and -, at most 64), unique within one run. */
export function functionNames(tools: Tool[]): Map<string, Tool> {
  const byName = new Map<string, Tool>();
  for (const tool of tools) {
    const base = tool.id.replace(/^\//, "").replace(/[^A-Za-z0-9_-]+/g, "__").slice(0, 60);
    let name = base;
    for (let i = 2; byName.has(name); i++) name = `${base}_${i}`;
    byName.set(name, tool);
  }
  return byName;
}

/** The name Claude Code's hooks match on: Read, Bash, ... as they are; MCP tools as `mcp__server__tool`. */
export function hookToolName(tool: Tool): string {
  const mcp = /^mcp:([^/]+)\/(.+)$/.exec(tool.id);
  return mcp ? `mcp__${mcp[1]}__${mcp[2]}` : tool.id;
}
