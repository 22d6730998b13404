/** What a plugin folder contributes without code: commands/*.md, agents/*.md and .mcp.json (Claude Code format). */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Errors } from "./errors.ts";

/** Who may invoke a slash command; checked on every path (REST, CLI, MCP, cron, agents). */
export type CommandRole = "viewer" | "operator" | "admin";
export const COMMAND_ROLES: readonly CommandRole[] = ["viewer", "operator", "admin"];

export interface MarkdownCommand {
  name: string;
  description: string;
  argumentHint: string | null;
  /** Least role that may invoke it (front matter `role`); operator when absent. */
  role: CommandRole;
  allowedTools: string[];
  model: string | null;
  body: string;
}

export interface AgentDefinition {
  name: string;
  description: string;
  tools: string[];
  model: string | null;
  prompt: string;
  file: string;
}

export type McpServerConfig = Record<string, unknown>;

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/;
const NAME = /^[a-z0-9][a-z0-9-]*$/;

/**
 * Splits `---` front matter from the body. The block is YAML (Bun.YAML); real Claude Code files
 * also carry lines YAML rejects or misreads, such as `argument-hint: [branch] [focus]`, so when
 * YAML fails the block is read line by line (`key: value`, and `- item` lists), and
 * `argument-hint` is always taken as the raw text of its line.
 */
export function parseFrontMatter(text: string, file: string): { data: Record<string, unknown>; body: string } {
  const match = FRONT_MATTER.exec(text);
  if (!match) return { data: {}, body: text };
  const block = match[1]!;
  const lines = parseLines(block, file);
  let data: Record<string, unknown>;
  try {
    const parsed = Bun.YAML.parse(block);
    data = parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : lines;
  } catch {
    data = lines;
  }
  if ("argument-hint" in lines) data = { ...data, "argument-hint": lines["argument-hint"] };
  return { data, body: text.slice(match[0].length) };
}

function unquote(value: string): string {
  const quoted = /^(["'])(.*)\1$/.exec(value);
  return quoted ? quoted[2]! : value;
}

/** The lenient reading: top-level `key: value` lines, and `- item` lines under a key with no value. */
function parseLines(block: string, file: string): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  let listKey: string | null = null;
  for (const line of block.split(/\r?\n/)) {
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const item = /^\s+-\s*(.*)$/.exec(line);
    if (item && listKey) {
      (data[listKey] as string[]).push(unquote(item[1]!.trim()));
      continue;
    }
    const field = /^([A-Za-z][\w-]*)\s*:\s*(.*)$/.exec(line);
    if (!field) throw Errors.PLUGIN_MANIFEST_INVALID([file, [`front matter line is not 'key: value': ${line.trim().slice(0, 80)}`]]);
    const value = field[2]!.trim();
    if (value === "") {
      data[field[1]!] = [];
      listKey = field[1]!;
    } else {
      data[field[1]!] = unquote(value);
      listKey = null;
    }
  }
  return data;
}

/** "Read, Grep" or ["Read", "Grep"] → ["Read", "Grep"]. */
function toolList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === "string") return value.split(",").map((s) => s.trim()).filter(Boolean);
  return [];
}

function optionalString(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

function markdownFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith(".md")).sort().map((f) => join(dir, f));
}

/** `commands/*.md`: the file name is the command name. */
export function readMarkdownCommands(pluginDir: string): MarkdownCommand[] {
  return markdownFiles(join(pluginDir, "commands")).map((file) => {
    const name = basename(file, ".md");
    if (!NAME.test(name)) throw Errors.PLUGIN_MANIFEST_INVALID([file, ["command file names must be lowercase letters, digits and dashes"]]);
    const { data, body } = parseFrontMatter(readFileSync(file, "utf8"), file);
    const firstLine = body.trim().split("\n")[0] ?? "";
    return {
      name,
      description: optionalString(data.description) ?? firstLine.slice(0, 200),
      argumentHint: optionalString(data["argument-hint"]),
      role: commandRole(data.role, file),
      allowedTools: toolList(data["allowed-tools"]),
      model: optionalString(data.model),
      body,
    };
  });
}

/** `agents/*.md`: front matter `name`, `description`, `tools`, `model`; the body is the system prompt. */
export function readAgents(pluginDir: string): AgentDefinition[] {
  return markdownFiles(join(pluginDir, "agents")).map((file) => {
    const { data, body } = parseFrontMatter(readFileSync(file, "utf8"), file);
    const name = optionalString(data.name) ?? basename(file, ".md");
    if (!NAME.test(name)) throw Errors.PLUGIN_MANIFEST_INVALID([file, [`agent name '${name}' must be lowercase letters, digits and dashes`]]);
    return { name, description: optionalString(data.description) ?? "", tools: toolList(data.tools), model: optionalString(data.model), prompt: body.trim(), file };
  });
}

/** `.mcp.json`: `{"mcpServers": {name: config}}` (or the map itself). */
export function readMcpServers(pluginDir: string): [string, McpServerConfig][] {
  const file = join(pluginDir, ".mcp.json");
  if (!existsSync(file)) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw Errors.PLUGIN_MANIFEST_INVALID([file, [`not valid JSON: ${(error as Error).message}`]]);
  }
  const servers = (raw as { mcpServers?: unknown })?.mcpServers ?? raw;
  if (!servers || typeof servers !== "object" || Array.isArray(servers)) throw Errors.PLUGIN_MANIFEST_INVALID([file, ["expected {\"mcpServers\": {name: config}}"]]);
  return Object.entries(servers as Record<string, McpServerConfig>);
}

function commandRole(value: unknown, file: string): CommandRole {
  if (value === undefined || value === null) return "operator";
  if (COMMAND_ROLES.includes(value as CommandRole)) return value as CommandRole;
  throw Errors.PLUGIN_MANIFEST_INVALID([file, [`role must be one of ${COMMAND_ROLES.join(", ")}`]]);
}
