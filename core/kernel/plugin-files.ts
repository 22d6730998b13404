/** What a plugin folder contributes without code: commands, agents and MCP servers (Claude Code format). */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, relative, sep } from "node:path";
import type { ClaudeLayout } from "./claude-plugin.ts";
import { Errors } from "./errors.ts";
import { parseFrontMatter } from "./front-matter.ts";

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
  /** The plugin's folder: `${CLAUDE_PLUGIN_ROOT}` and `@file` references resolve against it. */
  root: string;
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

/** A command or agent name as Claude Code allows it (`clean_gone`, `2fa-setup`, `Review.v2`). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** "Read, Grep" or ["Read", "Grep"] → ["Read", "Grep"]. */
function toolList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === "string") return value.split(",").map((s) => s.trim()).filter(Boolean);
  return [];
}

function optionalString(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

/** Markdown files under `dir`, recursively, each with its path below `dir` (`frontend/component.md`). */
export function markdownFiles(dir: string): { file: string; path: string }[] {
  if (!existsSync(dir)) return [];
  if (!statSync(dir).isDirectory()) return dir.endsWith(".md") ? [{ file: dir, path: basename(dir) }] : [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".md") && !f.split(sep).some((part) => part.startsWith(".")))
    .sort()
    .map((f) => ({ file: join(dir, f), path: f }));
}

/** The default folder and the manifest's extra paths, each file once. */
function componentFiles(pluginDir: string, folder: string, extra: string[] = []): { file: string; path: string }[] {
  const seen = new Set<string>();
  return [join(pluginDir, folder), ...extra].flatMap(markdownFiles).filter((f) => !seen.has(f.file) && seen.add(f.file));
}

/** `commands/**\/*.md`: the file name is the command name; a subfolder namespaces it (`frontend/component.md` → `frontend:component`). */
export function readMarkdownCommands(pluginDir: string, layout?: ClaudeLayout): MarkdownCommand[] {
  return componentFiles(pluginDir, "commands", layout?.commands).map(({ file, path }) => {
    const segments = path.replace(/\.md$/, "").split(sep);
    const bad = segments.find((segment) => !NAME.test(segment));
    if (bad !== undefined) throw Errors.PLUGIN_MANIFEST_INVALID([file, [`command name '${bad}' must be letters, digits, '.', '_' and '-'`]]);
    const { data, body } = parseFrontMatter(readFileSync(file, "utf8"), file);
    const firstLine = body.trim().split("\n")[0] ?? "";
    return {
      name: segments.join(":"),
      description: optionalString(data.description) ?? firstLine.slice(0, 200),
      argumentHint: optionalString(data["argument-hint"]),
      role: commandRole(data.role, file),
      allowedTools: toolList(data["allowed-tools"]),
      model: optionalString(data.model),
      body,
      root: pluginDir,
    };
  });
}

/** `agents/*.md`: front matter `name`, `description`, `tools`, `model`; the body is the system prompt. */
export function readAgents(pluginDir: string, layout?: ClaudeLayout): AgentDefinition[] {
  return componentFiles(pluginDir, "agents", layout?.agents).map(({ file }) => {
    const { data, body } = parseFrontMatter(readFileSync(file, "utf8"), file);
    const declared = optionalString(data.name);
    // A display name ("Code Reviewer") is made into a name; the file name when nothing usable is left.
    const name = [declared?.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^-+|-+$/g, ""), basename(file, ".md")].find((n) => n && NAME.test(n));
    if (!name) throw Errors.PLUGIN_MANIFEST_INVALID([file, [`agent name '${declared ?? basename(file, ".md")}' must be letters, digits, '.', '_' and '-'`]]);
    return { name, description: optionalString(data.description) ?? "", tools: toolList(data.tools), model: optionalString(data.model), prompt: body.trim(), file };
  });
}

/** `.mcp.json` (`{"mcpServers": {name: config}}` or the map itself), and the manifest's `mcpServers` files or inline maps. */
export function readMcpServers(pluginDir: string, layout?: ClaudeLayout): [string, McpServerConfig][] {
  const defaultFile = join(pluginDir, ".mcp.json");
  const sources = [...(existsSync(defaultFile) ? [defaultFile] : []), ...(layout?.mcpServers ?? []).filter((s) => s !== defaultFile)];
  return sources.flatMap((source) => {
    const file = typeof source === "string" ? source : join(pluginDir, ".claude-plugin", "plugin.json");
    const raw = typeof source === "string" ? readJson(source) : source;
    const servers = (raw as { mcpServers?: unknown })?.mcpServers ?? raw;
    if (!servers || typeof servers !== "object" || Array.isArray(servers)) throw Errors.PLUGIN_MANIFEST_INVALID([file, ["expected {\"mcpServers\": {name: config}}"]]);
    return Object.entries(servers as Record<string, McpServerConfig>);
  });
}

/** A JSON file of a plugin; refused with the file named when it is not JSON. */
export function readJson(file: string): unknown {
  if (!existsSync(file)) throw Errors.PLUGIN_MANIFEST_INVALID([file, ["the manifest names this file but it does not exist"]]);
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw Errors.PLUGIN_MANIFEST_INVALID([file, [`not valid JSON: ${(error as Error).message}`]]);
  }
}

function commandRole(value: unknown, file: string): CommandRole {
  if (value === undefined || value === null) return "operator";
  if (COMMAND_ROLES.includes(value as CommandRole)) return value as CommandRole;
  throw Errors.PLUGIN_MANIFEST_INVALID([file, [`role must be one of ${COMMAND_ROLES.join(", ")}`]]);
}

/** A file's path for messages: relative to the plugin folder. */
export const shortPath = (pluginDir: string, file: string) => relative(pluginDir, file) || basename(file);
