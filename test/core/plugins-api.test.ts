import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { copyFixture, FIXTURE_PLUGINS, FIXTURES, json, startGantry, type TestGantry } from "../helpers.ts";

let g: TestGantry;
afterEach(() => g?.stop());

const CLAUDE_PLUGIN = join(FIXTURES, "claude-plugins", "code-review");

describe("plugins API", () => {
  test("install, list, detail with install drops, reload with a changed command, uninstall", async () => {
    g = await startGantry();
    const dir = copyFixture("hello");
    const installed = await g.api("/api/v1/plugins", json("POST", { path: dir }));
    expect(installed.status).toBe(201);
    expect(await installed.json()).toMatchObject({ name: "hello", status: "active", source: "path", version: "1.0.0" });

    const list = await (await g.api("/api/v1/plugins")).json();
    expect(list.plugins.map((p: { name: string }) => p.name)).toEqual(["hello"]);
    expect(list.plugins[0].install_drops).toBeUndefined();
    const detail = await (await g.api("/api/v1/plugins/hello")).json();
    expect(detail.install_drops).toContainEqual({ kind: "command", name: "hello:greet" });
    expect(detail.error).toBeNull();

    const invoke = (args: string) => g.api("/api/v1/plugins/commands/hello:greet/invoke", json("POST", { arguments: args }));
    expect(await (await invoke("Ann")).json()).toEqual({ qname: "hello:greet", kind: "code", result: "hello, Ann" });

    const source = await Bun.file(join(dir, "index.ts")).text();
    writeFileSync(join(dir, "index.ts"), source.replace("`${greeting}, ${argv[0] ?? \"world\"}`", "`howdy, ${argv.join(\" and \")}`"));
    const reloaded = await g.api("/api/v1/plugins/hello/reload", json("POST"));
    expect(reloaded.status).toBe(200);
    expect(await (await invoke(`Ann "Bo Li"`)).json()).toMatchObject({ result: "howdy, Ann and Bo Li" });

    const removed = await g.api("/api/v1/plugins/hello", { method: "DELETE" });
    expect(await removed.json()).toEqual({ ok: true, name: "hello" });
    expect((await invoke("x")).status).toBe(404);
    expect((await g.api("/api/v1/plugins/hello")).status).toBe(404);
  });

  test("a failed reload is 422 with the error, and the old version keeps serving", async () => {
    g = await startGantry();
    const dir = copyFixture("hello");
    await g.api("/api/v1/plugins", json("POST", { path: dir }));
    writeFileSync(join(dir, "index.ts"), "export default { setup() { throw new Error('v2 is broken'); } };");
    const res = await g.api("/api/v1/plugins/hello/reload", json("POST"));
    expect(res.status).toBe(422);
    const body = await res.json();
    expect(body.code).toBe("PLUGIN_RELOAD_FAILED");
    expect(body.error).toContain("v2 is broken");
    expect((await g.api("/api/v1/hello/greeting")).status).toBe(200);
  });

  test("bad input: missing path 400, bad manifest 400 naming the problems, clash 409, reserved name 400", async () => {
    g = await startGantry();
    const missing = await g.api("/api/v1/plugins", json("POST", { path: "/no/such/folder" }));
    expect(missing.status).toBe(400);
    expect((await missing.json()).code).toBe("PLUGIN_PATH_NOT_FOUND");
    const bad = await g.api("/api/v1/plugins", json("POST", { path: join(FIXTURE_PLUGINS, "bad-manifest") }));
    expect(bad.status).toBe(400);
    const badBody = await bad.json();
    expect(badBody.code).toBe("PLUGIN_MANIFEST_INVALID");
    expect(badBody.error).toContain("surprise");
    expect((await g.api("/api/v1/plugins", json("POST", {}))).status).toBe(400);
    await g.api("/api/v1/plugins", json("POST", { path: join(FIXTURE_PLUGINS, "hello") }));
    const clash = await g.api("/api/v1/plugins", json("POST", { path: copyFixture("hello") }));
    expect(clash.status).toBe(409);
    const reserved = copyFixture("graph");
    writeFileSync(join(reserved, "plugin.json"), JSON.stringify({ name: "commands", version: "1.0.0" }));
    const reservedRes = await g.api("/api/v1/plugins", json("POST", { path: reserved }));
    expect(reservedRes.status).toBe(400);
    expect((await reservedRes.json()).error).toContain("reserved");
    expect((await g.api("/api/v1/plugins")).status).toBe(200);
  });

  test("delete refuses while another plugin depends on it (409), force removes it", async () => {
    g = await startGantry();
    await g.api("/api/v1/plugins", json("POST", { path: join(FIXTURE_PLUGINS, "hello") }));
    await g.api("/api/v1/plugins", json("POST", { path: join(FIXTURE_PLUGINS, "consumer") }));
    const refused = await g.api("/api/v1/plugins/hello", { method: "DELETE" });
    expect(refused.status).toBe(409);
    expect((await refused.json()).error).toContain("consumer");
    expect((await g.api("/api/v1/plugins/hello/disable", json("POST"))).status).toBe(409);
    expect((await g.api("/api/v1/plugins/hello?force=true", { method: "DELETE" })).status).toBe(200);
  });

  test("disable keeps the plugin listed but unreachable; enable brings it back", async () => {
    g = await startGantry();
    await g.api("/api/v1/plugins", json("POST", { path: join(FIXTURE_PLUGINS, "hello") }));
    expect((await (await g.api("/api/v1/plugins/hello/disable", json("POST"))).json()).status).toBe("disabled");
    expect((await g.api("/api/v1/hello/greeting")).status).toBe(404);
    expect((await g.api("/api/v1/plugins/hello/reload", json("POST"))).status).toBe(409);
    expect((await (await g.api("/api/v1/plugins/hello/enable", json("POST"))).json()).status).toBe("active");
    expect((await g.api("/api/v1/hello/greeting")).status).toBe(200);
  });

  test("roles: viewers read, operators invoke, admins manage", async () => {
    g = await startGantry();
    await g.api("/api/v1/plugins", json("POST", { path: join(FIXTURE_PLUGINS, "hello") }));
    const viewer = (await g.gantry.security.keys.create("v", "viewer")).key;
    const operator = (await g.gantry.security.keys.create("o", "operator")).key;
    expect((await g.api("/api/v1/plugins", { auth: viewer })).status).toBe(200);
    expect((await g.api("/api/v1/plugins/commands/hello:greet/invoke", { ...json("POST", { arguments: "x" }), auth: viewer })).status).toBe(403);
    expect((await g.api("/api/v1/plugins/commands/hello:greet/invoke", { ...json("POST", { arguments: "x" }), auth: operator })).status).toBe(200);
    expect((await g.api("/api/v1/plugins/hello/reload", { ...json("POST"), auth: operator })).status).toBe(403);
  });
});

