import { describe, expect, test } from "bun:test";
import { bindShellLine, rewriteShellLine } from "../../core/kernel/command-shell-line.ts";

/** Runs a bound line in a real bash, as a command's `!`…`` line runs, and returns what it printed. */
function runBound(line: string, argv: string[], raw = argv.join(" ")): string {
  const bound = bindShellLine("t:cmd", line, { argv, raw, root: "/plugin root" });
  const child = Bun.spawnSync(["bash", "-c", bound.script, "bash", ...bound.positional], { env: { PATH: process.env.PATH, ...bound.env } });
  return child.stdout.toString();
}

const HOSTILE = ["a b", "$(id)", "`id`", "x; id", "a|b", "x && id", "a\nb", "*", "?", "[ab]", "{a,b}", "$HOME", "${PATH}", "'", '"', "\\", "!x", "~", `a'b"c$d\`e`];

describe("a shell line's placeholders are bound to values bash never parses", () => {
  test("unquoted, double-quoted, single-quoted and inside a word: each value arrives as exactly one literal word", () => {
    for (const value of HOSTILE) {
      expect(runBound("printf '[%s]' $1", [value])).toBe(`[${value}]`);
      expect(runBound(`printf '[%s]' "$1"`, [value])).toBe(`[${value}]`);
      expect(runBound("printf '[%s]' '$1'", [value])).toBe(`[${value}]`);
      expect(runBound("printf '[%s]' x$1y", [value])).toBe(`[x${value}y]`);
      expect(runBound("printf '[%s]' $ARGUMENTS", [], ` ${value} `)).toBe(`[${value}]`);
    }
  });

  test("a missing argument is no word at all (as Claude Code's empty substitution); $$ is a literal $; the plugin root is one word", () => {
    expect(runBound("printf '[%s]' $1 $2 end", ["one"])).toBe("[one][end]");
    expect(runBound("printf '[%s]' $$5", [])).toBe("[$5]");
    expect(runBound("printf '[%s]' ${CLAUDE_PLUGIN_ROOT}/x", [])).toBe("[/plugin root/x]");
  });

  test("a value that would start an option, an absolute path or a '..' segment is refused; after `--` or inside a word a '-' is fine", () => {
    const refused = (line: string, value: string) => {
      try {
        bindShellLine("t:cmd", line, { argv: [value], raw: value, root: "/r" });
        return null;
      } catch (error) {
        return (error as { code: string }).code;
      }
    };
    expect(refused("ls $1", "-la")).toBe("COMMAND_ARGUMENT_REFUSED");
    expect(refused(`ls "$1"`, "--output=x")).toBe("COMMAND_ARGUMENT_REFUSED");
    expect(refused("ls $ARGUMENTS", "-R")).toBe("COMMAND_ARGUMENT_REFUSED");
    expect(refused("ls $1", "/etc")).toBe("COMMAND_ARGUMENT_REFUSED");
    expect(refused("cat docs/$1", "../../etc/passwd")).toBe("COMMAND_ARGUMENT_REFUSED");
    expect(refused("ls -- $1", "-la")).toBeNull();
    expect(refused("ls x$1", "-la")).toBeNull();
    expect(refused("git log $1", "main..feature")).toBeNull();
    expect(refused("echo $(( $1 + 1 ))", "1")).toBe("COMMAND_LINE_UNSAFE");
    expect(refused("bash -c $1", "id")).toBe("COMMAND_LINE_UNSAFE");
    expect(refused("eval $1", "id")).toBe("COMMAND_LINE_UNSAFE");
  });

  test("the rewrite knows which placeholder begins a word and which follows `--`", () => {
    expect(rewriteShellLine("git log -- $1 && echo x$2").uses).toEqual([
      { name: "1", startsWord: true, afterOptionsEnd: true },
      { name: "2", startsWord: false, afterOptionsEnd: false },
    ]);
  });
});
