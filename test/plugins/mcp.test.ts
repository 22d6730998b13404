import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ADMIN_KEY, BUILTIN_PLUGINS, json, STAND_IN_MCP_SERVER, startGantry, tempDir, waitFor, waitForMcpServer, type TestGantry } from "../helpers.ts";

let g: TestGantry;
let viewer: string;
let operator: string;

beforeAll(async () => {
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      rate_limit: { enabled: false },
      plugin: {
        mcp: {
          connect_timeout_s: 10,
          servers: {
            tools: { command: process.execPath, args: [STAND_IN_MCP_SERVER], env: { SECRET_TOKEN: "s3cr3t-value", FROM_GANTRY: "${HOME}" } },
            missing: { command: "/nonexistent/mcp-server" },
            unset: { command: process.execPath, env: { TOKEN: "${GANTRY_TEST_SURELY_UNSET}" } },
            remote: { type: "http", url: "http://127.0.0.1:9/mcp?token=hidden", headers: { authorization: "Bearer hidden" } },
          },
        },
      },
    },
  });
  viewer = (await g.gantry.security.keys.create("mcp-viewer", "viewer")).key;
  operator = (await g.gantry.security.keys.create("mcp-operator", "operator")).key;
  await waitForMcpServer(g, "tools");
});
afterAll(() => g.stop());

const server = async (name: string) => (await (await g.api(`/api/v1/mcp/servers/${encodeURIComponent(name)}`)).json());
const call = (srv: string, tool: string, args?: Record<string, unknown>, auth?: string) =>
  g.api(`/api/v1/mcp/servers/${encodeURIComponent(srv)}/tools/${tool}/call`, { ...json("POST", { arguments: args }), ...(auth ? { auth } : {}) });

describe("gantry as an MCP client", () => {
  test("servers from config: connected with their tools, or failed with the reason; no secrets shown", async () => {
    const res = await g.api("/api/v1/mcp/servers", { auth: viewer });
    expect(res.status).toBe(200);
    const text = await res.text();
    const { servers } = JSON.parse(text);
    const byName = Object.fromEntries(servers.map((s: { name: string }) => [s.name, s]));
    expect(byName.tools).toMatchObject({ source: "config", transport: "stdio", status: "connected", tools: 5, server_info: { name: "stand-in", version: "1.0.0" }, last_error: null });
    expect(byName.missing).toMatchObject({ status: "failed" });
    expect(byName.missing.last_error).toContain("ENOENT");
    expect(byName.unset).toMatchObject({ status: "failed", last_error: "environment variable not set: GANTRY_TEST_SURELY_UNSET" });
    await waitFor(async () => (await server("remote")).status === "failed", 10_000, "the unreachable HTTP server to fail");
    expect((await server("remote")).target).toBe("http://127.0.0.1:9/mcp");
    for (const secret of ["s3cr3t-value", "hidden", STAND_IN_MCP_SERVER]) expect(text).not.toContain(secret);
  });

  test("tools are listed per server; a call answers content and structured content; tool errors are is_error, not failures", async () => {
    const { tools } = await (await g.api("/api/v1/mcp/tools?server=tools", { auth: viewer })).json();
    expect(tools.map((t: { name: string }) => t.name).sort()).toEqual(["add", "crash", "echo", "env", "fail"]);
    expect(tools.find((t: { name: string }) => t.name === "add")).toMatchObject({ server: "tools", description: "Adds two numbers", input_schema: { type: "object", required: ["a", "b"] } });

    const added = await (await call("tools", "add", { a: 2, b: 40 })).json();
    expect(added).toMatchObject({ server: "tools", tool: "add", is_error: false, content: [{ type: "text", text: "42" }], structured_content: { sum: 42 } });
    const failed = await call("tools", "fail");
    expect(failed.status).toBe(200);
    expect(await failed.json()).toMatchObject({ is_error: true, content: [{ type: "text", text: "this tool always fails" }] });
    const invalid = await (await call("tools", "add", { a: "two" })).json();
    expect(invalid.is_error).toBe(true); // the server validates its own arguments
    // The child sees what its entry names (and ${HOME} expanded), not gantry's environment.
    expect((await (await call("tools", "env", { name: "FROM_GANTRY" })).json()).content[0].text).toBe(process.env.HOME);
    expect((await (await call("tools", "env", { name: "GANTRY_DATA_DIR" })).json()).content[0].text).toBe("(unset)");

    expect([(await call("tools", "nope")).status, (await call("ghost", "add")).status]).toEqual([404, 404]);
    expect(((await (await call("missing", "x")).json()) as { code: string }).code).toBe("MCP_SERVER_UNAVAILABLE");
    expect((await call("tools", "add", { a: 1, b: 1 }, viewer)).status).toBe(403);
    expect((await call("tools", "add", { a: 1, b: 1 }, operator)).status).toBe(403);
  });

  test("a server that crashes is failed; the next call reconnects; reconnect on request", async () => {
    const crashed = await call("tools", "crash");
    expect([crashed.status, (await crashed.json()).code]).toEqual([502, "MCP_CALL_FAILED"]);
    expect((await server("tools")).status).toBe("failed");
    const again = await (await call("tools", "echo", { text: "back" })).json();
    expect(again).toMatchObject({ is_error: false, content: [{ type: "text", text: "back" }] });
    expect((await server("tools")).status).toBe("connected");
    const reconnected = await (await g.api("/api/v1/mcp/servers/tools/reconnect", json("POST"))).json();
    expect(reconnected).toMatchObject({ status: "connected", tools: 5 });
    expect((await g.api("/api/v1/mcp/servers/tools/reconnect", { ...json("POST"), auth: operator })).status).toBe(403);
  });

  test("a plugin's .mcp.json servers come and go with the plugin (${CLAUDE_PLUGIN_ROOT} expanded), and their process with them", async () => {
    const dir = tempDir("gantry-mcp-plugin-");
    mkdirSync(join(dir, ".claude-plugin"));
    writeFileSync(join(dir, ".claude-plugin", "plugin.json"), JSON.stringify({ name: "mcp-tools", version: "1.0.0", description: "brings an MCP server" }));
    writeFileSync(join(dir, ".mcp.json"), JSON.stringify({ mcpServers: { helper: { command: process.execPath, args: [STAND_IN_MCP_SERVER, "--name", "${CLAUDE_PLUGIN_ROOT}"] } } }));
    expect((await g.api("/api/v1/plugins", json("POST", { path: dir }))).status).toBe(201);
    await waitFor(async () => (await server("mcp-tools:helper")).status === "connected", 10_000, "the plugin's server to connect");
    expect(await server("mcp-tools:helper")).toMatchObject({ source: "plugin", plugin: "mcp-tools", server_info: { name: dir } });
    const running = () => readdirSync("/proc").filter((p) => /^\d+$/.test(p)).some((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(dir) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${p}/stat`, "utf8"));
      } catch {
        return false;
      }
    });
    expect(running()).toBe(true);
    expect((await g.api("/api/v1/plugins/mcp-tools", { method: "DELETE" })).status).toBe(200);
    await waitFor(async () => (await g.api("/api/v1/mcp/servers/mcp-tools:helper")).status === 404, 5000, "the server to be dropped");
    await waitFor(() => !running(), 5000, "the server process to end");
  });
});

describe("connection races", () => {
  test("a plugin removed while its server is still connecting leaves no process behind", async () => {
    const dir = tempDir("gantry-mcp-race-");
    mkdirSync(join(dir, ".claude-plugin"));
    writeFileSync(join(dir, ".claude-plugin", "plugin.json"), JSON.stringify({ name: "mcp-race", version: "1.0.0" }));
    writeFileSync(join(dir, ".mcp.json"), JSON.stringify({ mcpServers: { quick: { command: process.execPath, args: [STAND_IN_MCP_SERVER, "--name", dir] } } }));
    expect((await g.api("/api/v1/plugins", json("POST", { path: dir }))).status).toBe(201);
    await g.api("/api/v1/mcp/servers"); // syncs: the connection starts
    expect((await g.api("/api/v1/plugins/mcp-race", { method: "DELETE" })).status).toBe(200);
    await g.api("/api/v1/mcp/servers"); // syncs again: the connection is closed mid-connect
    const running = () => readdirSync("/proc").filter((p) => /^\d+$/.test(p)).some((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(dir) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${p}/stat`, "utf8"));
      } catch {
        return false;
      }
    });
    await Bun.sleep(1500); // past the server's start-up
    await waitFor(() => !running(), 3000, "no stand-in process for the removed plugin");
  });
});

