/**
 * bench/mcp: a tool call of the stand-in MCP server (stdio) straight from an SDK client vs through
 * gantry's API (same run: p50/p99 and the added latency), the first connection (spawn + initialize
 * + list tools), and a call of gantry's own MCP endpoint (a slash command as a tool).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ADMIN_KEY, STAND_IN_MCP_SERVER as STAND_IN } from "../test/helpers.ts";
import { percentile, round, sequentialTimes, spawnGantry } from "./lib.ts";

const CALLS = Number(process.env.CALLS ?? 500);
const servers = JSON.stringify({ tools: { command: process.execPath, args: [STAND_IN] } });
const server = await spawnGantry({ GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_RATE_LIMIT__ENABLED: "false", GANTRY_LOG__REQUESTS: "false", GANTRY_PLUGIN__MCP__SERVERS: servers });
const headers = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };

const timed = sequentialTimes;
const stats = (xs: number[]) => ({ p50_ms: round(percentile(xs, 50), 3), p99_ms: round(percentile(xs, 99), 3) });

const t0 = performance.now();
const direct = new Client({ name: "bench", version: "1" });
await direct.connect(new StdioClientTransport({ command: process.execPath, args: [STAND_IN] }));
await direct.listTools();
const connectMs = performance.now() - t0;
const callDirect = () => direct.callTool({ name: "echo", arguments: { text: "hi" } });
const callGantry = async () => {
  const res = await fetch(`${server.url}/api/v1/mcp/servers/tools/tools/echo/call`, { method: "POST", headers, body: JSON.stringify({ arguments: { text: "hi" } }) });
  if (!res.ok) throw new Error(`status ${res.status}: ${await res.text()}`);
  return res.json();
};
while ((await fetch(`${server.url}/api/v1/mcp/servers/tools`, { headers }).then((r) => r.json())).status !== "connected") await Bun.sleep(50);
await timed(50, callDirect);
await timed(50, callGantry);
const viaDirect = await timed(CALLS, callDirect);
const viaGantry = await timed(CALLS, callGantry);
await direct.close();

const own = new Client({ name: "bench", version: "1" });
await own.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/api/v1/mcp`), { requestInit: { headers: { authorization: `Bearer ${ADMIN_KEY}` } } }));
const callOwn = () => own.callTool({ name: "mcp__servers", arguments: {} });
await timed(50, callOwn);
const viaOwn = await timed(CALLS, callOwn);
await own.close();
await server.stop();

console.log(JSON.stringify({
  bench: "mcp",
  calls: CALLS,
  first_connect_ms: round(connectMs, 1),
  tool_call_direct: stats(viaDirect),
  tool_call_through_gantry: stats(viaGantry),
  added_p50_ms: round(percentile(viaGantry, 50) - percentile(viaDirect, 50), 3),
  gantry_as_mcp_server_call: stats(viaOwn),
}, null, 2));
