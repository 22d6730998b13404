/**
 * A markdown command's `!`…`` line with its placeholders bound to values: `$1`, `$ARGUMENTS` and
 * `${CLAUDE_PLUGIN_ROOT}` become references to bash parameters set from the values, so bash never
 * parses an argument (no command, operator, glob or variable can come from it), and each one is
 * one word. An argument that would start an option or name a path outside the working folder is refused.
 */
import { createError, defineErrors } from "./errors.ts";

export const ShellLineErrors = defineErrors("core", {
  COMMAND_ARGUMENT_REFUSED: createError("COMMAND_ARGUMENT_REFUSED", 400, (qname: string, which: string, line: string, why: string) =>
    `Command '${qname}' refuses ${which} for its line \`${line}\`: ${why}. Arguments reach a command's shell lines as data, one word each`),
  COMMAND_LINE_UNSAFE: createError("COMMAND_LINE_UNSAFE", 403, (qname: string, line: string) =>
    `Command '${qname}' places an argument inside arithmetic or eval in \`${line}\`, where bash would run it as code; gantry refuses such lines`),
});

/** What the line's values are: the argument words, the whole argument text, the plugin's folder. */
export interface ShellLineValues {
  argv: string[];
  raw: string;
  root: string;
}

/** What bash runs: the rewritten line, its positional parameters ($1..$n) and extra environment. */
export interface BoundShellLine {
  script: string;
  positional: string[];
  env: Record<string, string>;
}

interface PlaceholderUse {
  /** `1`, `2`, ... `ARGUMENTS` or `CLAUDE_PLUGIN_ROOT`. */
  name: string;
  /** The value begins a word: a leading `-` would make it an option. */
  startsWord: boolean;
  /** A `--` word came before it in the same command: the program reads no options after it. */
  afterOptionsEnd: boolean;
}

const PLACEHOLDER = /^(?:\$\$|\$ARGUMENTS\b|\$([1-9]\d*)|\$\{CLAUDE_PLUGIN_ROOT\})/;
const WORD_BREAK = /[\s;&|()<>]/;
const COMMAND_BREAK = /[;&|()\n]/;
/**
 * Contexts where bash runs a value as code. Arithmetic evaluates `a[$(cmd)]`: `((…))`, `$[…]`, `[[…]]`,
 * array subscripts and `${x:offset}` (a `${…}` holding a `$`), `let`, `declare/typeset/local -i`,
 * `test -v`/`[ -v`, `printf -v`, a variable named by a value (`read`, `unset`, `${!x}`). Text run as a script: eval, source/`.`, `sh -c` with any options
 * (`bash -lc`), trap, and the runners of a command string (watch, su -c, sudo, runuser).
 */
