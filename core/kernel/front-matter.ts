/** `---` front matter of markdown commands, agents and skills, read as YAML the way Claude Code reads it. */
import type * as Yaml from "yaml";
import { Errors } from "./errors.ts";

// Loaded on the first front matter read: the yaml package costs the CLI's every start ~30-150 ms otherwise.
let yaml: typeof Yaml | undefined;
const parse = (text: string): unknown => (yaml ??= require("yaml") as typeof Yaml).parse(text);

const FRONT_MATTER = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;
const TOP_LEVEL_FIELD = /^([A-Za-z_][\w.-]*)[ \t]*:[ \t]+(\S.*)$/;
/** Keys Claude Code reads in commands, agents and skills: in the lenient reading, a line that starts another key ends a value. */
const KNOWN_KEYS = new Set([
  "name", "description", "tools", "disallowedTools", "model", "color", "allowed-tools", "argument-hint", "disable-model-invocation", "user-invocable",
  "license", "version", "when_to_use", "hooks", "permissionMode", "skills", "context", "agent", "mode", "metadata", "compatibility", "category", "tags", "author",
]);

/**
 * Splits front matter from the body and parses it with `yaml`. Real plugin files often carry
 * values YAML rejects as written (`argument-hint: [branch] [focus]`, `description: Use this
 * agent when: ...`); as Claude Code does, such a block is read again with every top-level
 * `key: value` taken as a plain string. A block that still does not parse is refused with the
 * file named. `argument-hint` is always the raw text of its line.
 */
export function parseFrontMatter(text: string, file: string): { data: Record<string, unknown>; body: string } {
  const match = FRONT_MATTER.exec(text);
  if (!match) return { data: {}, body: text.replace(/^\uFEFF/, "") };
  const block = match[1]!;
  let data: unknown;
  try {
    data = parse(block);
  } catch {
    try {
      data = parse(quotePlainValues(block));
    } catch (error) {
      const why = (error as Error).message.split("\n")[0];
      throw Errors.PLUGIN_MANIFEST_INVALID([file, [`front matter is not YAML: ${why}`]]);
    }
  }
  const record = data && typeof data === "object" && !Array.isArray(data) ? { ...(data as Record<string, unknown>) } : {};
  const hint = /^argument-hint[ \t]*:[ \t]*(.*)$/m.exec(block);
  if (hint) record["argument-hint"] = unquote(hint[1]!.trim());
  return { data: record, body: text.slice(match[0].length) };
}

function unquote(value: string): string {
  const quoted = /^(["'])(.*)\1$/.exec(value);
  return quoted ? quoted[2]! : value;
}

/**
 * Rewrites each top-level `key: value` as `key: "value"`; the lines after it up to the next known
 * key belong to the value (agent descriptions carry unindented `<example>` blocks with `user:` lines).
 */
function quotePlainValues(block: string): string {
  const lines = block.split(/\r?\n/);
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const field = TOP_LEVEL_FIELD.exec(lines[i]!);
    const value = field?.[2]!.trim();
    if (!field || !value || /^["'|>]/.test(value) || isFlowCollection(value)) {
      out.push(lines[i]!);
      continue;
    }
    const parts = [value];
    while (i + 1 < lines.length && !startsKnownKey(lines[i + 1]!) && !/^[ \t]*- /.test(lines[i + 1]!)) parts.push(lines[++i]!.trim());
    out.push(`${field[1]}: ${JSON.stringify(parts.join("\n").trim())}`);
  }
  return out.join("\n");
}

function startsKnownKey(line: string): boolean {
  const key = /^([A-Za-z_][\w.-]*)[ \t]*:/.exec(line)?.[1];
  return key !== undefined && KNOWN_KEYS.has(key);
}

/** `[Read, Grep]` and `{a: 1}` stay YAML; `[branch] [focus]` does not parse and becomes a string. */
function isFlowCollection(value: string): boolean {
  if (!/^[[{]/.test(value)) return false;
  try {
    parse(value);
    return true;
  } catch {
    return false;
  }
}
