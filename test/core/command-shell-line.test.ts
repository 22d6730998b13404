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

  test("every place where bash would run a value as code refuses the line (403), whatever the value", () => {
    const payload = "z[$(echo PWNED >&2)]";
    const bound = (line: string) => {
      try {
        return bindShellLine("t:cmd", line, { argv: [payload], raw: payload, root: "/r" });
      } catch (error) {
        return (error as { code: string }).code;
      }
    };
    const lines = [
      'bash -lc "echo $1"', 'sh -ec "$1"', "bash --norc -c $1", "zsh -c $ARGUMENTS", 'su root -c "$1"', 'sudo -u x "$1"',
      'echo "${a[$1]}"', "a[$1]=x", '[ -v "$1" ]', 'test -v "$1"', 'printf -v "$1" x', "echo $[ $1 ]", 'echo "${x:$1}"',
      'declare -i n="$1"', 'local n="$1"', 'trap "$1" EXIT', 'watch "$1"', 'read "$1" <<< x', 'unset "$1"', 'echo "${!1}"',
      "echo $(( $1 ))", "[[ $1 -eq 1 ]]", "let n=$1", "eval $1", "source $1", ". $1",
      // References bash makes to the values without a Claude Code placeholder are judged the same.
      'read "${1}" <<< x', 'echo "${!ARGUMENTS}"', "(( ${ARGUMENTS} ))",
    ];
    for (const line of lines) expect([line, bound(line)]).toEqual([line, "COMMAND_LINE_UNSAFE"]);
    // Plain uses stay allowed, and a value still arrives as one literal word.
    for (const line of ['printf "[%s]" "$1"', "git log -- $1", 'grep -v -- "$1" notes.txt', "ssh-keygen -l -f x$1", "git push origin $1"]) {
      expect(typeof bound(line)).toBe("object");
    }
    expect(runBound('printf "[%s]" "$1"', [payload])).toBe(`[${payload}]`);
  });

  test("the rewrite knows which placeholder begins a word and which follows `--`", () => {
    expect(rewriteShellLine("git log -- $1 && echo x$2").uses).toEqual([
      { name: "1", startsWord: true, afterOptionsEnd: true },
      { name: "2", startsWord: false, afterOptionsEnd: false },
    ]);
  });
});
