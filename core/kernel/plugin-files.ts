/** What a plugin folder contributes without code: commands, agents and MCP servers (Claude Code format). */
import { statSync } from "node:fs";
import { basename, join, relative, resolve, sep } from "node:path";
import type { ClaudeLayout, UnsupportedPart } from "./claude-plugin.ts";
import { Errors, GantryError } from "./errors.ts";
import { parseFrontMatter } from "./front-matter.ts";
import type { PathGuard, RefusedEntry } from "./path-guard.ts";

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
  /** The text of a file of the plugin folder (through the path guard), for `@file`; null when it is not one. */
  readFile: (path: string) => string | null;
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

/**
 * A plugin folder being read: every file goes through the path guard, so a link that leads out of
 * the folder (or into gantry's data dir) is not read; each one refused is reported with the plugin.
 */
export interface PluginFolder {
  dir: string;
  paths: PathGuard;
  refused: UnsupportedPart[];
}

const REFUSED: Record<string, string> = {
  outside_root: "a link leading outside the plugin folder; not read",
  data_dir: "leads into gantry's data dir; not read",
  broken_link: "a link to nothing; not read",
  not_a_file: "not a regular file; not read",
  unreadable: "cannot be read",
};

/** Records entries a walk of `base` refused, by their path in the plugin folder. */
function report(folder: PluginFolder, base: string, refused: RefusedEntry[]): void {
  for (const r of refused) folder.refused.push({ part: shortPath(folder.dir, join(base, r.path)), reason: REFUSED[r.reason] ?? r.reason });
}

/** The real path of `path` when it lies in the plugin folder; null (and reported) when it leads out, null when nothing is there. */
export function inFolder(folder: PluginFolder, path: string): string | null {
  try {
    return folder.paths.resolve([folder.dir], path, { where: `the plugin folder ${folder.dir}` }).real;
  } catch (error) {
    if (error instanceof GantryError && error.code === "PATH_OUTSIDE_ROOT") report(folder, path, [{ path: ".", reason: (error.details as { reason: RefusedEntry["reason"] }).reason }]);
    if (error instanceof GantryError) return null;
    throw error;
  }
}

/** The text of a file of the plugin folder, read through a checked descriptor. */
export function readFolderFile(folder: PluginFolder, real: string): string {
  return folder.paths.readInside(folder.paths.real(folder.dir), real, `the plugin folder ${folder.dir}`).toString("utf8");
}

/** Markdown files under `dir`, recursively, each with its path below `dir` (`frontend/component.md`) and its real path. */
export function markdownFiles(folder: PluginFolder, dir: string): { file: string; path: string; real: string }[] {
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat) return [];
  if (!stat.isDirectory()) {
    const real = dir.endsWith(".md") ? inFolder(folder, dir) : null;
    return real ? [{ file: dir, path: basename(dir), real }] : [];
  }
  const hidden = (path: string) => path.split("/").some((part) => part.startsWith("."));
  const { files, refused } = folder.paths.walk(dir, { within: folder.dir, skipFolder: (name) => name.startsWith("."), wants: (path) => path.endsWith(".md") && !hidden(path) });
  report(folder, dir, refused);
  return files.map((f) => ({ file: join(dir, f.path), path: f.path.split("/").join(sep), real: f.real }));
}

/** The default folder and the manifest's extra paths, each file once. */
function componentFiles(folder: PluginFolder, name: string, extra: string[] = []): { file: string; path: string; real: string }[] {
  const seen = new Set<string>();
  return [join(folder.dir, name), ...extra].flatMap((dir) => markdownFiles(folder, dir)).filter((f) => !seen.has(f.real) && seen.add(f.real));
}

/** `commands/**\/*.md`: the file name is the command name; a subfolder namespaces it (`frontend/component.md` → `frontend:component`). */
export function readMarkdownCommands(folder: PluginFolder, layout?: ClaudeLayout): MarkdownCommand[] {
  const pluginDir = folder.dir;
  // `@file` of a command at render time: its arguments may name it, so refusals are quiet (null), not reported.
  const readFile = (path: string): string | null => {
    try {
      const { real } = folder.paths.resolve([pluginDir], resolve(pluginDir, path), { where: `the plugin folder ${pluginDir}` });
      return statSync(real).isFile() ? readFolderFile(folder, real) : null;
    } catch (error) {
      if (error instanceof GantryError) return null;
      throw error;
    }
  };
  return componentFiles(folder, "commands", layout?.commands).map(({ file, path, real }) => {
    const segments = path.replace(/\.md$/, "").split(sep);
    const bad = segments.find((segment) => !NAME.test(segment));
    if (bad !== undefined) throw Errors.PLUGIN_MANIFEST_INVALID([file, [`command name '${bad}' must be letters, digits, '.', '_' and '-'`]]);
    const { data, body } = parseFrontMatter(readFolderFile(folder, real), file);
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
      readFile,
    };
  });
}

/** `agents/*.md`: front matter `name`, `description`, `tools`, `model`; the body is the system prompt. */
export function readAgents(folder: PluginFolder, layout?: ClaudeLayout): AgentDefinition[] {
  return componentFiles(folder, "agents", layout?.agents).map(({ file, real }) => {
    const { data, body } = parseFrontMatter(readFolderFile(folder, real), file);
    const declared = optionalString(data.name);
    // A display name ("Code Reviewer") is made into a name; the file name when nothing usable is left.
    const name = [declared?.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^-+|-+$/g, ""), basename(file, ".md")].find((n) => n && NAME.test(n));
    if (!name) throw Errors.PLUGIN_MANIFEST_INVALID([file, [`agent name '${declared ?? basename(file, ".md")}' must be letters, digits, '.', '_' and '-'`]]);
    return { name, description: optionalString(data.description) ?? "", tools: toolList(data.tools), model: optionalString(data.model), prompt: body.trim(), file };
  });
}

/** `.mcp.json` (`{"mcpServers": {name: config}}` or the map itself), and the manifest's `mcpServers` files or inline maps. */
export function readMcpServers(folder: PluginFolder, layout?: ClaudeLayout): [string, McpServerConfig][] {
  const pluginDir = folder.dir;
  const defaultFile = join(pluginDir, ".mcp.json");
  const sources = [...(statSync(defaultFile, { throwIfNoEntry: false }) ? [defaultFile] : []), ...(layout?.mcpServers ?? []).filter((s) => s !== defaultFile)];
  return sources.flatMap((source) => {
    const file = typeof source === "string" ? source : join(pluginDir, ".claude-plugin", "plugin.json");
    const raw = typeof source === "string" ? readJson(folder, source) : source;
    if (raw === undefined) return [];
    const servers = (raw as { mcpServers?: unknown })?.mcpServers ?? raw;
    if (!servers || typeof servers !== "object" || Array.isArray(servers)) throw Errors.PLUGIN_MANIFEST_INVALID([file, ["expected {\"mcpServers\": {name: config}}"]]);
    return Object.entries(servers as Record<string, McpServerConfig>);
  });
}

/** A JSON file of a plugin; refused with the file named when it is not JSON; undefined (reported) when it leads out of the folder. */
export function readJson(folder: PluginFolder, file: string): unknown {
  if (!statSync(file, { throwIfNoEntry: false })) throw Errors.PLUGIN_MANIFEST_INVALID([file, ["the manifest names this file but it does not exist"]]);
  const real = inFolder(folder, file);
  if (real === null) return undefined;
  try {
    return JSON.parse(readFolderFile(folder, real));
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
