/** /api/v1/mcp: the servers gantry connects to and their tools, tool calls, and gantry's own MCP endpoint. */
import { createError, defineErrors, Nullable, t, textResponses, type CommandCaller, type CoreCommandsService, type CoreIdentityService, type RolesApp } from "gantry/plugin";
import type { McpClients } from "./clients.ts";
import type { McpConnection } from "./connection.ts";
import { handleMcpRequest } from "./gantry-server.ts";
import { describeSpec } from "./server-spec.ts";

export const McpErrors = defineErrors("mcp", {
  MCP_SERVER_NOT_FOUND: createError("MCP_SERVER_NOT_FOUND", 404, (name: string) => `No MCP server '${name}'; list them at GET /api/v1/mcp/servers`),
  MCP_TOOL_NOT_FOUND: createError("MCP_TOOL_NOT_FOUND", 404, (server: string, tool: string) => `MCP server '${server}' has no tool '${tool}'`),
  MCP_SERVER_UNAVAILABLE: createError("MCP_SERVER_UNAVAILABLE", 503, (name: string, why: string) => `MCP server '${name}' is not reachable: ${why}`),
  MCP_CALL_FAILED: createError("MCP_CALL_FAILED", 502, (name: string, tool: string, why: string) => `Calling '${tool}' on MCP server '${name}' failed: ${why}`),
});

const ServerView = t.Object({
  name: t.String(), source: t.Union([t.Literal("config"), t.Literal("plugin")]), plugin: Nullable(t.String()),
  transport: Nullable(t.Union([t.Literal("stdio"), t.Literal("http")])), target: Nullable(t.String({ description: "command name or URL, without arguments, query or credentials" })),
  status: t.Union([t.Literal("connecting"), t.Literal("connected"), t.Literal("failed"), t.Literal("closed")]),
  last_error: Nullable(t.String()), connected_at: Nullable(t.String()), tools: t.Integer(),
  server_info: t.Union([t.Object({ name: t.String(), version: t.String() }), t.Null()]),
  stderr_tail: t.Array(t.String(), { description: "last lines a stdio server wrote to stderr" }),
});
const ToolView = t.Object({ server: t.String(), name: t.String(), description: Nullable(t.String()), input_schema: t.Record(t.String(), t.Unknown()) });
const ServerParams = t.Object({ name: t.String({ maxLength: 200 }) });

function serverView(c: McpConnection) {
  const spec = c.parsed.ok ? c.parsed.spec : null;
  return {
    name: c.name, source: c.source.kind, plugin: c.source.kind === "plugin" ? c.source.plugin : null,
    transport: spec?.transport ?? null, target: spec ? describeSpec(spec) : null,
    status: c.status, last_error: c.lastError, connected_at: c.connectedAt?.toISOString() ?? null, tools: c.tools.length,
    server_info: c.serverInfo, stderr_tail: [...c.stderrTail],
  };
}

/** `sync` brings the server list in step with config and plugins (cheap when nothing changed). */
export function mcpRoutes(clients: McpClients, commands: CoreCommandsService, version: string, sync: () => Promise<void>, identity: CoreIdentityService) {
  const connection = async (name: string) => {
    await sync();
    const c = clients.get(name);
    if (!c) throw McpErrors.MCP_SERVER_NOT_FOUND([name]);
    return c;
  };
  return (app: RolesApp) =>
    app
      .get("/servers", async () => {
        await sync();
        return { servers: clients.list().map(serverView) };
      }, {
        role: "viewer", response: t.Object({ servers: t.Array(ServerView) }), detail: { summary: "MCP servers gantry connects to, with status and tool count" },
      })
      .get("/servers/:name", async ({ params }) => serverView(await connection(params.name)), {
        role: "viewer", params: ServerParams, response: ServerView, detail: { summary: "One MCP server" },
      })
      .post("/servers/:name/reconnect", async ({ params }) => {
        const c = await connection(params.name);
        await c.close();
        await c.connect().catch(() => undefined); // the outcome is in the view
        return serverView(c);
      }, { role: "admin", params: ServerParams, response: ServerView, detail: { summary: "Close and reopen the connection (tools are listed again)" } })
      .get("/tools", async ({ query }) => {
        await sync();
        return { tools: clients.tools(query.server) };
      }, {
        role: "viewer", query: t.Object({ server: t.Optional(t.String({ maxLength: 200 })) }),
        response: t.Object({ tools: t.Array(ToolView) }), detail: { summary: "Tools of every connected MCP server" },
      })
      .post("/servers/:name/tools/:tool/call", async ({ params, body }) => {
        const c = await connection(params.name);
        try {
          await c.connect();
        } catch (error) {
          throw McpErrors.MCP_SERVER_UNAVAILABLE([params.name, (error as Error).message]);
        }
        if (!c.tools.some((tool) => tool.name === params.tool)) throw McpErrors.MCP_TOOL_NOT_FOUND([params.name, params.tool]);
        const started = performance.now();
        try {
          const outcome = await c.call(params.tool, body?.arguments ?? {});
          return { server: params.name, tool: params.tool, ...outcome, duration_ms: Math.round(performance.now() - started) };
        } catch (error) {
          throw McpErrors.MCP_CALL_FAILED([params.name, params.tool, (error as Error).message]);
        }
      }, {
        role: { min: "admin", rateLimit: "expensive" },
        params: t.Object({ name: t.String({ maxLength: 200 }), tool: t.String({ maxLength: 200 }) }),
        body: t.Optional(t.Object({ arguments: t.Optional(t.Record(t.String(), t.Unknown())) })),
        response: t.Object({
          server: t.String(), tool: t.String(), is_error: t.Boolean({ description: "the tool reported a failure (MCP's isError)" }),
          content: t.Array(t.Unknown()), structured_content: t.Union([t.Record(t.String(), t.Unknown()), t.Null()]), duration_ms: t.Integer(),
        }),
        detail: { summary: "Call a tool of an MCP server (reconnecting first if the server went away)" },
      })
      // gantry's own MCP server: slash commands as tools, for MCP clients (operators: like POST .../invoke).
      // Each tool call is checked against its command's own role, as the MCP caller's identity.
      .post("", async ({ request }) => handleMcpRequest(request, commands, version, { role: (await identity.identify(request))?.role as CommandCaller["role"] }), {
        role: "operator", parse: "none",
        detail: {
          summary: "gantry as an MCP server (streamable HTTP, stateless): every slash command is a tool <plugin>__<command>",
          responses: {
            200: { description: "A JSON-RPC response", content: { "application/json": { schema: { type: "object" as const } } } },
            ...Object.fromEntries([[400, "not a JSON-RPC request"], [406, "Accept must list application/json and text/event-stream"], [415, "Content-Type must be application/json"]].map(([status, why]) => [status, {
              description: `A JSON-RPC error from the MCP transport: ${why}`,
              content: { "application/json": { schema: { type: "object" as const, required: ["jsonrpc", "error"], properties: { jsonrpc: { type: "string" as const }, error: { type: "object" as const }, id: {} } } } },
            }])),
          },
        },
      })
      .get("", ({ set }) => {
        set.status = 405;
        set.headers.allow = "POST";
        return "gantry's MCP endpoint is stateless: POST JSON-RPC requests; there is no event stream to GET";
      }, { role: "operator", detail: { summary: "405: no server-to-client stream (stateless)", responses: textResponses("never", { 405: "Method not allowed" }) } });
}
