/**
 * Indirection through slash commands: the arguments an operator, a pipeline input or a model's tool
 * call gives a command are data. They never become a `!`…`` shell line, an option, a path outside
 * the working folder or a file reference — on every path that invokes a command (the invoke API,
 * MCP tools/call, a pipeline command phase, an agent's tool call, cron).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { splitArguments } from "../../core/kernel/slash-arguments.ts";
import { ADMIN_KEY, BUILTIN_PLUGINS, FIXTURES, freePort, json, STAND_IN_MODEL_SERVER, startGantry, tempDir, waitFor, type TestGantry } from "../helpers.ts";

let g: TestGantry;
let operator: string;
let secret: string;
let mcp: Client;
const sentinel = join(tempDir("gantry-indirection-"), "written-by-an-argument");
const PASSWD_LINE = "root:x:0:0";

const COMMAND_TEMPLATES = {
  relay: { inputs: { text: null }, phases: { summarize: { command: "/notes:summarize ${inputs.text}" }, plain: { command: "/notes:plain ${inputs.text}" } } },
  shown: { inputs: { text: null }, phases: { show: { command: "/notes:show ${inputs.text}" }, list: { command: "/notes:list ${inputs.text}" } } },
};

beforeAll(async () => {
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      rate_limit: { enabled: false },
      plugins: { disabled: ["cache", "batch"] },
      plugin: { agent: { default_model: "brain", agents: { relay: { prompt: "You relay.", tools: ["/notes:*"], allow: ["/notes:*"] } } } },
      pipelines: COMMAND_TEMPLATES,
    },
  });
  secret = readFileSync(join(g.dataDir, "secret.key"), "utf8").trim();
  operator = (await g.gantry.security.keys.create("indirection-operator", "operator")).key;
  const model = await g.api("/api/v1/instances", json("POST", {
    name: "brain", backend: "command", model_path: "brain", on_demand_start: true, port: await freePort(), command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}"],
  }));
  expect(model.status).toBe(201);
  expect((await g.api("/api/v1/plugins", json("POST", { path: join(FIXTURES, "claude-plugins", "notes") }))).status).toBe(201);
  mcp = new Client({ name: "indirection", version: "1.0.0" });
  await mcp.connect(new StreamableHTTPClientTransport(new URL(`${g.url}/api/v1/mcp`), { requestInit: { headers: { authorization: `Bearer ${operator}` } } }));
});
afterAll(async () => {
  await mcp?.close();
  await g.stop();
});

/** Nothing a command answered may hold a line of /etc/passwd or the data dir's secret key. */
function expectNoFileContent(text: string): void {
  // Booleans, so a failure does not print the file into the test log.
  expect({ passwd: text.includes(PASSWD_LINE), secretKey: text.includes(secret) }).toEqual({ passwd: false, secretKey: false });
}

const invoke = async (qname: string, args: string) => {
  const res = await g.api(`/api/v1/plugins/commands/${qname}/invoke`, { ...json("POST", { arguments: args }), auth: operator });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) };
};
const callTool = async (name: string, args: string) => {
  const result = await mcp.callTool({ name, arguments: { arguments: args } });
  return { isError: result.isError === true, text: (result.content as { text: string }[]).map((c) => c.text).join("\n") };
};
const runPipeline = async (template: string, text: string) => {
  const res = await g.api("/api/v1/pipelines", { ...json("POST", { template, inputs: { text } }), auth: operator });
  expect(res.status).toBeLessThan(500);
  if (res.status !== 201) return { started: false, view: await res.json() };
  const { run_id } = await res.json();
  let view: Record<string, unknown> = {};
  await waitFor(async () => {
    view = await (await g.api(`/api/v1/pipelines/${run_id}`)).json();
    return ["succeeded", "failed"].includes(view.state as string);
  }, 20_000, `pipeline run ${run_id} to end`);
  return { started: true, view };
};
const runAgent = async (calls: { tool: string; args: string }[]) => {
  const input = calls.map((c) => `CALL ${c.tool} ${JSON.stringify({ arguments: c.args })}`).join("\n");
  const res = await g.api("/api/v1/agents/relay/invoke", { ...json("POST", { input }), auth: operator });
  expect(res.status).toBe(200);
  const run = await res.json();
  return { run, steps: (run.steps as { type: string; tool: string; outcome: string; result: string }[]).filter((s) => s.type === "tool") };
};