const CODE_CONTEXT = new RegExp([
  String.raw`\(\(`, String.raw`\[\[`, String.raw`\$\[`,
  String.raw`\w\[[^\]]*\$`, String.raw`\$\{[^}]*\$`, String.raw`\$\{!`,
  String.raw`(?:^|[\s;&|(])(?:let|eval|source|\.|trap|watch|sudo|runuser|declare|typeset|local|read|unset)\s`,
  String.raw`(?:^|[\s;&|(])(?:ba|da|k|z)?sh\s+(?:-[-\w]*\s+)*-\w*c`,
  String.raw`(?:^|[\s;&|(])su\s[^;&|\n]*-\w*c`,
  String.raw`(?:^|[\s;&|(\[])(?:test|\[)\s+(?:!\s+)?-v\s`,
  String.raw`(?:^|[\s;&|(])printf\s+(?:-\S+\s+)*-v`,
].join("|"));
/** Any reference bash could make to a bound value, placeholders or not (`${1}`, `$@`, `${!1}`, `${ARGUMENTS}`). */
const REFERS_TO_VALUES = /\$\{?[!#]?(?:ARGUMENTS\b|[1-9@*])/;

/** How a bound value is referred to: quoted so bash neither splits nor globs it; an empty unquoted one is no word at all, as Claude Code's empty substitution is. */
function reference(name: string, quote: string): string {
  if (quote === '"') return `\${${name}}`;
  if (quote === "'") return `'"\${${name}}"'`;
  return `\${${name}:+"\${${name}}"}`;
}

/** Rewrites placeholders into parameter references, tracking quotes and words (bash's rules, enough to know where a value sits). */
export function rewriteShellLine(line: string): { script: string; uses: PlaceholderUse[] } {
  let script = "";
  let quote = "";
  let word = "";
  let wordHasText = false;
  let optionsEnded = false;
  const uses: PlaceholderUse[] = [];
  for (let i = 0; i < line.length;) {
    const ch = line[i]!;
    const placeholder = ch === "$" ? PLACEHOLDER.exec(line.slice(i)) : null;
    if (placeholder) {
      i += placeholder[0].length;
      if (placeholder[0] === "$$") script += quote === "'" ? "$" : "\\$"; // Claude Code's literal `$`
      else {
        const name = placeholder[1] ?? (placeholder[0] === "$ARGUMENTS" ? "ARGUMENTS" : "CLAUDE_PLUGIN_ROOT");
        uses.push({ name, startsWord: !wordHasText, afterOptionsEnd: optionsEnded });
        script += reference(name, quote);
      }
      word += "$";
      wordHasText = true;
      continue;
    }
    i++;
    if (quote === "" && WORD_BREAK.test(ch)) {
      if (word === "--") optionsEnded = true;
      if (COMMAND_BREAK.test(ch)) optionsEnded = false;
      word = "";
      wordHasText = false;
      script += ch;
    } else if (quote === "" && (ch === "'" || ch === '"')) {
      quote = ch;
      script += ch;
    } else if (quote !== "" && ch === quote) {
      quote = "";
      script += ch;
    } else if (ch === "\\" && quote !== "'") {
      script += ch + (line[i] ?? "");
      word += line[i] ?? "";
      wordHasText = true;
      i++;
    } else {
      script += ch;
      word += ch;
      wordHasText = true;
    }
  }
  return { script, uses };
}

/** Why a value may not sit where a use puts it; undefined when it may. */
function refusal(value: string, use: PlaceholderUse): string | undefined {
  if (use.name === "CLAUDE_PLUGIN_ROOT") return undefined;
  if (use.startsWord && !use.afterOptionsEnd && value.startsWith("-")) return "it starts with '-', which would make it an option (write `--` before the placeholder in the command file if the program takes one)";
  if (value.startsWith("/")) return "it is an absolute path; give a path inside the working folder";
  if (value.split(/[/\\]/).includes("..")) return "it holds a '..' path segment, which leaves the working folder";
  return undefined;
}

/** Binds a `!`…`` line's placeholders to the values; throws COMMAND_ARGUMENT_REFUSED (400) or COMMAND_LINE_UNSAFE (403). */
export function bindShellLine(qname: string, line: string, values: ShellLineValues): BoundShellLine {
  const { script, uses } = rewriteShellLine(line);
  if ((uses.some((u) => u.name !== "CLAUDE_PLUGIN_ROOT") || REFERS_TO_VALUES.test(line)) && CODE_CONTEXT.test(line)) throw ShellLineErrors.COMMAND_LINE_UNSAFE([qname, line]);
  const valueOf = (name: string) => (name === "ARGUMENTS" ? values.raw.trim() : name === "CLAUDE_PLUGIN_ROOT" ? values.root : values.argv[Number(name) - 1] ?? "");
  for (const use of uses) {
    const why = refusal(valueOf(use.name), use);
    if (why) throw ShellLineErrors.COMMAND_ARGUMENT_REFUSED([qname, use.name === "ARGUMENTS" ? "$ARGUMENTS" : `argument ${use.name}`, line, why]);
  }
  const highest = Math.max(0, ...uses.filter((u) => /^\d+$/.test(u.name)).map((u) => Number(u.name)));
  const positional = Array.from({ length: highest }, (_, i) => values.argv[i] ?? "");
  // $ARGUMENTS is handed on only to a line that places it: a `${ARGUMENTS}` written otherwise stays empty.
  const env: Record<string, string> = { CLAUDE_PLUGIN_ROOT: values.root };
  if (uses.some((u) => u.name === "ARGUMENTS")) env.ARGUMENTS = values.raw.trim();
  return { script, positional, env };
}
