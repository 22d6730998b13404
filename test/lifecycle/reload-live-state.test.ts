/**
 * Reloads keep live state: a script running while scripts reloads finishes; an MCP connection and
 * its stdio server (and the server's own child) stay up across mcp reloads; disabling the plugin
 * then stops them all, checked from outside through the process table. (A run waiting at an
 * approval gate across an agent reload: test/plugins/agent.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BUILTIN_PLUGINS, json, liveGroupMembers, STAND_IN_MCP_SERVER, startGantry, waitFor, waitForMcpServer, type TestGantry } from "../helpers.ts";

let g: TestGantry;
beforeAll(async () => {
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      rate_limit: { enabled: false },
      plugins: { disabled: ["cache", "agent", "batch", "cron", "instances"] },
      plugin: {
        // `sh -c "...; true"` forks: the MCP server is the wrapper's child, as with `bun run start`.
        mcp: { connect_timeout_s: 10, servers: { wrapped: { command: "sh", args: ["-c", `"${process.execPath}" "${STAND_IN_MCP_SERVER}"; true`] } } },
      },
    },
  });
});
afterAll(() => g.stop());

const reload = async (plugin: string) => expect((await g.api(`/api/v1/plugins/${plugin}/reload`, json("POST"))).status).toBe(200);
const threadIds = async (name: string) => [...(await (await g.api(`/threads?name=${name}`)).text()).matchAll(/Thread ID: (\d+)/g)].map((m) => Number(m[1]));

describe("live state across reloads", () => {
  test("scripts: a script running during a reload finishes on the same sandbox worker", async () => {
    const busy = "const end = Date.now() + 700; let n = 0; while (Date.now() < end) n++; 'finished'";
    const running = g.api("/api/v1/scripts/run", json("POST", { code: busy, timeout_ms: 5000 }));
    await Bun.sleep(200);
    await reload("scripts");
    const run = await (await running).json();
    expect(run).toMatchObject({ ok: true, result: "finished", error: null });
    expect((await (await g.api("/api/v1/scripts/run", json("POST", { code: "6 * 7" }))).json()).result).toBe(42);
  });

  test("mcp: the connection and its stdio server stay up across reloads; disable stops the server and its children", async () => {
    await waitForMcpServer(g, "wrapped");
    const before = await (await g.api("/api/v1/mcp/servers/wrapped")).json();
    const [pid] = await threadIds("mcp:wrapped");
    expect(pid).toBeGreaterThan(0);
    const members = liveGroupMembers(pid!);
    expect(members.length).toBeGreaterThanOrEqual(2); // sh and the server it started, one process group

    await reload("mcp");
    await reload("mcp");
    const after = await (await g.api("/api/v1/mcp/servers/wrapped")).json();
    expect(after).toMatchObject({ status: "connected", connected_at: before.connected_at });
    expect(await threadIds("mcp:wrapped")).toEqual([pid!]);
    const sum = await (await g.api("/api/v1/mcp/servers/wrapped/tools/add/call", json("POST", { arguments: { a: 2, b: 3 } }))).json();
    expect(sum.structured_content).toEqual({ sum: 5 });

    expect((await g.api("/api/v1/plugins/mcp/disable", json("POST"))).status).toBe(200);
    await waitFor(() => liveGroupMembers(pid!).length === 0, 5000, "the MCP server's process group to be gone");
    expect(await threadIds("mcp:wrapped")).toEqual([]);
  });
});