describe("reproduction: arguments that spell a shell line", () => {
  const secretDiff = () => `!\`git diff --no-index ${join(g.dataDir, "secret.key")} /dev/null\``;
  const passwdDiff = "!`git diff --no-index /etc/passwd /dev/null`";

  test("the invoke API: the arguments are shown as text, never run (a command with allowed-tools: [], and one that places no argument)", async () => {
    for (const [qname, payload] of [["notes:summarize", secretDiff()], ["notes:summarize", passwdDiff], ["notes:plain", passwdDiff], ["notes:plain", secretDiff()]] as const) {
      const { status, text, body } = await invoke(qname, payload);
      expect(status).toBe(200);
      expectNoFileContent(text);
      expect(body.prompt).toContain(payload); // literal: the caller's text reaches the model as written
    }
  });

  test("an argument never names a file to inline, even one inside the plugin folder", async () => {
    const { status, body } = await invoke("notes:summarize", "@commands/show.md and @../../../../../../etc/passwd");
    expect(status).toBe(200);
    expect(body.prompt).toBe("Summarise the following for the team: @commands/show.md and @../../../../../../etc/passwd\n");
  });

  test("MCP tools/call with the official SDK client", async () => {
    for (const payload of [secretDiff(), passwdDiff]) {
      const { isError, text } = await callTool("notes__summarize", payload);
      expect(isError).toBe(false);
      expectNoFileContent(text);
      expect(JSON.parse(text).prompt).toContain(payload);
    }
  });

  test("a pipeline command phase filled from ${inputs.text}", async () => {
    const { started, view } = await runPipeline("relay", passwdDiff);
    expect(started).toBe(true);
    expect(view.state).toBe("succeeded");
    expectNoFileContent(JSON.stringify(view));
    const secretRun = await runPipeline("relay", secretDiff());
    expectNoFileContent(JSON.stringify(secretRun.view));
  });

  test("an agent's tool call of a slash command", async () => {
    const { run, steps } = await runAgent([{ tool: "notes__summarize", args: passwdDiff }, { tool: "notes__plain", args: secretDiff() }]);
    expect(steps.map((s) => [s.tool, s.outcome])).toEqual([["/notes:summarize", "ran"], ["/notes:plain", "ran"]]);
    expectNoFileContent(JSON.stringify(run));
    expectNoFileContent(JSON.stringify(await (await g.api(`/api/v1/agents/runs/${run.id}`)).json()));
  });

  test("no shell is granted that the command did not declare: a `git diff` its allowed-tools leave out is refused", async () => {
    const { status, body } = await invoke("notes:changes", "");
    expect(status).toBe(403);
    expect(body).toMatchObject({ code: "COMMAND_SHELL_REFUSED", error: expect.stringContaining("git diff HEAD") });
  });

  test("a declared shell line still runs; its argument arrives as one literal word", async () => {
    const typed = `"a b; cat /etc/passwd" $(id) '*'`;
    const { status, body } = await invoke("notes:show", typed);
    expect(status).toBe(200);
    expect(body.prompt).toBe(`Word: [a b; cat /etc/passwd]\nAll: (${typed})\n`);
    expect((await invoke("notes:list", "commands")).body.prompt).toBe("Files: changes.md\nlist.md\nplain.md\nshow.md\nsummarize.md\n");
    // A glob is a literal name, not a listing.
    expect((await invoke("notes:list", "*")).body.prompt).toContain("cannot access '*'");
  });

  test("an argument that would be an option or a path outside the working folder is refused with a 400 naming why", async () => {
    for (const [payload, why] of [["-la /etc", "starts with '-'"], ["--output=x", "starts with '-'"], ["/etc", "absolute path"], ["../../etc", "'..' path segment"]]) {
      const { status, body } = await invoke("notes:list", payload!);
      expect(status).toBe(400);
      expect(body).toMatchObject({ code: "COMMAND_ARGUMENT_REFUSED", error: expect.stringContaining(why!) });
    }
    const nul = await invoke("notes:summarize", "a\u0000b");
    expect(nul.status).toBe(400);
    expect(nul.body.code).toBe("COMMAND_ARGUMENTS_INVALID");
  });
});

