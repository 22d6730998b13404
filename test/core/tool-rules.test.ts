import { describe, expect, test } from "bun:test";
import { ruleMatches, ruleTool } from "../../core/kernel/tool-rules.ts";

describe("permission rules in Claude Code's syntax", () => {
  test("Bash prefix and exact rules cover only what they name; compound lines, substitutions and redirections need every part covered", () => {
    const bash = (rule: string, command: string) => ruleMatches(rule, "Bash", { command });
    expect(bash("Bash(git status:*)", "git status")).toBe(true);
    expect(bash("Bash(git status:*)", "git status -s")).toBe(true);
    expect(bash("Bash(git status:*)", "git statusx")).toBe(false);
    expect(bash("Bash(git status:*)", "git status; rm -rf /")).toBe(false);
    expect(bash("Bash(git status:*)", "git status & rm -rf /")).toBe(false);
    expect(bash("Bash(git status:*)", "git status\nrm -rf /")).toBe(false);
    expect(bash("Bash(echo:*)", 'echo "a; rm -rf /"')).toBe(false);
    expect(bash("Bash(git status:*)", "git status && git status -s")).toBe(true);
    expect(bash("Bash(git status:*)", "git status $(rm -rf /)")).toBe(false);
    expect(bash("Bash(git status:*)", "git status `rm -rf /`")).toBe(false);
    expect(bash("Bash(git status:*)", "git status > ~/.bashrc")).toBe(false);
    expect(bash("Bash(git status:*)", "git status 2>&1 >/dev/null")).toBe(true);
    expect(bash("Bash(npm test)", "npm test")).toBe(true);
    expect(bash("Bash(npm test)", "npm test --watch")).toBe(false);
    expect(bash("Bash", "anything at all")).toBe(true);
    expect(ruleMatches("Bash(git status:*)", "Read", { command: "git status" })).toBe(false);
  });

  test("path, domain and plain rules; gantry's glob patterns keep working", () => {
    expect(ruleMatches("Read(/srv/docs/**)", "Read", { file_path: "/srv/docs/a/b.md" })).toBe(true);
    expect(ruleMatches("Read(/srv/docs/**)", "Read", { file_path: "/srv/other.md" })).toBe(false);
    expect(ruleMatches("WebFetch(domain:*.example.com)", "WebFetch", { url: "https://api.example.com/x" })).toBe(true);
    expect(ruleMatches("WebFetch(domain:example.com)", "WebFetch", { url: "https://evil.com/?example.com" })).toBe(false);
    expect(ruleMatches("/cron:*", "/cron:list")).toBe(true);
    expect(ruleMatches("mcp:files/*", "mcp:files/read")).toBe(true);
    expect(ruleMatches("Read", "Read", { file_path: "/x" })).toBe(true);
    expect(ruleTool("Bash(git diff:*)")).toBe("Bash");
  });
});
