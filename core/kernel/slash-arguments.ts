/**
 * Slash-command arguments: shell-like splitting (shell-quote) and Claude Code's substitution of
 * `$ARGUMENTS` and `$1`, `$2`, ... in a command body.
 */
import { parse } from "shell-quote";

/**
 * Splits like a POSIX shell (shell-quote): whitespace separates words; '...' and "..." group
 * (adjacent parts join); a backslash escapes the next character. Nothing is expanded or run:
 * `$VAR` and globs stay as typed; shell operators (`|`, `>`, `;`, ...) outside quotes become
 * words of their own; `#` starts no comment (the rest of the line stays words).
 */
export function splitArguments(raw: string): string[] {
  const words: string[] = [];
  for (const entry of parse(raw, (name) => `$${name}`)) {
    if (typeof entry === "string") words.push(entry);
    else if ("comment" in entry) words.push(...`#${entry.comment}`.split(/\s+/).filter(Boolean));
    else if ("pattern" in entry) words.push(String(entry.pattern));
    else if ("op" in entry) words.push(String(entry.op));
  }
  return words;
}

/** Fills `$ARGUMENTS` (the raw string, trimmed) and `$1`..`$n` (missing ones become empty). `$$` is a literal `$`. */
export function substituteArguments(body: string, raw: string): string {
  const argv = splitArguments(raw);
  return body.replace(/\$\$|\$ARGUMENTS\b|\$(\d+)/g, (match, index: string | undefined) => {
    if (match === "$$") return "$";
    if (index === undefined) return raw.trim();
    return argv[Number(index) - 1] ?? "";
  });
}
