import { afterEach, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, json, startGantry, tempDir, type TestGantry } from "../helpers.ts";

const CLAUDE = join(FIXTURES, "claude-plugins");
let g: TestGantry | undefined;
afterEach(async () => {
  await g?.stop();
  g = undefined;
});

const install = async (body: Record<string, unknown>) => {
  const res = await g!.api("/api/v1/plugins", json("POST", body));
  return { status: res.status, body: await res.json() };
};
const commandNames = async (plugin: string) =>
  (await (await g!.api("/api/v1/plugins/commands")).json()).commands.filter((c: { plugin: string }) => c.plugin === plugin).map((c: { name: string }) => c.name);
const invoke = async (qname: string, args = "") => {
  const res = await g!.api(`/api/v1/plugins/commands/${encodeURIComponent(qname)}/invoke`, json("POST", { arguments: args }));
  return { status: res.status, body: await res.json() };
};

describe("Claude Code plugin format", () => {
  test("a Claude-style root manifest (author, keywords) installs; leading digits, underscores, nested folders and YAML lists", async () => {
    g = await startGantry();
    const { status, body } = await install({ path: join(CLAUDE, "root-manifest") });
    expect(status).toBe(201);
    expect(body).toMatchObject({ name: "1st-tools", version: "0.3.0", status: "active", unsupported: [] });
    expect(await commandNames("1st-tools")).toEqual(["clean_gone", "frontend:component", "plain", "risky"]);
    const clean = await (await g.api("/api/v1/plugins/commands/1st-tools:clean_gone")).json();
    expect(clean.allowed_tools).toEqual(["Bash(echo:*)", "Bash(ls:*)", "Bash(pwd)"]);
    const component = await (await g.api("/api/v1/plugins/commands/1st-tools:frontend:component")).json();
    expect(component.argument_hint).toBe("[name] [props...]");
  });

  test("a folder without a manifest takes its name from the folder; front matter YAML rejects is read as Claude Code reads it", async () => {
    g = await startGantry();
    const { status, body } = await install({ path: join(CLAUDE, "bare-plugin") });
    expect(status).toBe(201);
    expect(body).toMatchObject({ name: "bare-plugin", version: "0.0.0" });
    const { agents } = await (await g.api("/api/v1/plugins/agents")).json();
    expect(agents).toEqual([{ qname: "bare-plugin:bare-helper", plugin: "bare-plugin", name: "bare-helper", description: expect.stringContaining('user: "help me"'), tools: ["Read", "Grep"], model: "inherit" }]);
    expect(agents[0].description).toStartWith("Use this agent when: the user asks for help.");
    // A folder with nothing a plugin has is still refused.
    const empty = tempDir("gantry-empty-");
    expect((await install({ path: empty })).body.code).toBe("PLUGIN_PATH_NOT_FOUND");
  });

  test("a marketplace folder lists its plugins, installs one by name (also one defined only by its entry), and survives a restart", async () => {
    g = await startGantry();
    const market = join(CLAUDE, "marketplace");
    const listing = await install({ path: market });
    expect(listing.status).toBe(200);
    expect(listing.body.marketplace).toBe("example-market");
    expect(listing.body.plugins.map((p: { name: string; installable: boolean }) => [p.name, p.installable])).toEqual([["listed", true], ["inline-only", true], ["remote", false]]);
    expect(listing.body.plugins[2].reason).toContain("remote source (github)");

    const listed = await install({ path: market, plugin: "listed" });
    expect(listed.status).toBe(201);
    expect(listed.body).toMatchObject({ name: "listed", version: "1.0.0", path: `${market}#listed` });
    const inline = await install({ path: market, plugin: "inline-only" });
    expect(inline.status).toBe(201);
    expect(inline.body).toMatchObject({ name: "inline-only", version: "2.0.0", description: "Defined only by this entry" });
    expect(inline.body.unsupported).toEqual([{ part: "lspServers", reason: expect.stringContaining("language servers") }]);
    expect(await commandNames("inline-only")).toEqual(["inline_cmd"]);
    expect(g.logs.text).toContain("some of its parts do nothing in gantry");

    const remote = await install({ path: market, plugin: "remote" });
    expect([remote.status, remote.body.error]).toEqual([400, expect.stringContaining("clone it and install from its folder")]);
    expect((await install({ path: market, plugin: "nope" })).body.error).toContain("it lists listed, inline-only, remote");
    expect((await install({ path: join(CLAUDE, "bare-plugin"), plugin: "x" })).status).toBe(400);

    const dataDir = g.dataDir;
    await g.gantry.stop();
    g = await startGantry({ dataDir });
    const { plugins } = await (await g.api("/api/v1/plugins")).json();
    expect(plugins.map((p: { name: string; status: string }) => [p.name, p.status])).toEqual([["inline-only", "active"], ["listed", "active"]]);
    expect(await commandNames("inline-only")).toEqual(["inline_cmd"]);
  });

  test("skills are listed; hook events and hook types gantry does not run are reported as unsupported", async () => {
    g = await startGantry();
    const { body } = await install({ path: join(CLAUDE, "guarded") });
    expect(body.install_drops).toEqual(expect.arrayContaining([
      { kind: "skill", name: "guarded:release-notes" }, { kind: "hook", name: "guarded:PreToolUse:1" }, { kind: "hook", name: "guarded:SessionStart:3" },
    ]));
    expect(body.unsupported).toEqual([
      { part: "hooks/hooks.json: Notification", reason: expect.stringContaining("approval_requested") },
      { part: "hooks/hooks.json: Stop prompt", reason: expect.stringContaining('only "command" hooks') },
      { part: "agent guarded:scout: tool TodoWrite", reason: expect.stringContaining("no to-do list") },
    ]);
    expect((await (await g.api("/api/v1/plugins/guarded")).json()).unsupported).toHaveLength(3);
    const { skills } = await (await g.api("/api/v1/plugins/skills")).json();
    expect(skills).toEqual([{ qname: "guarded:release-notes", plugin: "guarded", name: "release-notes", description: expect.stringContaining("Writes release notes"), files: ["examples/format.md"] }]);
    await g.api("/api/v1/plugins/guarded", { method: "DELETE" });
    expect((await (await g.api("/api/v1/plugins/skills")).json()).skills).toEqual([]);
    expect(g.gantry.core.hooks.size).toBe(0);
  });

  test("bad manifests are refused with the problem named", async () => {
    g = await startGantry();
    const dir = join(tempDir("gantry-claude-"), "weird");
    mkdirSync(join(dir, ".claude-plugin"), { recursive: true });
    writeFileSync(join(dir, ".claude-plugin", "plugin.json"), JSON.stringify({ name: "has space", commands: 42 }));
    const bad = await install({ path: dir });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toContain("name: letters, digits");
    expect(bad.body.error).toContain("commands: must be a path or a list of paths");
    writeFileSync(join(dir, ".claude-plugin", "plugin.json"), JSON.stringify({ name: "escapes", agents: "../../elsewhere" }));
    expect((await install({ path: dir })).body.error).toContain("'../../elsewhere' is outside the plugin folder");
    writeFileSync(join(dir, ".claude-plugin", "plugin.json"), JSON.stringify({ name: "skills" }));
    expect((await install({ path: dir })).body.error).toContain("reserved");

    // Inline hooks and MCP servers, and a command file named by path, in the manifest itself.
    mkdirSync(join(dir, "more"));
    writeFileSync(join(dir, "more", "single.md"), "Just one\n");
    writeFileSync(join(dir, ".claude-plugin", "plugin.json"), JSON.stringify({
      name: "inline", commands: "./more/single.md",
      hooks: { PreToolUse: [{ matcher: "Write", hooks: [{ type: "command", command: "true" }] }] },
      mcpServers: { local: { command: "true" } },
    }));
    const inline = await install({ path: dir });
    expect(inline.status).toBe(201);
    expect(inline.body.install_drops).toEqual(expect.arrayContaining([
      { kind: "command", name: "inline:single" }, { kind: "hook", name: "inline:PreToolUse:1" }, { kind: "mcp_server", name: "inline:local" },
    ]));
  });
});

