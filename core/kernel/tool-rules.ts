/**
 * Permission rules as written in gantry (`/scripts:run`, `mcp:files/*`) and in Claude Code
 * (`Bash`, `Bash(git status:*)`, `Bash(npm test)`, `Read(/srv/docs/**)`, `WebFetch(domain:example.com)`).
 * One matcher serves agents' rules and markdown commands' `allowed-tools`.
 */
import { runtime } from "../runtime/index.ts";

const SPECIFIED = /^([A-Za-z_][\w-]*)\((.*)\)$/s;

/** `*` matches any run of characters; everything else literally. */
export function globMatches(pattern: string, value: string): boolean {
  const regex = new RegExp(`^${pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, "\\$&")).join(".*")}$`, "s");
  return regex.test(value);
}

/** The parts of a shell line that run on their own (`a && b; c | d & e` → a, b, c, d, e). */
export function shellParts(command: string): string[] {
  return command.split(/&&|\|\||[;|&\n]/).map((part) => part.trim()).filter(Boolean);
}

/** `git status:*` allows `git status` and `git status -s`, not `git statusx`; `npm test` exactly that; `*` wildcards. */
function bashSpecifierMatches(specifier: string, command: string): boolean {
  if (specifier.endsWith(":*")) {
    const prefix = specifier.slice(0, -2).trim();
    return command === prefix || command.startsWith(`${prefix} `);
  }
  return globMatches(specifier.trim(), command);
}

/** Whether one rule allows one Bash command line: every part of a compound line must match, and no substitution may hide another command. */
function bashRuleMatches(specifier: string, command: string): boolean {
  // Harmless redirections are dropped; any other (a file written, a command inside the command) needs a bare `Bash` rule.
  const line = command.replace(/\s*(?:[0-9]?>\s*\/dev\/null|2>&1)/g, "").trim();
  if (/\$\(|`|<\(|>/.test(line)) return false;
  const parts = shellParts(line);
  return parts.length > 0 && parts.every((part) => bashSpecifierMatches(specifier, part));
}

/** What a specifier of a Claude-style rule is checked against, per tool (`paths`: the forms of a file path a tool gives). */
function specifierMatches(tool: string, specifier: string, input: Record<string, unknown>): boolean {
  if (tool === "Bash") return typeof input.command === "string" && bashRuleMatches(specifier, input.command);
  if (tool === "WebFetch") {
    const domain = /^domain:(.+)$/.exec(specifier)?.[1];
    if (!domain || typeof input.url !== "string") return false;
    try {
      return globMatches(domain, new URL(input.url).hostname);
    } catch {
      return false;
    }
  }
  const path = input.file_path ?? input.path;
  const forms = Array.isArray(input.paths) ? input.paths.filter((p): p is string => typeof p === "string") : typeof path === "string" ? [path] : [];
  if (forms.length > 0) return forms.some((p) => runtime.globMatch(specifier, p) || globMatches(specifier, p));
  return globMatches(specifier, JSON.stringify(input));
}

/**
 * Whether `rule` covers a call of `toolId` with `input`. A rule with a specifier in parentheses
 * (`Bash(git log:*)`) needs the input to match; a plain rule is a glob over tool ids.
 */
export function ruleMatches(rule: string, toolId: string, input: Record<string, unknown> = {}): boolean {
  const specified = SPECIFIED.exec(rule.trim());
  if (specified && !toolId.includes("(")) return specified[1] === toolId && specifierMatches(toolId, specified[2]!, input);
  return globMatches(rule.trim(), toolId);
}

/** The tool a rule is about (`Bash(git log:*)` → `Bash`), for deciding whether a tool is offered at all. */
export function ruleTool(rule: string): string {
  return SPECIFIED.exec(rule.trim())?.[1] ?? rule.trim();
}
