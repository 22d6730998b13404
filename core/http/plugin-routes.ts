/** The plugins API: plugins (gantry's and Claude Code's format, marketplaces), slash commands, plugin agents and skills. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { t } from "elysia";
import { CommandErrors, invokeCommand, normalizeQname, viewOf } from "../kernel/command-invoker.ts";
import { createError, defineErrors, Errors } from "../kernel/errors.ts";
import type { OwnedRegistry } from "../kernel/owned-registry.ts";
import type { CommandCaller, RegisteredAgent, RegisteredCommand, RegisteredSkill } from "../kernel/plugin-context.ts";
import { isMarketplace, marketplaceReference, readMarketplace } from "../kernel/claude-plugin.ts";
import type { PluginNodeStatus } from "../cluster/plugin-sync.ts";
import type { PluginHost } from "../kernel/plugin-host.ts";
import type { RolesApp } from "../auth/roles.ts";
import type { ServiceRegistry } from "../kernel/services.ts";

const PluginAgentErrors = defineErrors("core", {
  PLUGIN_AGENT_NOT_FOUND: createError("PLUGIN_AGENT_NOT_FOUND", 404, (qname: string) => `No plugin agent '${qname}'; list them at GET /api/v1/plugins/agents`),
});

export interface PluginRouteParts {
  host: PluginHost;
  commands: OwnedRegistry<RegisteredCommand>;
  agents: OwnedRegistry<RegisteredAgent>;
  skills: OwnedRegistry<RegisteredSkill>;
  services: ServiceRegistry;
  /** The caller, whose role a command's own role is checked against. */
  identify(request: Request): Promise<{ role: string } | undefined>;
  /** Cluster mode: how each node carried out the plugin's last change. */
  nodes: { report?: (plugin: string) => Promise<PluginNodeStatus[]> };
}

const Name = t.String({ maxLength: 64 });
/** A code command's result, or a markdown command's rendered prompt (and the agents service's result, when one ran it). */
const Invocation = t.Union([
  t.Object({ qname: t.String(), kind: t.Literal("code"), result: t.Unknown() }),
  t.Object({
    qname: t.String(), kind: t.Literal("markdown"), prompt: t.String(), allowed_tools: t.Array(t.String()), model: t.Union([t.String(), t.Null()]),
    ran_as_agent: t.Boolean(), result: t.Unknown({ description: "null unless a plugin providing the agents service ran the prompt" }),
  }),
]);
const Drop = t.Object({ kind: t.String(), name: t.String() });
const PluginSchema = t.Object({
  name: t.String(), version: t.Union([t.String(), t.Null()]), description: t.Union([t.String(), t.Null()]),
  status: t.Union([t.Literal("active"), t.Literal("failed"), t.Literal("disabled")]), source: t.Union([t.Literal("builtin"), t.Literal("path")]),
  path: t.String(), depends_on: t.Array(t.String()), loaded_at: t.Union([t.String(), t.Null()]),
  error: t.Union([t.Object({ code: t.String(), message: t.String() }), t.Null()]), install_drops: t.Array(Drop),
  unsupported: t.Array(t.Object({ part: t.String(), reason: t.String() }), { description: "parts of a Claude Code plugin that gantry cannot honour, and why" }),
});
const NodeStatus = t.Object({
  node: t.String(), name: t.String(), action: t.String(), ok: t.Boolean(), error: t.Union([t.String(), t.Null()]), at: t.String(),
});
const MarketplaceListing = t.Object({
  marketplace: t.String(), path: t.String(),
  plugins: t.Array(t.Object({
    name: t.String(), description: t.Union([t.String(), t.Null()]), version: t.Union([t.String(), t.Null()]), source: t.String(),
    installable: t.Boolean(), reason: t.Union([t.String(), t.Null()]),
  })),
}, { description: "a marketplace folder given without `plugin`: its plugins, to install one by name" });
const SkillSchema = t.Object({ qname: t.String(), plugin: t.String(), name: t.String(), description: t.String(), files: t.Array(t.String()) });
const CommandSchema = t.Object({
  qname: t.String(), plugin: t.String(), name: t.String(), kind: t.Union([t.Literal("code"), t.Literal("markdown")]),
  role: t.Union([t.Literal("viewer"), t.Literal("operator"), t.Literal("admin")], { description: "least role that may invoke it" }),
  description: t.String(), argument_hint: t.Union([t.String(), t.Null()]), allowed_tools: t.Array(t.String()), model: t.Union([t.String(), t.Null()]),
});
const AgentSchema = t.Object({
  qname: t.String(), plugin: t.String(), name: t.String(), description: t.String(), tools: t.Array(t.String()), model: t.Union([t.String(), t.Null()]),
});