describe("markdown commands as Claude Code renders them", () => {
  test("${CLAUDE_PLUGIN_ROOT}, !`cmd` lines granted by allowed-tools, @file inside the plugin, raw $ARGUMENTS", async () => {
    g = await startGantry();
    const dir = join(tempDir("gantry-claude-"), "root-manifest");
    cpSync(join(CLAUDE, "root-manifest"), dir, { recursive: true });
    await install({ path: dir });
    const { status, body } = await invoke("1st-tools:clean_gone");
    expect(status).toBe(200);
    expect(body.prompt).toBe([
      "Plugin files: note.md",
      "Greeting: hello from the shell",
      `Where (declared like any other line): ${dir}`,
      "",
      "Template: A note template: keep it short.\n",
      "Elsewhere: @../../../../etc/hostname and mail@example.com stay as written.",
      "",
    ].join("\n"));

    const refused = await invoke("1st-tools:risky");
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: "COMMAND_SHELL_REFUSED", error: expect.stringContaining("rm -rf /tmp/should-never-run") });
    expect(existsSync("/tmp/should-never-run")).toBe(false);

    const typed = `Card "primary  button" --size=$HOME 'x'`;
    expect((await invoke("1st-tools:frontend:component", typed)).body.prompt).toBe(`Make the component Card with the props: ${typed}\n`);
    expect((await invoke("1st-tools:plain", "the text")).body.prompt).toBe("Summarise the following.\n\nARGUMENTS: the text\n");
  });
});
