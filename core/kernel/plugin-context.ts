/** The kernel's side of the plugin contract: builds the context each generation of a plugin receives and records what it registers. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Counter, Gauge, Histogram } from "prom-client";
import type { DatabaseHandle } from "../storage/db.ts";
import { scopeDatabase } from "../storage/scoped-db.ts";
import { pickTables } from "../storage/tables.ts";
import { Errors } from "./errors.ts";
import type { EventBus } from "./events.ts";
import type { FlagRegistry } from "./flags.ts";
import type { KeepRegistry } from "./keeps.ts";
import { createKvStore } from "./kv-store.ts";
import type { LoggerRegistry } from "./logger.ts";
import type { MetricsRegistry } from "./metrics.ts";
import type { OwnedRegistry } from "./owned-registry.ts";
import { PeriodicTask } from "./periodic-tasks.ts";
import type { CommandDefinition, PluginContext } from "./plugin-contract.ts";
import type { PluginInstance } from "./plugin-instance.ts";
import type { ServiceRegistry } from "./services.ts";
import type { ProcessRegistry } from "./processes.ts";
import { COMMAND_ROLES, readAgents, readMarkdownCommands, readMcpServers, type AgentDefinition, type PluginFolder, type CommandRole, type MarkdownCommand, type McpServerConfig } from "./plugin-files.ts";
import { missingTools, readHooks, readSkills, type HookDefinition, type SkillDefinition } from "./claude-parts.ts";
import type { UnsupportedPart } from "./claude-plugin.ts";
import type { PathGuard } from "./path-guard.ts";

// The kernel's generation object and the public contract have files of their own; re-exported for the layers that import them from here.
export { PluginInstance, type InstallDrop, type InstanceState } from "./plugin-instance.ts";
export type { CommandCaller, CommandDefinition, PluginContext, PluginDefinition, RouteOptions, RouteRegistrar } from "./plugin-contract.ts";

/** A command in the registry: from code (`run`) or from a `commands/*.md` file (`markdown`). */
export interface RegisteredCommand {
  plugin: string;
  name: string;
  description: string;
  argumentHint?: string;
  role: CommandRole;
  run?: CommandDefinition["run"];
  markdown?: MarkdownCommand;
  /** The plugin's ctx.spawn, for a markdown command's `!`command`` lines. */
  spawn?: PluginContext["spawn"];
}

export interface RegisteredAgent extends AgentDefinition {
  plugin: string;
}

export interface RegisteredSkill extends SkillDefinition {
  plugin: string;
}

export interface RegisteredHook extends HookDefinition {
  plugin: string;
}

/** Everything core shares with plugin contexts. */
export interface CoreParts {
  database: DatabaseHandle;
  loggers: LoggerRegistry;
  events: EventBus;
  flags: FlagRegistry;
  services: ServiceRegistry;
  metrics: MetricsRegistry;
  commands: OwnedRegistry<RegisteredCommand>;
  agents: OwnedRegistry<RegisteredAgent>;
  mcpServers: OwnedRegistry<{ plugin: string; name: string; dir: string; config: McpServerConfig }>;
  skills: OwnedRegistry<RegisteredSkill>;
  hooks: OwnedRegistry<RegisteredHook>;
  tasks: OwnedRegistry<PeriodicTask>;
  invalidators: OwnedRegistry<() => void | Promise<void>>;
  processes: ProcessRegistry;
  keeps: KeepRegistry;
  pluginConfig(name: string): Record<string, unknown>;
  /** gantry's data dir; each plugin gets `<data_dir>/plugins/<name>`. */
  dataDir: string;
  /** The one path guard (it knows the data dir); plugins get it as `ctx.paths`. */
  paths: PathGuard;
}

/**
 * Registers what the plugin folder contributes without code: commands as `plugin:name`, agents as
 * `plugin:name`, skills, hooks and MCP servers. Recorded as install drops like the rest; what
 * gantry cannot honour is kept in `instance.unsupported`.
 */
export function registerPluginFiles(instance: PluginInstance, core: CoreParts, spawn: PluginContext["spawn"]): void {
  const { name: plugin, dir, claude: layout } = instance.manifest;
  const record = instance.record.bind(instance);
  const tools: UnsupportedPart[] = [];
  const folder: PluginFolder = { dir, paths: core.paths, refused: [] };
  for (const command of readMarkdownCommands(folder, layout)) {
    const qname = `${plugin}:${command.name}`;
    const entry: RegisteredCommand = { plugin, name: command.name, description: command.description, argumentHint: command.argumentHint ?? undefined, role: command.role, markdown: command, spawn };
    record("command", qname, core.commands.add(qname, instance, entry));
    tools.push(...missingTools(`command ${qname}`, command.allowedTools));
  }
  for (const agent of readAgents(folder, layout)) {
    const qname = `${plugin}:${agent.name}`;
    record("agent", qname, core.agents.add(qname, instance, { ...agent, plugin }));
    tools.push(...missingTools(`agent ${qname}`, agent.tools));
  }
  for (const skill of readSkills(folder, layout)) {
    const qname = `${plugin}:${skill.name}`;
    record("skill", qname, core.skills.add(qname, instance, { ...skill, plugin }));
  }
  const { hooks, unsupported } = readHooks(folder, layout);
  hooks.forEach((hook, i) => {
    const qname = `${plugin}:${hook.event}:${i + 1}`;
    record("hook", qname, core.hooks.add(qname, instance, { ...hook, plugin }));
  });
  for (const [server, config] of readMcpServers(folder, layout)) {
    const qname = `${plugin}:${server}`;
    record("mcp_server", qname, core.mcpServers.add(qname, instance, { plugin, name: server, dir, config }));
  }
  instance.unsupported = [...(layout?.unsupported ?? []), ...unsupported, ...tools, ...folder.refused];
}

