import { describe, expect, test } from "bun:test";
import { splitArguments, substituteArguments } from "../../core/kernel/slash-arguments.ts";

describe("splitArguments (shell-like)", () => {
  const cases: [string, string[]][] = [
    ["", []],
    ["one two  three", ["one", "two", "three"]],
    [`fix "high priority" 'single quoted'`, ["fix", "high priority", "single quoted"]],
    [`a\\ b "c \\" d"`, ["a b", 'c " d']],
    [`pre"fix"'ed' x`, ["prefixed", "x"]],
    ["fix #123 now", ["fix", "#123", "now"]],
    ["$HOME *.ts a|b >out", ["$HOME", "*.ts", "a", "|", "b", ">", "out"]],
    [`"" empty`, ["", "empty"]].filter(Boolean) as [string, string[]],
  ];
  for (const [raw, words] of cases) test(JSON.stringify(raw), () => expect(splitArguments(raw)).toEqual(words));
});

describe("substituteArguments", () => {
  test("$ARGUMENTS is the whole raw string; $1..$n are words; missing ones are empty", () => {
    expect(substituteArguments("Review $1 for $2. All: $ARGUMENTS. Third: [$3]", `main "memory leaks"`)).toBe(`Review main for memory leaks. All: main "memory leaks". Third: []`);
  });
  test("two-digit positions and $$ for a literal dollar", () => {
    const raw = Array.from({ length: 11 }, (_, i) => `w${i + 1}`).join(" ");
    expect(substituteArguments("$10-$11-$1 costs $$5", raw)).toBe("w10-w11-w1 costs $5");
  });
  test("$ARGUMENTSX is not a placeholder, and text without placeholders is unchanged", () => {
    expect(substituteArguments("$ARGUMENTSX stays", "a")).toBe("$ARGUMENTSX stays");
    expect(substituteArguments("no placeholders", "a b")).toBe("no placeholders");
  });
});
