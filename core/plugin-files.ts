/** What a plugin folder contributes without code: commands/*.md, agents/*.md and .mcp.json (Claude Code format). */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Errors } from "./errors.ts";

export interface MarkdownCommand {
  name: string;
  description: string;
  argumentHint: string | null;
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

/** Splits `---` YAML front matter (parsed with Bun.YAML) from the body. */
export function parseFrontMatter(text: string, file: string): { data: Record<string, unknown>; body: string } {
  const match = FRONT_MATTER.exec(text);
  if (!match) return { data: {}, body: text };
  let data: unknown;
  try {
    data = Bun.YAML.parse(match[1]!);
  } catch (error) {
    throw Errors.PLUGIN_MANIFEST_INVALID([file, [`front matter is not valid YAML: ${(error as Error).message}`]]);
  }
  if (data !== null && (typeof data !== "object" || Array.isArray(data))) throw Errors.PLUGIN_MANIFEST_INVALID([file, ["front matter must be a YAML mapping"]]);
  return { data: (data ?? {}) as Record<string, unknown>, body: text.slice(match[0].length) };
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
