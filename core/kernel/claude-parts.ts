/** Skills (`skills/<name>/SKILL.md`) and hooks (`hooks/hooks.json`) of a Claude Code plugin folder. */
import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, join, relative } from "node:path";
import type { ClaudeLayout, UnsupportedPart } from "./claude-plugin.ts";
import { Errors } from "./errors.ts";
import { parseFrontMatter } from "./front-matter.ts";
import type { PathGuard } from "./path-guard.ts";
import { inFolder, readFolderFile, readJson, shortPath, type PluginFolder } from "./plugin-files.ts";

export interface SkillDefinition {
  name: string;
  description: string;
  /** The skill's folder (its real path); its other files are loaded when an agent asks for them. */
  dir: string;
  /** The plugin's folder: skill files are read only while their real paths stay inside it. */
  root: string;
  /** SKILL.md's body: what the agent reads when it invokes the skill. */
  body: string;
  /** Other files of the skill, relative to its folder. */
  files: string[];
}

/** Claude Code's hook events that gantry's agent runs have. */
export const HOOK_EVENTS = ["PreToolUse", "PostToolUse", "UserPromptSubmit", "Stop", "SessionStart", "SessionEnd"] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

/** Why the other events of Claude Code do not occur in gantry. */
const OTHER_EVENTS: Record<string, string> = {
  Notification: "gantry announces approvals as events (approval_requested), not through hooks",
  PreCompact: "gantry does not compact an agent's conversation",
  SubagentStop: "sub-agents (Task) end as tool results; their Stop is not a separate event",
  SubagentStart: "sub-agents (Task) start as tool calls; no separate event",
  PermissionRequest: "gantry holds calls at approval gates; use PreToolUse to decide",
  PostToolUseFailure: "a failed tool's result goes to PostToolUse",
};

export interface HookDefinition {
  event: HookEvent;
  /** A regular expression on the tool name (PreToolUse, PostToolUse); null or "*" matches every tool. */
  matcher: string | null;
  command: string;
  timeoutS: number;
  /** The plugin's folder, for `${CLAUDE_PLUGIN_ROOT}`. */
  root: string;
}

/** Claude Code tools that gantry's agents do not have, and why; an agent or command naming one is told so. */
const MISSING_TOOLS: Record<string, string> = {
  WebSearch: "gantry has no web search; offer an MCP server's search tool instead",
  TodoWrite: "gantry keeps no to-do list for a run; the run's steps record what the agent did",
  NotebookEdit: "gantry's agents do not edit Jupyter notebooks",
  NotebookRead: "gantry's agents do not read Jupyter notebooks (Read reads their JSON)",
  BashOutput: "Bash runs to its end (with a timeout) in gantry; there are no background shells",
  KillShell: "Bash runs to its end (with a timeout) in gantry; there are no background shells",
  KillBash: "Bash runs to its end (with a timeout) in gantry; there are no background shells",
  MultiEdit: "use Edit once per change",
  LS: "use Glob or Bash(ls:*)",
  ExitPlanMode: "gantry's agents have no plan mode",
  SlashCommand: "slash commands are offered to agents as tools of their own (/plugin:command)",
  AskUserQuestion: "an agent asks a human through approval gates, not questions",
};