describe("Claude Code plugin folders", () => {
  test("install unmodified: commands, agents and MCP servers are registered", async () => {
    g = await startGantry();
    const res = await g.api("/api/v1/plugins", json("POST", { path: CLAUDE_PLUGIN }));
    expect(res.status).toBe(201);
    const info = await res.json();
    expect(info).toMatchObject({ name: "code-review", version: "1.2.0", status: "active" });
    expect(info.install_drops).toEqual(expect.arrayContaining([
      { kind: "command", name: "code-review:review" },
      { kind: "command", name: "code-review:fix-issue" },
      { kind: "agent", name: "code-review:code-reviewer" },
      { kind: "mcp_server", name: "code-review:issue-tracker" },
    ]));

    const commands = await (await g.api("/api/v1/plugins/commands")).json();
    const review = commands.commands.find((c: { qname: string }) => c.qname === "code-review:review");
    expect(review).toEqual({
      qname: "code-review:review", plugin: "code-review", name: "review", kind: "markdown", description: "Review the changes on a branch",
      role: "operator", argument_hint: "[branch] [focus]", allowed_tools: ["Bash(git diff:*)", "Bash(git log:*)", "Read", "Grep"], model: "claude-sonnet-4-5",
    });
    const fix = commands.commands.find((c: { qname: string }) => c.qname === "code-review:fix-issue");
    expect(fix.allowed_tools).toEqual(["Read", "Edit", "Bash(npm test:*)"]);

    const agents = await (await g.api("/api/v1/plugins/agents")).json();
    expect(agents.agents).toEqual([{ qname: "code-review:code-reviewer", plugin: "code-review", name: "code-reviewer", description: "Reviews code for correctness, security and style. Use after any change.", tools: ["Read", "Grep", "Glob"], model: "inherit" }]);
    const agent = await (await g.api("/api/v1/plugins/agents/code-review:code-reviewer")).json();
    expect(agent.prompt).toStartWith("You are a senior code reviewer.");
    expect((await g.api("/api/v1/plugins/agents/code-review:nobody")).status).toBe(404);
  });

  test("a markdown command renders its prompt; with an agents service it runs as an agent prompt", async () => {
    g = await startGantry();
    await g.api("/api/v1/plugins", json("POST", { path: CLAUDE_PLUGIN }));
    const invoke = (qname: string, args: string) => g.api(`/api/v1/plugins/commands/${qname}/invoke`, json("POST", { arguments: args }));
    const rendered = await (await invoke("code-review:review", `feature/login "error handling"`)).json();
    expect(rendered).toEqual({
      qname: "code-review:review", kind: "markdown",
      prompt: `Review the changes on branch feature/login compared with main.\nFocus on: error handling\n\nEverything the user asked: feature/login "error handling"\n`,
      allowed_tools: ["Bash(git diff:*)", "Bash(git log:*)", "Read", "Grep"], model: "claude-sonnet-4-5", ran_as_agent: false, result: null,
    });
    const fix = await (await invoke(encodeURIComponent("/code-review:fix-issue"), "123")).json();
    expect(fix.prompt).toBe("Fix issue #123 (priority: ). Keep the change small and run the tests; costs are in $ not €.\n");

    await g.api("/api/v1/plugins", json("POST", { path: join(FIXTURE_PLUGINS, "prompt-echo") }));
    const ran = await (await invoke("code-review:review", "main")).json();
    expect(ran.ran_as_agent).toBe(true);
    expect(ran.result).toEqual({ answered: "code-review:review", prompt_chars: ran.prompt.length, tools: ["Bash(git diff:*)", "Bash(git log:*)", "Read", "Grep"], model: "claude-sonnet-4-5" });
  });

  test("uninstall removes its commands, agents and MCP servers", async () => {
    g = await startGantry();
    await g.api("/api/v1/plugins", json("POST", { path: CLAUDE_PLUGIN }));
    await g.api("/api/v1/plugins/code-review", { method: "DELETE" });
    expect((await (await g.api("/api/v1/plugins/commands")).json()).commands).toEqual([]);
    expect((await (await g.api("/api/v1/plugins/agents")).json()).agents).toEqual([]);
    expect(g.gantry.core.mcpServers.size).toBe(0);
  });

  test("a command file with broken front matter is refused with the file named", async () => {
    g = await startGantry();
    const dir = copyFixture("hello");
    await Bun.write(join(dir, "commands", "broken.md"), "---\ndescription: fine\ndescription: twice\n---\nbody\n");
    const res = await g.api("/api/v1/plugins", json("POST", { path: dir }));
    expect(res.status).toBe(422);
    const body = await res.json();
    expect(body.error).toContain("broken.md");
    expect((await g.api("/api/v1/plugins")).status).toBe(200);
    expect((await (await g.api("/api/v1/plugins")).json()).plugins).toEqual([]);
  });
});

