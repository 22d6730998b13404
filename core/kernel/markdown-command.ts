/**
 * Renders a markdown command's prompt as Claude Code does — `$ARGUMENTS` and `$1..$n`,
 * `${CLAUDE_PLUGIN_ROOT}`, `!`command`` lines (when `allowed-tools` grants `Bash(...)` for them)
 * replaced by their output, `@file` references inside the plugin folder inlined — with one
 * difference: arguments are data. Shell lines and file references are found in the file as
 * written, arguments reach a shell line as bound values (command-shell-line.ts), and nothing
 * substituted is read again.
 */
import { bindShellLine } from "./command-shell-line.ts";
import { createError, defineErrors } from "./errors.ts";
import type { MarkdownCommand } from "./plugin-files.ts";
import { runShell, shellEnvironment, type Spawner } from "./shell-run.ts";
import { splitArguments, substituteArguments } from "./slash-arguments.ts";
import { ruleMatches } from "./tool-rules.ts";

export const MarkdownCommandErrors = defineErrors("core", {
  COMMAND_SHELL_REFUSED: createError("COMMAND_SHELL_REFUSED", 403, (qname: string, line: string) =>
    `Command '${qname}' runs \`${line}\`, which its allowed-tools do not grant: add a rule such as Bash(${line.split(/\s+/).slice(0, 2).join(" ")}:*) to the command's front matter`),
});

const SHELL_LINE = /!`([^`\n]+)`/g;
/** In one pass over the file as written: a shell line, a file reference, a placeholder. */
const WRITTEN_PART = /!`([^`\n]+)`|(^|\s)@([^\s`'"<>]+)|\$\$|\$ARGUMENTS\b|\$(\d+)|\$\{CLAUDE_PLUGIN_ROOT\}/g;
const HAS_ARGUMENT_PLACEHOLDER = /\$ARGUMENTS\b|\$\d/;
const SHELL_TIMEOUT_MS = 30_000;
const SHELL_MAX_CHARS = 16_000;
const FILE_MAX_CHARS = 64_000;

/** The prompt a markdown command sends, with every substitution done. */
export async function renderMarkdownCommand(qname: string, command: MarkdownCommand, raw: string, spawn: Spawner | undefined, cwd = command.root): Promise<string> {
  const argv = splitArguments(raw);
  const outputs = await runShellLines(qname, command, { argv, raw }, spawn, cwd);
  let body = command.body.replace(WRITTEN_PART, (match, line: string | undefined, lead: string | undefined, path: string | undefined) => {
    if (line !== undefined) return outputs.get(line.trim()) ?? "";
    if (path !== undefined) return fileReference(command, lead!, path, raw);
    return match === "${CLAUDE_PLUGIN_ROOT}" ? command.root : substituteArguments(match, raw);
  });
  // Claude Code hands arguments a command does not place to the model after the prompt.
  if (!HAS_ARGUMENT_PLACEHOLDER.test(command.body) && raw.trim() !== "") body = `${body.trimEnd()}\n\nARGUMENTS: ${raw.trim()}\n`;
  return body;
}

/** Checks every line against the command's own `Bash(...)` rules, binds every line's arguments, then runs them; outputs by line as written. */
async function runShellLines(qname: string, command: MarkdownCommand, args: { argv: string[]; raw: string }, spawn: Spawner | undefined, cwd: string): Promise<Map<string, string>> {
  const lines = [...new Set([...command.body.matchAll(SHELL_LINE)].map((m) => m[1]!.trim()))];
  const outputs = new Map<string, string>();
  if (lines.length === 0) return outputs;
  // Only what the command file declares grants a line: gantry adds no read-only set of its own.
  const bashRules = command.allowedTools.filter((rule) => rule.trim() === "Bash" || rule.trim().startsWith("Bash("));
  for (const line of lines) if (!bashRules.some((rule) => ruleMatches(rule, "Bash", { command: line }))) throw MarkdownCommandErrors.COMMAND_SHELL_REFUSED([qname, line]);
  if (!spawn) throw MarkdownCommandErrors.COMMAND_SHELL_REFUSED([qname, lines[0]!]);
  const bound = lines.map((line) => ({ line, ...bindShellLine(qname, line, { ...args, root: command.root }) }));
  for (const { line, script, positional, env } of bound) {
    const result = await runShell(spawn, script, {
      cwd, args: positional, env: shellEnvironment(env), timeoutMs: SHELL_TIMEOUT_MS, maxOutputChars: SHELL_MAX_CHARS, name: `${qname} !\`${line.slice(0, 40)}\``,
    });
    const text = [result.stdout.trimEnd(), result.stderr.trimEnd()].filter(Boolean).join("\n");
    const status = result.timedOut ? `[timed out after ${SHELL_TIMEOUT_MS / 1000} s]` : result.exitCode !== 0 ? `[exit code ${result.exitCode}]` : "";
    outputs.set(line, [text, status].filter(Boolean).join("\n"));
  }
  return outputs;
}

/**
 * `@path` of a file inside the plugin folder (its real path: links out of it are not followed) becomes
 * the file's text; other `@...` stay as written. A path made of an argument (`@$1`) is never read:
 * the argument is shown as text.
 */
function fileReference(command: MarkdownCommand, lead: string, written: string, raw: string): string {
  const path = written.replaceAll("${CLAUDE_PLUGIN_ROOT}", command.root);
  if (/\$ARGUMENTS\b|\$\d|\$\$/.test(path)) return `${lead}@${substituteArguments(path, raw)}`;
  const text = command.readFile(path.replace(/[.,;:)]+$/, ""));
  if (text === null) return `${lead}@${written}`;
  return `${lead}${text.length > FILE_MAX_CHARS ? `${text.slice(0, FILE_MAX_CHARS)}… [cut at ${FILE_MAX_CHARS} characters]` : text}`;
}