const agentView = (qname: string, a: RegisteredAgent) => ({ qname, plugin: a.plugin, name: a.name, description: a.description, tools: a.tools, model: a.model });

export function pluginRoutes(p: PluginRouteParts) {
  return (app: RolesApp) =>
    app
      .get("/api/v1/plugins", () => ({ plugins: p.host.list().map(({ install_drops: _, unsupported: __, ...rest }) => rest) }), {
        role: "viewer",
        response: t.Object({ plugins: t.Array(t.Omit(PluginSchema, ["install_drops", "unsupported"])) }),
        detail: { summary: "Installed plugins with status, source and load time", tags: ["plugins"] },
      })
      .post("/api/v1/plugins", async ({ body, set }) => {
        const marketplace = isMarketplace(body.path);
        if (body.plugin !== undefined && !marketplace) throw Errors.BAD_REQUEST([`'plugin' names a plugin of a marketplace, but ${body.path} has no .claude-plugin/marketplace.json`]);
        // A marketplace folder that is no plugin itself is listed; one that is (a single-plugin repository) installs as a folder.
        const ownManifest = existsSync(join(body.path, "plugin.json")) || existsSync(join(body.path, ".claude-plugin", "plugin.json"));
        if (marketplace && body.plugin === undefined && !ownManifest) {
          const market = readMarketplace(body.path);
          return { marketplace: market.name, path: market.dir, plugins: market.plugins.map(({ raw: _, ...entry }) => entry) };
        }
        const info = await p.host.install(body.plugin !== undefined ? marketplaceReference(body.path, body.plugin) : body.path);
        set.status = 201;
        return info;
      }, {
        role: "admin",
        body: t.Object({
          path: t.String({ minLength: 1, maxLength: 4096, description: "a plugin folder on the server (gantry's plugin.json, a Claude Code plugin, or a marketplace folder); referenced in place, not copied" }),
          plugin: t.Optional(t.String({ minLength: 1, maxLength: 64, description: "with a marketplace folder: the plugin to install (without it the marketplace's plugins are listed)" })),
        }),
        response: { 201: PluginSchema, 200: MarketplaceListing },
        detail: { summary: "Install a plugin from a folder on the server, or from a Claude Code marketplace folder", tags: ["plugins"] },
      })
      .get("/api/v1/plugins/skills", () => ({ skills: p.skills.entries().map((e) => ({ qname: e.key, plugin: e.value.plugin, name: e.value.name, description: e.value.description, files: e.value.files })) }), {
        role: "viewer",
        response: t.Object({ skills: t.Array(SkillSchema) }),
        detail: { summary: "Skills of every active plugin (skills/<name>/SKILL.md): name, description and the skill's other files", tags: ["plugins"] },
      })
      .get("/api/v1/plugins/commands", () => ({ commands: p.commands.entries().map((e) => viewOf(e.key, e.value)) }), {
        role: "viewer",
        response: t.Object({ commands: t.Array(CommandSchema) }),
        detail: { summary: "Slash commands of every active plugin", tags: ["plugins"] },
      })
      .post("/api/v1/plugins/commands/:qname/invoke", async ({ params, body, request }) => {
        const role = (await p.identify(request))?.role ?? "public";
        return invokeCommand(p.commands, p.services, params.qname, body.arguments ?? "", { role: role as CommandCaller["role"] });
      }, {
        role: "operator",
        params: t.Object({ qname: t.String({ maxLength: 130, description: "plugin:command" }) }),
        body: t.Object({ arguments: t.Optional(t.String({ maxLength: 16_384 })) }),
        response: Invocation,
        detail: { summary: "Render and invoke a slash command (/plugin:command arguments)", tags: ["plugins"] },
      })
      .get("/api/v1/plugins/commands/:qname", ({ params }) => {
        const qname = normalizeQname(params.qname);
        const command = p.commands.get(qname);
        if (!command) throw CommandErrors.COMMAND_NOT_FOUND([qname]);
        return viewOf(qname, command);
      }, { role: "viewer", params: t.Object({ qname: t.String({ maxLength: 130 }) }), response: CommandSchema, detail: { summary: "One slash command", tags: ["plugins"] } })
      .get("/api/v1/plugins/agents", () => ({ agents: p.agents.entries().map((e) => agentView(e.key, e.value)) }), {
        role: "viewer",
        response: t.Object({ agents: t.Array(AgentSchema) }),
        detail: { summary: "Agent definitions from plugins' agents/*.md", tags: ["plugins"] },
      })
      .get("/api/v1/plugins/agents/:qname", ({ params }) => {
        const agent = p.agents.get(params.qname);
        if (!agent) throw PluginAgentErrors.PLUGIN_AGENT_NOT_FOUND([params.qname]);
        return { ...agentView(params.qname, agent), prompt: agent.prompt };
      }, {
        role: "viewer",
        params: t.Object({ qname: t.String({ maxLength: 130 }) }),
        response: t.Object({ ...AgentSchema.properties, prompt: t.String() }),
        detail: { summary: "One plugin agent, with its system prompt", tags: ["plugins"] },
      })
      .get("/api/v1/plugins/leaks", () => p.host.leaks(), {
        role: "admin",
        response: t.Object({
          late_calls: t.Array(t.Object({ plugin: t.String(), generation: t.Integer(), call: t.String(), count: t.Integer(), last_at: t.String() })),
          unowned_processes: t.Array(t.Object({ pid: t.Integer(), command: t.Array(t.String()) })),
          kept: t.Array(t.Object({
            plugin: t.String(), key: t.String(), holders: t.Array(t.Integer()),
            pending: t.Object({ promises: t.Integer(), timers: t.Integer(), processes: t.Integer() }),
          })),
        }),
        detail: {
          summary: "What escaped plugin ownership: context calls by disposed generations (a raw timer or promise outlived them), child processes no plugin registered, and kept resources",
          tags: ["plugins"],
        },
      })
      .get("/api/v1/plugins/:name", async ({ params }) => {
        const info = p.host.info(params.name);
        return p.nodes.report ? { ...info, nodes: await p.nodes.report(params.name) } : info;
      }, {
        role: "viewer", params: t.Object({ name: Name }), response: t.Composite([PluginSchema, t.Object({ nodes: t.Optional(t.Array(NodeStatus, { description: "cluster mode: how each node carried out the last install, reload, uninstall, enable or disable (ok, or the error there)" })) })]),
        detail: { summary: "Plugin detail with install_drops (everything it registered), its last error, and in a cluster the outcome on each node", tags: ["plugins"] },
      })
      .post("/api/v1/plugins/:name/reload", ({ params }) => p.host.reload(params.name), {
        role: "admin", params: t.Object({ name: Name }), response: PluginSchema,
        detail: { summary: "Re-import and re-register atomically; 422 with the error while the old version keeps serving", tags: ["plugins"] },
      })
      .post("/api/v1/plugins/:name/enable", ({ params }) => p.host.setEnabled(params.name, true), {
        role: "admin", params: t.Object({ name: Name }), response: PluginSchema, detail: { summary: "Enable a disabled plugin", tags: ["plugins"] },
      })
      .post("/api/v1/plugins/:name/disable", ({ params, query }) => p.host.setEnabled(params.name, false, { force: query.force }), {
        role: "admin", params: t.Object({ name: Name }), query: t.Object({ force: t.Optional(t.BooleanString()) }), response: PluginSchema,
        detail: { summary: "Disable without uninstalling (409 while others depend on it, unless force)", tags: ["plugins"] },
      })
      .delete("/api/v1/plugins/:name", async ({ params, query }) => {
        await p.host.uninstall(params.name, { force: query.force });
        return { ok: true as const, name: params.name };
      }, {
        role: "admin", params: t.Object({ name: Name }), query: t.Object({ force: t.Optional(t.BooleanString()) }),
        response: t.Object({ ok: t.Literal(true), name: t.String() }),
        detail: { summary: "Uninstall and remove everything it registered (409 while others depend on it, unless force)", tags: ["plugins"] },
      });
}