/** The tools of a list (Claude Code's names, rules like `Bash(git:*)` included) that gantry does not have. */
export function missingTools(where: string, tools: string[]): UnsupportedPart[] {
  return tools.map((t) => t.replace(/\(.*$/s, "").trim()).filter((t) => t in MISSING_TOOLS).map((t) => ({ part: `${where}: tool ${t}`, reason: MISSING_TOOLS[t]! }));
}

const SKILL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DEFAULT_HOOK_TIMEOUT_S = 60;

/** `skills/<name>/SKILL.md` and the manifest's `skills` paths (a skill folder, or a folder of them); links out of the plugin folder are refused. */
export function readSkills(folder: PluginFolder, layout?: ClaudeLayout): SkillDefinition[] {
  const folders = new Set<string>();
  const isDir = (path: string | null): path is string => path !== null && statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
  for (const base of [join(folder.dir, "skills"), ...(layout?.skills ?? [])]) {
    const root = existsSync(base) ? inFolder(folder, base) : null;
    if (!isDir(root)) continue;
    if (existsSync(join(root, "SKILL.md"))) folders.add(root);
    else for (const entry of readdirSync(root).sort()) {
      const dir = inFolder(folder, join(root, entry));
      if (isDir(dir) && existsSync(join(dir, "SKILL.md"))) folders.add(dir);
    }
  }
  return [...folders].flatMap((dir) => {
    const file = join(dir, "SKILL.md");
    const real = inFolder(folder, file);
    if (!real) return [];
    const { data, body } = parseFrontMatter(readFolderFile(folder, real), file);
    const name = typeof data.name === "string" && SKILL_NAME.test(data.name.trim()) ? data.name.trim() : basename(dir);
    if (!SKILL_NAME.test(name)) throw Errors.PLUGIN_MANIFEST_INVALID([file, [`skill name '${name}' must be letters, digits, '.', '_' and '-'`]]);
    const walked = folder.paths.walk(dir, { within: folder.dir });
    // `dir` is a real path: name the refused file relative to the folder's real path.
    for (const r of walked.refused) folder.refused.push({ part: shortPath(folder.paths.real(folder.dir), join(dir, r.path)), reason: `skill file refused (${r.reason}): not offered to agents` });
    const files = walked.files.map((f) => f.path).filter((f) => f !== "SKILL.md");
    return [{ name, description: typeof data.description === "string" ? data.description.trim() : "", dir, root: folder.dir, body: body.trim(), files }];
  });
}

/** `hooks/hooks.json` and the manifest's `hooks` (files or inline); events and hook types gantry has no use for are reported, not dropped. */
export function readHooks(folder: PluginFolder, layout?: ClaudeLayout): { hooks: HookDefinition[]; unsupported: UnsupportedPart[] } {
  const pluginDir = folder.dir;
  const defaultFile = join(pluginDir, "hooks", "hooks.json");
  const sources = [...(existsSync(defaultFile) ? [defaultFile] : []), ...(layout?.hooks ?? []).filter((s) => s !== defaultFile)];
  const hooks: HookDefinition[] = [];
  const unsupported: UnsupportedPart[] = [];
  for (const source of sources) {
    const where = typeof source === "string" ? shortPath(pluginDir, source) : "plugin.json hooks";
    const raw = typeof source === "string" ? readJson(folder, source) : source;
    if (raw === undefined) continue;
    const events = (raw as { hooks?: unknown })?.hooks ?? raw;
    // Claude Code loads such a plugin and reports its hooks as broken; so does gantry.
    if (!events || typeof events !== "object" || Array.isArray(events)) {
      unsupported.push({ part: where, reason: "not in Claude Code's hooks format ({\"hooks\": {Event: [{matcher, hooks: [{type, command}]}]}}); no hook of it runs" });
      continue;
    }
    for (const [event, groups] of Object.entries(events as Record<string, unknown>)) {
      if (event === "description") continue;
      if (!(HOOK_EVENTS as readonly string[]).includes(event)) {
        unsupported.push({ part: `${where}: ${event}`, reason: OTHER_EVENTS[event] ?? `not an event of gantry's agent runs (${HOOK_EVENTS.join(", ")})` });
        continue;
      }
      if (!Array.isArray(groups)) {
        unsupported.push({ part: `${where}: ${event}`, reason: "expected a list of {matcher, hooks}; no hook of it runs" });
        continue;
      }
      for (const group of groups as { matcher?: unknown; hooks?: unknown }[]) {
        const matcher = typeof group?.matcher === "string" && group.matcher !== "" ? group.matcher : null;
        for (const hook of Array.isArray(group?.hooks) ? (group.hooks as Record<string, unknown>[]) : []) {
          if (hook?.type !== "command" || typeof hook.command !== "string") {
            unsupported.push({ part: `${where}: ${event} ${String(hook?.type ?? "hook")}`, reason: `only "command" hooks run in gantry (this one is "${String(hook?.type)}")` });
            continue;
          }
          const timeoutS = typeof hook.timeout === "number" && hook.timeout > 0 ? hook.timeout : DEFAULT_HOOK_TIMEOUT_S;
          hooks.push({ event: event as HookEvent, matcher, command: hook.command, timeoutS, root: pluginDir });
        }
      }
    }
  }
  return { hooks, unsupported };
}

/** A skill's file for an agent: only the skill's listed files are served, read through the path guard (a link swapped in since is refused). */
export function readSkillFile(paths: PathGuard, skill: SkillDefinition, path: string): string {
  const file = join(skill.dir, path);
  if (relative(skill.dir, file).startsWith("..") || !skill.files.includes(relative(skill.dir, file))) throw new Error(`skill '${skill.name}' has no file '${path}'; it has: ${skill.files.join(", ") || "none"}`);
  const where = `the plugin folder ${skill.root}`;
  const { real, root } = paths.resolve([skill.root], file, { where });
  return paths.readInside(root, real, where).toString("utf8");
}