/** Builds the context for one plugin generation; every registration is recorded and undone on dispose. */
export function createPluginContext(instance: PluginInstance, core: CoreParts): PluginContext {
  const { manifest } = instance;
  const name = manifest.name;
  const log = core.loggers.child(`plugin:${name}`, { plugin: name });
  const record = instance.record.bind(instance);
  const guard = (what: string) => instance.assertOpen(what);
  record("logger", `plugin:${name}`);

  const registerMetric = <M extends Counter<string> | Gauge<string> | Histogram<string>>(kind: string, config: { name: string }, create: () => M): M => {
    guard("metrics");
    const [metric, release] = core.metrics.register(instance, kind, config.name, create);
    record("metric", config.name, release);
    return metric;
  };

  const ctx: PluginContext = {
    name,
    version: manifest.version,
    dir: manifest.dir,
    generation: instance.generation,
    get dataDir() {
      const dir = join(core.dataDir, "plugins", name);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    paths: core.paths,
    config: { ...manifest.config, ...core.pluginConfig(name) },
    log,
    db: scopeDatabase(core.database.db, name),
    tables: (pair) => pickTables(core.database.db, pair, `plugin '${name}'`),
    signal: instance.abort.signal,
    kv: createKvStore(core.database.db, name),
    metrics: {
      counter: (config) => registerMetric("counter", config, () => new Counter({ ...config, registers: [core.metrics.registry] })),
      gauge: (config) => registerMetric("gauge", config, () => new Gauge({ ...config, registers: [core.metrics.registry] })),
      histogram: (config) => registerMetric("histogram", config, () => new Histogram({ ...config, registers: [core.metrics.registry] })),
    },
    services: {
      provide: (serviceName, implementation) => {
        guard("services.provide");
        record("service", serviceName, core.services.provide(instance, serviceName, implementation));
      },
      consume: (serviceName) => core.services.consume(serviceName),
      get: (serviceName) => core.services.get(serviceName),
      has: (serviceName) => core.services.has(serviceName),
    },
    keep(key, create, close) {
      guard("keep");
      const [value, release] = core.keeps.acquire(instance, key, create, close);
      record("keep", key, release);
      return value;
    },
    routes(register, options = {}) {
      guard("routes");
      if (instance.state !== "staging") throw Errors.PLUGIN_ROUTES_AFTER_SETUP([name]);
      instance.routeRegistrars.push({ register, prefix: options.prefix ?? `/api/v1/${name}` });
    },
    command(commandName, definition: CommandDefinition) {
      guard("command");
      if (!/^[a-z][a-z0-9-]*$/.test(commandName)) throw Errors.PLUGIN_COMMAND_NAME_INVALID([name, commandName]);
      if (definition.role !== undefined && !COMMAND_ROLES.includes(definition.role)) throw new TypeError(`Command '${commandName}': role must be one of ${COMMAND_ROLES.join(", ")}`);
      const qualified = `${name}:${commandName}`;
      record("command", qualified, core.commands.add(qualified, instance, { ...definition, role: definition.role ?? "operator", plugin: name, name: commandName }));
    },
    every(taskName, options, fn) {
      guard("every");
      const task = new PeriodicTask(taskName, name, options, fn, log);
      const remove = core.tasks.add(taskName, instance, task);
      instance.tasks.push(task);
      if (instance.state === "active") task.start();
      record("task", taskName, async () => {
        remove();
        await task.stop();
      });
      return task;
    },
    flag(flagName, definition) {
      guard("flag");
      const [handle, remove] = core.flags.declare(instance, flagName, definition);
      record("flag", flagName, remove);
      return handle as never;
    },
    on(pattern, handler) {
      guard("on");
      // Only the serving instance hears events: a staged reload stays silent until it is swapped in.
      const unsubscribe = core.events.subscribe(pattern, (event) => (instance.active ? handler(event) : undefined));
      record("subscription", pattern, unsubscribe);
      return unsubscribe;
    },
    emit(type, data) {
      // Disposers may still announce what they stop; a generation that is gone may not.
      if (instance.state === "disposed") instance.refuse("emit");
      return core.events.publish(type, data, name);
    },
    listened: (type) => core.events.hasSubscribers(type),
    invalidator(key, invalidate) {
      guard("invalidator");
      record("cache", key, core.invalidators.add(key, instance, invalidate));
    },
    spawn(command, options) {
      instance.assertWorking("spawn");
      const [child, stop] = core.processes.spawn(instance, command, options);
      record("process", `${child.name} (pid ${child.pid})`, stop);
      return child;
    },
    adopt(pid, options) {
      instance.assertWorking("adopt");
      const [child, stop] = core.processes.adopt(instance, pid, options);
      record("process", `${child.name} (pid ${child.pid})`, stop);
      return child;
    },
    track: (promise) => instance.work.track(promise),
    setTimeout: (fn, ms) => instance.work.setTimeout(fn, ms),
    setInterval: (fn, ms) => instance.work.setInterval(fn, ms),
    defer(fn) {
      guard("defer");
      instance.disposer.defer(fn, "plugin defer");
    },
    use(resource) {
      guard("use");
      return instance.disposer.use(resource, "plugin resource");
    },
  };
  instance.context = ctx;
  return ctx;
}
