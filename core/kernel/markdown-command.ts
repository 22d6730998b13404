/**
 * Renders a markdown command's prompt as Claude Code does: `$ARGUMENTS` and `$1..$n`,
 * `${CLAUDE_PLUGIN_ROOT}`, `!`command`` lines run (when `allowed-tools` grants `Bash(...)` for
 * them) with their output inlined, and `@file` references inside the plugin folder inlined.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { relative, resolve } from "node:path";
import { createError } from "./errors.ts";
import type { MarkdownCommand } from "./plugin-files.ts";
import { runShell, type Spawner } from "./shell-run.ts";
import { substituteArguments } from "./slash-arguments.ts";
import { ruleMatches } from "./tool-rules.ts";

export const MarkdownCommandErrors = {
  COMMAND_SHELL_REFUSED: createError("COMMAND_SHELL_REFUSED", 403, (qname: string, line: string) =>
    `Command '${qname}' runs \`${line}\`, which its allowed-tools do not grant: add a rule such as Bash(${line.split(/\s+/).slice(0, 2).join(" ")}:*) to the command's front matter`),
};

const SHELL_LINE = /!`([^`\n]+)`/g;
const FILE_REFERENCE = /(^|\s)@([^\s`'"<>]+)/g;
const SHELL_TIMEOUT_MS = 30_000;
const SHELL_MAX_CHARS = 16_000;
const FILE_MAX_CHARS = 64_000;

/** The prompt a markdown command sends, with every substitution done. */
export async function renderMarkdownCommand(qname: string, command: MarkdownCommand, raw: string, spawn: Spawner | undefined): Promise<string> {
  let body = command.body.replaceAll("${CLAUDE_PLUGIN_ROOT}", command.root);
  const hasPlaceholder = /\$ARGUMENTS\b|\$\d/.test(body);
  body = substituteArguments(body, raw);
  // Claude Code hands arguments a command does not place to the model after the prompt.
  if (!hasPlaceholder && raw.trim() !== "") body = `${body.trimEnd()}\n\nARGUMENTS: ${raw.trim()}\n`;
  body = await runShellLines(qname, command, body, spawn);
  return inlineFiles(command.root, body);
}

async function runShellLines(qname: string, command: MarkdownCommand, body: string, spawn: Spawner | undefined): Promise<string> {
  const lines = [...body.matchAll(SHELL_LINE)].map((m) => m[1]!.trim());
  if (lines.length === 0) return body;
  const bashRules = command.allowedTools.filter((rule) => rule.trim() === "Bash" || rule.trim().startsWith("Bash("));
  for (const line of lines) if (!bashRules.some((rule) => ruleMatches(rule, "Bash", { command: line }))) throw MarkdownCommandErrors.COMMAND_SHELL_REFUSED([qname, line]);
  if (!spawn) throw MarkdownCommandErrors.COMMAND_SHELL_REFUSED([qname, lines[0]!]);
  const outputs = new Map<string, string>();
  for (const line of new Set(lines)) {
    const result = await runShell(spawn, line, { cwd: command.root, timeoutMs: SHELL_TIMEOUT_MS, maxOutputChars: SHELL_MAX_CHARS, name: `${qname} !\`${line.slice(0, 40)}\`` });
    const text = [result.stdout.trimEnd(), result.stderr.trimEnd()].filter(Boolean).join("\n");
    const status = result.timedOut ? `[timed out after ${SHELL_TIMEOUT_MS / 1000} s]` : result.exitCode !== 0 ? `[exit code ${result.exitCode}]` : "";
    outputs.set(line, [text, status].filter(Boolean).join("\n"));
  }
  return body.replace(SHELL_LINE, (_, line: string) => outputs.get(line.trim()) ?? "");
}

/** `@path` of a file inside the plugin folder becomes the file's text; other `@...` stay as written. */
function inlineFiles(root: string, body: string): string {
  return body.replace(FILE_REFERENCE, (match, lead: string, path: string) => {
    const file = resolve(root, path.replace(/[.,;:)]+$/, ""));
    if (relative(root, file).startsWith("..") || !existsSync(file) || !statSync(file).isFile()) return match;
    const text = readFileSync(file, "utf8");
    return `${lead}${text.length > FILE_MAX_CHARS ? `${text.slice(0, FILE_MAX_CHARS)}… [cut at ${FILE_MAX_CHARS} characters]` : text}`;
  });
}