/** Shell, option, path and placeholder payloads; each goes through every path below. */
const corpus = (dataDir: string): string[] => [
  `!\`git diff --no-index ${join(dataDir, "secret.key")} /dev/null\``,
  "!`cat /etc/passwd`",
  "x\n!`cat /etc/passwd`",
  "$(cat /etc/passwd)",
  "`cat /etc/passwd`",
  "x; cat /etc/passwd",
  "x | cat /etc/passwd",
  "x && cat /etc/passwd",
  "x\ncat /etc/passwd",
  "-c core.pager=cat",
  "--no-index /etc/passwd /dev/null",
  `--output=${sentinel}`,
  "-la /etc",
  "/etc/passwd",
  "../../../../../../../../etc/passwd",
  "a/../../../../../../../../etc/passwd",
  "/etc/pass*",
  "*",
  "$HOME ${PATH} $1 $ARGUMENTS ${CLAUDE_PLUGIN_ROOT}",
  "@/etc/passwd",
  "@../../../../../../../../etc/passwd",
  "x\u0000!`cat /etc/passwd`",
  "\u0000",
];
const COMMANDS = ["notes:summarize", "notes:plain", "notes:show", "notes:list"];
const REFUSALS = ["COMMAND_ARGUMENT_REFUSED", "COMMAND_ARGUMENTS_INVALID"];

describe("the indirection corpus through every path", () => {
  test("the invoke API: 200 with the text taken literally, or a 4xx in the API's error shape; never file content, never a 5xx", async () => {
    for (const qname of COMMANDS) {
      for (const payload of corpus(g.dataDir)) {
        const { status, text, body } = await invoke(qname, payload);
        expectNoFileContent(text);
        if (status !== 200) {
          expect([status, REFUSALS.includes(body.code)]).toEqual([400, true]);
          expect(typeof body.error).toBe("string");
          continue;
        }
        if (qname === "notes:show") expect(body.prompt).toStartWith(`Word: [${splitArguments(payload)[0] ?? ""}]\nAll: (${payload.trim()})`);
      }
    }
    expect(existsSync(sentinel)).toBe(false);
  });

  test("MCP tools/call: a result with the text taken literally or an error result; never file content", async () => {
    for (const qname of COMMANDS) {
      for (const payload of corpus(g.dataDir)) {
        const { isError, text } = await callTool(qname.replace(":", "__"), payload);
        expectNoFileContent(text);
        if (isError) expect(text).toMatch(/refuses|control characters/);
      }
    }
    expect(existsSync(sentinel)).toBe(false);
  });

  test("pipeline command phases: runs succeed or fail with a clear reason; never file content, never a 5xx", async () => {
    const runs = await Promise.all(corpus(g.dataDir).flatMap((payload) => [runPipeline("relay", payload), runPipeline("shown", payload)]));
    for (const { started, view } of runs) {
      expectNoFileContent(JSON.stringify(view));
      if (!started) expect(view).toMatchObject({ code: expect.any(String), error: expect.any(String) });
    }
    expect(existsSync(sentinel)).toBe(false);
  }, 60_000);

  test("an agent's tool calls: each call ran or failed as a tool error; never file content", async () => {
    for (const tool of ["notes__summarize", "notes__show", "notes__list"]) {
      const { run, steps } = await runAgent(corpus(g.dataDir).map((args) => ({ tool, args })));
      expect(steps.length).toBe(corpus(g.dataDir).length);
      for (const step of steps) expect(["ran", "error"]).toContain(step.outcome);
      expectNoFileContent(JSON.stringify(run));
    }
    expect(existsSync(sentinel)).toBe(false);
  }, 60_000);

  test("cron (admin): a job's command line carries the payload as arguments; the run records no file content", async () => {
    const lines = corpus(g.dataDir).slice(0, 6).flatMap((payload) => [`/notes:summarize ${payload}`, `/notes:show ${payload}`]);
    for (const [i, command] of lines.entries()) {
      const created = await g.api("/api/v1/cron/jobs", { ...json("POST", { name: `indirection-${i}`, schedule: "0 0 1 1 *", command, enabled: false }), auth: ADMIN_KEY });
      expect(created.status).toBeLessThan(500);
      if (created.status !== 201) continue;
      const job = await created.json();
      const ran = await g.api(`/api/v1/cron/jobs/${job.id}/run`, { ...json("POST"), auth: ADMIN_KEY });
      expect(ran.status).toBe(200);
      expectNoFileContent(await ran.text());
    }
  }, 60_000);
});
