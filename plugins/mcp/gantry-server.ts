/**
 * gantry as an MCP server (streamable HTTP, stateless): every slash command of the active plugins is
 * a tool named `<plugin>__<command>` taking `{arguments: string}`, run as POST .../invoke runs it.
 */
import { mayInvoke, type CommandCaller, type CommandView, type CoreCommandsService } from "gantry/plugin";

/** The SDK's server side, loaded on the first MCP request (not at start; see connection.ts). */
async function importServerSdk() {
  const [server, transport, types] = await Promise.all([
    import("@modelcontextprotocol/sdk/server/index.js"),
    import("@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js"),
    import("@modelcontextprotocol/sdk/types.js"),
  ]);
  return {
    Server: server.Server, Transport: transport.WebStandardStreamableHTTPServerTransport,
    CallToolRequestSchema: types.CallToolRequestSchema, ListToolsRequestSchema: types.ListToolsRequestSchema,
  };
}
type ServerSdk = Awaited<ReturnType<typeof importServerSdk>>;
let serverSdk: Promise<ServerSdk> | undefined;

/** MCP tool names allow letters, digits, _ and -; a command's qname "plugin:name" becomes "plugin__name". */
export const toolNameOf = (qname: string) => qname.replace(":", "__").replace(/[^A-Za-z0-9_-]/g, "_");

function toolOf(command: CommandView) {
  const hint = command.argument_hint ? ` Arguments: ${command.argument_hint}` : "";
  return {
    name: toolNameOf(command.qname),
    description: `${command.description || `/${command.qname}`} (slash command /${command.qname}).${hint}`,
    inputSchema: { type: "object" as const, properties: { arguments: { type: "string", description: "the command's arguments, as after /plugin:command on a command line" } } },
  };
}

function serverFor(sdk: ServerSdk, commands: CoreCommandsService, version: string, caller: CommandCaller) {
  const server = new sdk.Server({ name: "gantry", version }, { capabilities: { tools: {} } });
  // Tools are the commands the caller's role may invoke; invoke checks again, whatever the list said.
  server.setRequestHandler(sdk.ListToolsRequestSchema, () => ({ tools: commands.list().filter((c) => mayInvoke(caller.role, c.role)).map(toolOf) }));
  server.setRequestHandler(sdk.CallToolRequestSchema, async (request) => {
    const command = commands.list().find((c) => toolNameOf(c.qname) === request.params.name);
    if (!command) return { isError: true, content: [{ type: "text", text: `No tool '${request.params.name}'` }] };
    const args = request.params.arguments?.arguments;
    try {
      const invocation = await commands.invoke(command.qname, typeof args === "string" ? args : "", caller);
      const value = invocation.kind === "code" ? invocation.result : { prompt: invocation.prompt, result: invocation.result };
      return { content: [{ type: "text", text: typeof value === "string" ? value : JSON.stringify(value) }] };
    } catch (error) {
      return { isError: true, content: [{ type: "text", text: (error as Error).message }] };
    }
  });
  return server;
}

/** Answers one MCP HTTP request; stateless, so a server and transport per request. */
export async function handleMcpRequest(request: Request, commands: CoreCommandsService, version: string, caller: CommandCaller): Promise<Response> {
  const sdk = await (serverSdk ??= importServerSdk());
  const transport = new sdk.Transport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  const server = serverFor(sdk, commands, version, caller);
  await server.connect(transport);
  try {
    return await transport.handleRequest(request);
  } finally {
    void server.close();
  }
}
