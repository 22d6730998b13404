import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUILTIN_PLUGINS, createStandInModel, FIXTURES, json, startGantry, tempDir, waitFor, type TestGantry } from "../helpers.ts";

let g: TestGantry;
let workspace: string;

beforeAll(async () => {
  workspace = tempDir("gantry-workspace-");
  writeFileSync(join(workspace, "notes.txt"), "first line\nthe needle is here\nlast line\n");
  mkdirSync(join(workspace, "src"));
  writeFileSync(join(workspace, "src", "app.ts"), "export const needle = 1;\n");
  symlinkSync("/etc", join(workspace, "escape"));
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      rate_limit: { enabled: false },
      plugin: {
        agent: {
          default_model: "brain", approval_timeout_s: 5, workspaces: [workspace], task_max_depth: 1,
          permissions: { allow: ["Bash(pwd:*)", "WebFetch(domain:127.0.0.1)", "Edit(src/**)"], deny: ["Read(/etc/shadow)"] },
          agents: { planner: { prompt: "You delegate.", tools: ["Task"] }, "planner-web": { prompt: "You look things up.", tools: ["WebFetch"] }, "edit-bot": { prompt: "You edit.", tools: ["Edit"] } },
        },
      },
    },
  });
  await createStandInModel(g, "brain");
  expect((await g.api("/api/v1/plugins", json("POST", { path: join(FIXTURES, "claude-plugins", "guarded") }))).status).toBe(201);
});
afterAll(() => g.stop());

type Step = { type: string; tool?: string; decision?: string; outcome?: string; result?: string; rule?: string | null; gate_id?: string | null; event?: string; hook?: string };
const run = async (agent: string, lines: string[]) => (await g.api(`/api/v1/agents/${agent}/invoke`, json("POST", { input: lines.join("\n") }))).json();
const toolSteps = (r: { steps: Step[] }) => r.steps.filter((s) => s.type === "tool");
const call = (tool: string, args: Record<string, unknown>) => `CALL ${tool} ${JSON.stringify(args)}`;