describe("feature flags API", () => {
  test("list, read, set typed values, reset to default, events", async () => {
    g = await startGantry();
    await g.api("/api/v1/plugins", json("POST", { path: join(FIXTURE_PLUGINS, "hello") }));
    const list = await (await g.api("/api/v1/features")).json();
    expect(list.features.map((f: { name: string }) => f.name)).toEqual(["hello.shout", "hello.stall"]);
    expect(await (await g.api("/api/v1/features/hello.shout")).json()).toMatchObject({ name: "hello.shout", type: "boolean", value: false, default: false, overridden: false, plugin: "hello" });

    const events: unknown[] = [];
    g.gantry.core.events.subscribe("feature_flag_changed", (e) => void events.push(e.data));
    const set = await g.api("/api/v1/features/hello.shout", json("PUT", { value: true }));
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ value: true, overridden: true });
    expect(await (await g.api("/api/v1/hello/greeting")).json()).toEqual({ text: "HELLO, WORLD" });
    expect(events).toEqual([{ name: "hello.shout", previous: false, value: true, by: "key:bootstrap-admin" }]);

    const wrongType = await g.api("/api/v1/features/hello.shout", json("PUT", { value: "yes" }));
    expect(wrongType.status).toBe(400);
    expect((await wrongType.json()).code).toBe("FLAG_VALUE_INVALID");
    expect((await g.api("/api/v1/features/hello.shout", json("PUT", {}))).status).toBe(400);
    expect((await g.api("/api/v1/features/nope", json("PUT", { value: true }))).status).toBe(404);
    expect((await g.api("/api/v1/features/nope")).status).toBe(404);

    const reset = await g.api("/api/v1/features/hello.shout", { method: "DELETE" });
    expect(await reset.json()).toMatchObject({ value: false, overridden: false });
    expect(await (await g.api("/api/v1/hello/greeting")).json()).toEqual({ text: "hello, world" });

    const viewer = (await g.gantry.security.keys.create("fv", "viewer")).key;
    expect((await g.api("/api/v1/features", { auth: viewer })).status).toBe(200);
    expect((await g.api("/api/v1/features/hello.shout", { ...json("PUT", { value: true }), auth: viewer })).status).toBe(403);
  });

  test("a value survives a restart", async () => {
    const first = await startGantry();
    await first.api("/api/v1/plugins", json("POST", { path: join(FIXTURE_PLUGINS, "hello") }));
    await first.api("/api/v1/features/hello.shout", json("PUT", { value: true }));
    await first.gantry.stop();
    g = await startGantry({ dataDir: first.dataDir });
    expect((await (await g.api("/api/v1/features/hello.shout")).json()).value).toBe(true);
  });
});
