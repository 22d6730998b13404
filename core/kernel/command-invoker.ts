/** Runs a slash command: a code command returns its result; a markdown command renders its prompt and, when an agents service exists, runs it. */
import { createError, defineErrors, messageOf } from "./errors.ts";
import type { OwnedRegistry } from "./owned-registry.ts";
import type { CommandCaller, RegisteredCommand } from "./plugin-context.ts";
import { COMMAND_ROLES, type CommandRole } from "./plugin-files.ts";
import type { ServiceRegistry } from "./services.ts";
import { renderMarkdownCommand } from "./markdown-command.ts";
import { splitArguments } from "./slash-arguments.ts";

export const CommandErrors = defineErrors("core", {
  COMMAND_NOT_FOUND: createError("COMMAND_NOT_FOUND", 404, (qname: string) => `No command '${qname}'; list them at GET /api/v1/plugins/commands`),
  COMMAND_FORBIDDEN: createError("COMMAND_FORBIDDEN", 403, (qname: string, need: string, have: string) => `Command '${qname}' requires role '${need}'; the caller has '${have}'`),
  COMMAND_FAILED: createError("COMMAND_FAILED", 422, (qname: string, why: string) => `Command '${qname}' failed: ${why}`),
  COMMAND_ARGUMENTS_INVALID: createError("COMMAND_ARGUMENTS_INVALID", 400, (qname: string) =>
    `Command '${qname}': arguments must be text without NUL or other control characters (tabs and line breaks are fine)`),
});

export interface CommandView {
  qname: string;
  plugin: string;
  name: string;
  kind: "code" | "markdown";
  /** Least role that may invoke it. */
  role: CommandRole;
  description: string;
  argument_hint: string | null;
  allowed_tools: string[];
  model: string | null;
}

export function viewOf(qname: string, c: RegisteredCommand): CommandView {
  return {
    qname, plugin: c.plugin, name: c.name, kind: c.markdown ? "markdown" : "code", role: c.role, description: c.description,
    argument_hint: c.argumentHint ?? null, allowed_tools: c.markdown?.allowedTools ?? [], model: c.markdown?.model ?? null,
  };
}

const CONTROL_CHARACTER = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const SLASH_LINE = /^\/([^\s:/]+:[^\s/]+)(?:\s+([\s\S]*))?$/;

/** "/plugin:command arguments" → its parts; undefined when the line is not a slash command. */
export function parseSlashLine(line: string): { qname: string; arguments: string } | undefined {
  const match = SLASH_LINE.exec(line.trim());
  return match ? { qname: match[1]!, arguments: match[2] ?? "" } : undefined;
}

/** Accepts "plugin:command" or "/plugin:command". */
export function normalizeQname(qname: string): string {
  return qname.startsWith("/") ? qname.slice(1) : qname;
}

/** What invoking a command gives: a code command's result, or a markdown command's rendered prompt (and an agent's result). */
export type CommandInvocation =
  | { qname: string; kind: "code"; result: unknown }
  | { qname: string; kind: "markdown"; prompt: string; allowed_tools: string[]; model: string | null; ran_as_agent: boolean; result: unknown };

/** The rank of a caller's role for command checks; roles below viewer (public, inference) rank lowest. */
const rankOf = (role: string) => COMMAND_ROLES.indexOf(role as CommandRole);

/** Whether a caller with `callerRole` may invoke a command that requires `commandRole`. */
export function mayInvoke(callerRole: string, commandRole: CommandRole): boolean {
  return rankOf(callerRole) >= rankOf(commandRole);
}

/** Invokes a command as `caller`: 403 COMMAND_FORBIDDEN below the command's role, whatever the path. */
export async function invokeCommand(commands: OwnedRegistry<RegisteredCommand>, services: ServiceRegistry, qnameIn: string, raw: string, caller: CommandCaller): Promise<CommandInvocation> {
  const qname = normalizeQname(qnameIn);
  const command = commands.get(qname);
  if (!command) throw CommandErrors.COMMAND_NOT_FOUND([qname]);
  if (!mayInvoke(caller.role, command.role)) throw CommandErrors.COMMAND_FORBIDDEN([qname, command.role, caller.role]);
  if (CONTROL_CHARACTER.test(raw)) throw CommandErrors.COMMAND_ARGUMENTS_INVALID([qname]);
  if (command.run) {
    let result: unknown;
    try {
      result = await command.run({ arguments: raw, argv: splitArguments(raw), caller: { role: caller.role } });
    } catch (error) {
      throw CommandErrors.COMMAND_FAILED([qname, messageOf(error)]);
    }
    return { qname, kind: "code" as const, result: jsonSafe(result) };
  }
  const markdown = command.markdown!;
  // The declared extension point "agents" (service-contracts.ts): a plugin may run the prompt as an agent.
  const agents = services.get("agents");
  const prompt = await renderMarkdownCommand(qname, markdown, raw, command.spawn, agents?.workingDirectory?.());
  let result: unknown = null;
  if (agents) {
    try {
      result = jsonSafe(await agents.runPrompt({ prompt, allowedTools: markdown.allowedTools, model: markdown.model, command: qname, caller }));
    } catch (error) {
      throw CommandErrors.COMMAND_FAILED([qname, messageOf(error)]);
    }
  }
  return { qname, kind: "markdown" as const, prompt, allowed_tools: markdown.allowedTools, model: markdown.model, ran_as_agent: agents !== undefined, result };
}

/** Undefined becomes null; values JSON cannot carry (functions, cycles, bigint) become their string form. */
function jsonSafe(value: unknown): unknown {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value) ?? "null");
  } catch {
    return String(value);
  }
}