describe("gantry as an MCP server", () => {
  const connect = async (key?: string) => {
    const client = new Client({ name: "test", version: "1.0.0" });
    const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
    await client.connect(new StreamableHTTPClientTransport(new URL(`${g.url}/api/v1/mcp`), { requestInit: { headers } }));
    return client;
  };

  test("an MCP client lists slash commands as tools and calls them, each within its own role", async () => {
    const client = await connect(ADMIN_KEY);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(["scripts__run", "cron__list", "mcp__servers"]));
    expect(tools.find((t) => t.name === "scripts__run")!.description).toContain("/scripts:run");
    const result = await client.callTool({ name: "scripts__run", arguments: { arguments: "6 * 7" } });
    expect(JSON.parse((result.content as { text: string }[])[0]!.text)).toMatchObject({ result: 42 });
    const missing = await client.callTool({ name: "ghost__tool", arguments: {} });
    expect(missing.isError).toBe(true);
    await client.close();
    // /scripts:run is an admin command (as POST /run_script): an operator neither sees nor runs it.
    const asOperator = await connect(operator);
    const names = (await asOperator.listTools()).tools.map((t) => t.name);
    expect(names).toContain("mcp__servers");
    expect(names).not.toContain("scripts__run");
    const refused = await asOperator.callTool({ name: "scripts__run", arguments: { arguments: "6 * 7" } });
    expect(refused.isError).toBe(true);
    await asOperator.close();
  });

  test("operators only: no key is 401, a viewer 403; GET is 405", async () => {
    const statusOf = (attempt: Promise<unknown>) => attempt.then(() => "connected", (error: { code?: number }) => error.code);
    expect(await statusOf(connect())).toBe(401);
    expect(await statusOf(connect(viewer))).toBe(403);
    const get = await g.api("/api/v1/mcp");
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });
});