describe("Claude Code's tools for plugin agents", () => {
  test("Read, Grep and Glob read inside the workspace without asking; paths outside it (links included) are refused", async () => {
    const tools = (await (await g.api("/api/v1/agents/tools")).json()).tools.filter((t: { source: string }) => t.source === "builtin").map((t: { id: string }) => t.id);
    expect(tools).toEqual(["Read", "Glob", "Grep", "Write", "Edit", "Bash", "WebFetch", "Skill"]);
    const result = await run("guarded:builder", [
      call("Read", { file_path: "notes.txt", offset: 2, limit: 1 }),
      call("Grep", { pattern: "needle", output_mode: "files_with_matches" }),
      call("Glob", { pattern: "**/*.ts" }),
      call("Read", { file_path: "/etc/hostname" }),
      call("Read", { file_path: "escape/hostname" }),
    ]);
    expect(result.status).toBe("succeeded");
    const steps = toolSteps(result);
    expect(steps.map((s) => [s.tool, s.decision, s.outcome])).toEqual([["Read", "allow", "ran"], ["Grep", "allow", "ran"], ["Glob", "allow", "ran"], ["Read", "allow", "error"], ["Read", "allow", "error"]]);
    expect(steps[0]!.result).toBe("     2\tthe needle is here");
    expect(steps[1]!.result!.split("\n").sort()).toEqual([join(workspace, "notes.txt"), join(workspace, "src", "app.ts")]);
    expect(steps[2]!.result).toBe(join(workspace, "src", "app.ts"));
    expect(steps[3]!.result).toContain("leads outside the workspace");
    expect(steps[4]!.result).toContain("leads outside the workspace");
    // The plugin's SessionStart hook ran and is in the steps.
    expect(result.steps.find((s: Step) => s.type === "hook" && s.event === "SessionStart")).toMatchObject({ hook: "guarded:SessionStart:3", decision: null });
  });

  test("Bash: a hook allows, a rule in Claude Code's syntax allows, a hook denies (exit 2) into the denial log, a command nothing allows asks", async () => {
    const result = await run("guarded:builder", [call("Bash", { command: "echo hi" }), call("Bash", { command: "pwd" }), call("Bash", { command: "rm -rf notes.txt" })]);
    const [echo, pwd, rm] = toolSteps(result);
    expect(echo).toMatchObject({ decision: "allow", outcome: "ran", result: "hi", rule: "hook: guarded:PreToolUse:1: echo is harmless" });
    expect(pwd).toMatchObject({ decision: "allow", outcome: "ran", result: workspace, rule: "allow: Bash(pwd:*) (plugin.agent.permissions)" });
    expect(rm).toMatchObject({ decision: "deny", outcome: "denied", result: expect.stringContaining("deleting files is not allowed here") });
    expect(existsSync(join(workspace, "notes.txt"))).toBe(true);
    const hookSteps = result.steps.filter((s: Step) => s.type === "hook" && s.event === "PreToolUse");
    expect(hookSteps.map((s: { decision: string }) => s.decision)).toEqual(["allow", null, "deny"]);
    const { denials } = await (await g.api(`/api/v1/permissions/denials?source=hook`)).json();
    expect(denials[0]).toMatchObject({ agent: "guarded:builder", run_id: result.id, tool: "Bash", source: "hook" });
    expect((await (await g.api("/api/v1/permissions/rules")).json()).shared).toEqual({ allow: ["Bash(pwd:*)", "WebFetch(domain:127.0.0.1)", "Edit(src/**)"], ask: [], deny: ["Read(/etc/shadow)"] });

    const held = await (await g.api("/api/v1/agents/guarded:builder/invoke", json("POST", { input: call("Bash", { command: "git push origin main" }) }))).json();
    expect(held.status).toBe("waiting_approval");
    const gate = (await (await g.api("/api/v1/approvals?status=pending")).json()).approvals.find((a: { run_id: string }) => a.run_id === held.id);
    expect(gate).toMatchObject({ tool: "Bash", arguments: { command: "git push origin main" }, rule: "hook: guarded:PreToolUse:1: pushes need a human" });
    await g.api(`/api/v1/approvals/${gate.id}/reject`, json("POST", { reason: "not today" }));
    await waitFor(async () => (await (await g.api(`/api/v1/agents/runs/${held.id}`)).json()).status === "succeeded", 3000, "the rejected run to end");

    // No hook decision and no rule: Bash asks by default; so does a compound line whose second part no rule covers.
    const plain = await (await g.api("/api/v1/agents/guarded:builder/invoke", json("POST", { input: call("Bash", { command: "pwd && ls" }) }))).json();
    expect(plain.status).toBe("waiting_approval");
    const plainGate = (await (await g.api("/api/v1/approvals?status=pending")).json()).approvals.find((a: { run_id: string }) => a.run_id === plain.id);
    expect(plainGate).toMatchObject({ tool: "Bash", rule: null });
    await g.api(`/api/v1/approvals/${plainGate.id}/reject`, json("POST", {}));
  });

  test("a markdown command runs as an agent offered its allowed-tools, which are also allowed without asking", async () => {
    const res = await g.api("/api/v1/plugins/commands/guarded:inspect/invoke", json("POST", { arguments: "src" }));
    expect(res.status).toBe(200);
    const invoked = await res.json();
    expect(invoked).toMatchObject({ kind: "markdown", ran_as_agent: true, result: { output: "Tool said:      1\tfirst line | app.ts" } });
    expect(invoked.prompt).toStartWith(`Working in ${workspace}\n`); // !`pwd` ran in the agents' workspace
    const ran = await (await g.api(`/api/v1/agents/runs/${invoked.result.run_id}`)).json();
    expect(toolSteps(ran).map((s) => [s.tool, s.decision, s.rule])).toEqual([["Read", "allow", "allow: Read"], ["Bash", "allow", "allow: Bash(ls:*)"]]);
  });

  test("a Stop hook that blocks sends the model back to work with its reason", async () => {
    writeFileSync(join(workspace, "STOP_ONCE"), "");
    const result = await run("guarded:scout", ["just answer"]);
    expect(result).toMatchObject({ status: "succeeded", output: "Tool said:      1\tfirst line" });
    const stops = result.steps.filter((s: Step) => s.type === "hook" && s.event === "Stop");
    expect(stops.map((s: { decision: string | null }) => s.decision)).toEqual(["block", null]);
    expect(existsSync(join(workspace, "STOP_ONCE"))).toBe(false);
  });

  test("a UserPromptSubmit hook that exits 2 stops the run before the model is asked", async () => {
    const blocked = await run("guarded:scout", ["FORBIDDEN words", call("Read", { file_path: "notes.txt" })]);
    expect(blocked).toMatchObject({ status: "failed", error: "the prompt was blocked by a UserPromptSubmit hook: the prompt has a forbidden word" });
    expect(blocked.steps.filter((s: Step) => s.type === "model")).toEqual([]);
  });

  test("WebFetch: an allow rule lets the call run, and an internal address is still refused", async () => {
    const result = await run("guarded:builder", [call("WebFetch", { url: `${g.url}/healthz`, prompt: "status" })]);
    // builder does not list WebFetch: not offered
    expect(toolSteps(result)[0]).toMatchObject({ decision: "not_offered", outcome: "denied" });
    const fetched = await run("planner-web", [call("WebFetch", { url: `${g.url}/healthz`, prompt: "status" })]);
    expect(toolSteps(fetched)[0]).toMatchObject({ tool: "WebFetch", decision: "allow", outcome: "error", result: expect.stringContaining("127.0.0.1 is loopback (127.0.0.0/8)") });
  });

  test("Write asks by default; once approved the file is written and the PostToolUse hook's feedback reaches the model", async () => {
    const held = await (await g.api("/api/v1/agents/guarded:builder/invoke", json("POST", { input: call("Write", { file_path: "out/made.txt", content: "made by an agent" }) }))).json();
    expect(held.status).toBe("waiting_approval");
    expect(existsSync(join(workspace, "out", "made.txt"))).toBe(false);
    const gate = (await (await g.api("/api/v1/approvals?status=pending")).json()).approvals.find((a: { run_id: string }) => a.run_id === held.id);
    expect(gate).toMatchObject({ tool: "Write", rule: null });
    await g.api(`/api/v1/approvals/${gate.id}/approve`, json("POST", {}));
    await waitFor(async () => (await (await g.api(`/api/v1/agents/runs/${held.id}`)).json()).status === "succeeded", 3000, "the approved run to end");
    expect(readFileSync(join(workspace, "out", "made.txt"), "utf8")).toBe("made by an agent");
    const done = await (await g.api(`/api/v1/agents/runs/${held.id}`)).json();
    expect(toolSteps(done)[0]!.result).toBe(`Wrote 16 characters to ${join(workspace, "out", "made.txt")}\n[hook] remember to run the tests (hook root ok: yes)`);
    // Outside the workspace even an approved write is refused.
    const outside = await (await g.api("/api/v1/agents/guarded:builder/invoke", json("POST", { input: call("Write", { file_path: "/tmp/gantry-agent-escape.txt", content: "x" }) }))).json();
    const outsideGate = (await (await g.api("/api/v1/approvals?status=pending")).json()).approvals.find((a: { run_id: string }) => a.run_id === outside.id);
    await g.api(`/api/v1/approvals/${outsideGate.id}/approve`, json("POST", {}));
    await waitFor(async () => (await (await g.api(`/api/v1/agents/runs/${outside.id}`)).json()).status === "succeeded", 3000, "the run to end");
    expect(existsSync("/tmp/gantry-agent-escape.txt")).toBe(false);
  });

  test("Edit under an allow rule on a workspace-relative path runs without asking; old_string must be unique", async () => {
    const result = await run("edit-bot", [
      call("Edit", { file_path: join(workspace, "src", "app.ts"), old_string: "needle = 1", new_string: "needle = 2" }),
      call("Edit", { file_path: "src/app.ts", old_string: "e", new_string: "E" }),
    ]);
    expect(toolSteps(result).map((s) => [s.decision, s.rule, s.outcome])).toEqual([["allow", "allow: Edit(src/**) (plugin.agent.permissions)", "ran"], ["allow", "allow: Edit(src/**) (plugin.agent.permissions)", "error"]]);
    expect(toolSteps(result)[1]!.result).toContain("occurs 4 times");
    expect(readFileSync(join(workspace, "src", "app.ts"), "utf8")).toBe("export const needle = 2;\n");
  });

  test("Skill offers descriptions up front and loads the body and files when invoked; Task starts another agent, depth-limited", async () => {
    const tools = (await (await g.api("/api/v1/agents/tools")).json()).tools;
    expect(tools.find((t: { id: string }) => t.id === "Skill").description).toContain("- guarded:release-notes: Writes release notes");
    const skill = await run("guarded:builder", [call("Skill", { skill: "release-notes" }), call("Skill", { skill: "guarded:release-notes", file: "examples/format.md" }), call("Skill", { skill: "release-notes", file: "../../hooks/guard-bash.sh" })]);
    const [body, file, escape] = toolSteps(skill);
    expect(body!.result).toContain("Group the changes under Added, Changed and Fixed.");
    expect(body!.result).toContain("- examples/format.md");
    expect(file!.result).toBe("## Added\n- one line per change\n");
    expect(escape).toMatchObject({ outcome: "error", result: expect.stringContaining("has no file") });

    const delegated = await run("planner", [call("Task", { subagent_type: "scout", prompt: call("Read", { file_path: "notes.txt", limit: 1 }) })]);
    expect(delegated.status).toBe("succeeded");
    expect(toolSteps(delegated)[0]).toMatchObject({ tool: "Task", decision: "allow", outcome: "ran", result: "Tool said:      1\tfirst line" });
    const child = (await (await g.api("/api/v1/agents/runs?agent=guarded:scout")).json()).runs[0];
    expect(child.actor).toBe(`run:${delegated.id}`);
    // At the depth limit the sub-agent is not offered Task.
    expect((await (await g.api("/api/v1/agents/runs/" + child.id)).json()).status).toBe("succeeded");
  });
});
