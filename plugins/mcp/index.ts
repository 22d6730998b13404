/** mcp: gantry as an MCP client (/api/v1/mcp/servers and /tools) and as an MCP server (slash commands as tools). */
import { definePlugin } from "gantry/plugin";
import { McpClients, type DesiredServer } from "./clients.ts";
import { mcpRoutes } from "./routes.ts";

interface McpConfig {
  servers: Record<string, Record<string, unknown>>;
  connect_timeout_s: number;
  call_timeout_s: number;
  retry_interval_s: number;
}

export default definePlugin({
  name: "mcp",
  setup(ctx) {
    const config = ctx.config as unknown as McpConfig;
    const declared = ctx.services.consume("core.mcp_servers");
    const commands = ctx.services.consume("core.commands");
    const { version } = ctx.services.consume("core.info");
    // Connections and their stdio servers outlive reloads; kept before anything can throw, so a
    // failed setup closes what it started.
    const clients = ctx.keep("clients", (scope) => new McpClients(version, (command, options) => scope.spawn(command, options)), (kept) => kept.closeAll());
    clients.configure({
      timeouts: () => ({ connectMs: config.connect_timeout_s * 1000, callMs: config.call_timeout_s * 1000 }),
      onError: (name, error) => ctx.log.warn({ server: name, error }, "MCP server not connected"),
      outbound: ctx.services.consume("core.outbound"),
    });
    const desired = (): DesiredServer[] => [
      ...Object.entries(config.servers ?? {}).map(([name, entry]) => ({ name, entry, source: { kind: "config" as const } })),
      ...declared.list().map((s) => ({ name: s.qname, entry: s.config, source: { kind: "plugin" as const, plugin: s.plugin }, pluginDir: s.dir })),
    ];
    const sync = () => clients.sync(desired()).catch((error) => ctx.log.error({ err: (error as Error).message }, "MCP servers could not be synced"));
    void ctx.track(sync());
    // Plugins bring and take their .mcp.json servers with them.
    for (const event of ["plugin_installed", "plugin_reloaded", "plugin_uninstalled", "plugin_enabled", "plugin_disabled"]) ctx.on(event, () => void sync());

    const identity = ctx.services.consume("core.identity");
    ctx.routes(mcpRoutes(clients, commands, version, sync, identity));
    // For the agents plugin: tools of the connected servers, and calls (errors as exceptions).
    ctx.services.provide("mcp", {
      async tools() {
        await sync();
        return clients.tools();
      },
      call(server: string, tool: string, args: Record<string, unknown>) {
        const connection = clients.get(server);
        if (!connection) throw new Error(`No MCP server '${server}'`);
        return connection.call(tool, args);
      },
    });
    // Soon after start (plugins that activate after this one declare servers too), then every retry_interval_s.
    ctx.every("mcp-sync", { interval: config.retry_interval_s, level: "low", initWait: 1 }, async () => {
      await sync();
      const back = await clients.retryFailed();
      return back.length > 0 ? `reconnected: ${back.join(", ")}` : `${clients.list().length} servers`;
    });
    ctx.command("servers", {
      description: "MCP servers and their status",
      role: "viewer",
      run: () => clients.list().map((c) => ({ name: c.name, status: c.status, tools: c.tools.length, error: c.lastError })),
    });
    ctx.command("tools", {
      description: "Tools of the connected MCP servers",
      role: "viewer",
      argumentHint: "[server]",
      run: ({ argv }) => clients.list().filter((c) => argv[0] === undefined || c.name === argv[0]).flatMap((c) => c.tools.map((tool) => `${c.name}/${tool.name}: ${tool.description ?? ""}`)),
    });
  },
});
