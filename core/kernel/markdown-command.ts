/**
 * Renders a markdown command's prompt as Claude Code does: `$ARGUMENTS` and `$1..$n`,
 * `${CLAUDE_PLUGIN_ROOT}`, `!`command`` lines run (when `allowed-tools` grants `Bash(...)` for
 * them) with their output inlined, and `@file` references inside the plugin folder inlined.
 */
import { createError, defineErrors } from "./errors.ts";
import type { MarkdownCommand } from "./plugin-files.ts";
import { runShell, type Spawner } from "./shell-run.ts";
import { substituteArguments } from "./slash-arguments.ts";
import { ruleMatches } from "./tool-rules.ts";

export const MarkdownCommandErrors = defineErrors("core", {
  COMMAND_SHELL_REFUSED: createError("COMMAND_SHELL_REFUSED", 403, (qname: string, line: string) =>
    `Command '${qname}' runs \`${line}\`, which its allowed-tools do not grant: add a rule such as Bash(${line.split(/\s+/).slice(0, 2).join(" ")}:*) to the command's front matter`),
});

const SHELL_LINE = /!`([^`\n]+)`/g;
/**
 * Commands that only read, which Claude Code runs without a grant (Claude Code's own commit
 * command shows `git diff HEAD` while granting only `git add`, `git status` and `git commit`).
 * Options that write files or run other programs take them out of the set.
 */
const READ_ONLY_RULES = ["Bash(git status:*)", "Bash(git diff:*)", "Bash(git log:*)", "Bash(git show:*)", "Bash(git branch --show-current)", "Bash(git branch)", "Bash(git rev-parse:*)", "Bash(pwd)"];
const WRITING_OPTIONS = /\s--(?:output|ext-diff|textconv|open-files-in-pager)\b|\s-O/;
const FILE_REFERENCE = /(^|\s)@([^\s`'"<>]+)/g;
const SHELL_TIMEOUT_MS = 30_000;
const SHELL_MAX_CHARS = 16_000;
const FILE_MAX_CHARS = 64_000;

/** The prompt a markdown command sends, with every substitution done. */
export async function renderMarkdownCommand(qname: string, command: MarkdownCommand, raw: string, spawn: Spawner | undefined, cwd = command.root): Promise<string> {
  let body = command.body.replaceAll("${CLAUDE_PLUGIN_ROOT}", command.root);
  const hasPlaceholder = /\$ARGUMENTS\b|\$\d/.test(body);
  body = substituteArguments(body, raw);
  // Claude Code hands arguments a command does not place to the model after the prompt.
  if (!hasPlaceholder && raw.trim() !== "") body = `${body.trimEnd()}\n\nARGUMENTS: ${raw.trim()}\n`;
  body = await runShellLines(qname, command, body, spawn, cwd);
  return inlineFiles(command, body);
}

async function runShellLines(qname: string, command: MarkdownCommand, body: string, spawn: Spawner | undefined, cwd: string): Promise<string> {
  const lines = [...body.matchAll(SHELL_LINE)].map((m) => m[1]!.trim());
  if (lines.length === 0) return body;
  const bashRules = command.allowedTools.filter((rule) => rule.trim() === "Bash" || rule.trim().startsWith("Bash("));
  const granted = (line: string) => bashRules.some((rule) => ruleMatches(rule, "Bash", { command: line }))
    || (!WRITING_OPTIONS.test(line) && READ_ONLY_RULES.some((rule) => ruleMatches(rule, "Bash", { command: line })));
  for (const line of lines) if (!granted(line)) throw MarkdownCommandErrors.COMMAND_SHELL_REFUSED([qname, line]);
  if (!spawn) throw MarkdownCommandErrors.COMMAND_SHELL_REFUSED([qname, lines[0]!]);
  const outputs = new Map<string, string>();
  for (const line of new Set(lines)) {
    const result = await runShell(spawn, line, { cwd, timeoutMs: SHELL_TIMEOUT_MS, maxOutputChars: SHELL_MAX_CHARS, name: `${qname} !\`${line.slice(0, 40)}\`` });
    const text = [result.stdout.trimEnd(), result.stderr.trimEnd()].filter(Boolean).join("\n");
    const status = result.timedOut ? `[timed out after ${SHELL_TIMEOUT_MS / 1000} s]` : result.exitCode !== 0 ? `[exit code ${result.exitCode}]` : "";
    outputs.set(line, [text, status].filter(Boolean).join("\n"));
  }
  return body.replace(SHELL_LINE, (_, line: string) => outputs.get(line.trim()) ?? "");
}

/** `@path` of a file inside the plugin folder (its real path: links out of it are not followed) becomes the file's text; other `@...` stay as written. */
function inlineFiles(command: MarkdownCommand, body: string): string {
  return body.replace(FILE_REFERENCE, (match, lead: string, path: string) => {
    const text = command.readFile(path.replace(/[.,;:)]+$/, ""));
    if (text === null) return match;
    return `${lead}${text.length > FILE_MAX_CHARS ? `${text.slice(0, FILE_MAX_CHARS)}… [cut at ${FILE_MAX_CHARS} characters]` : text}`;
  });
}
