/** The context core hands each plugin: the only way a plugin touches routes, timers, events, data and other plugins. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { AnyElysia } from "elysia";
import type { DatabaseHandle, GantryDb } from "../storage/db.ts";
import { DisposerStack } from "./disposer-stack.ts";
import { Errors } from "./errors.ts";
import type { EventBus, EventHandler, GantryEvent } from "./events.ts";
import type { FlagDefinition, FlagHandle, FlagRegistry, FlagType } from "./flags.ts";
import { createKvStore, type KvStore } from "./kv-store.ts";
import type { Logger, LoggerRegistry } from "./logger.ts";
import type { LoadedManifest } from "./manifest.ts";
import { Counter, Gauge, Histogram } from "prom-client";
import type { MetricsRegistry, PluginMetrics } from "./metrics.ts";
import type { OwnedRegistry, Owner } from "./owned-registry.ts";
import { PeriodicTask, type PeriodicTaskFn, type PeriodicTaskOptions } from "./periodic-tasks.ts";
import type { RolesApp } from "../auth/roles.ts";
import type { ServiceRegistry } from "./services.ts";
import type { ProcessRegistry, SpawnOptions } from "./processes.ts";
import { COMMAND_ROLES, readAgents, readMarkdownCommands, readMcpServers, type AgentDefinition, type CommandRole, type MarkdownCommand, type McpServerConfig } from "./plugin-files.ts";
import type { Subprocess } from "bun";

/** A slash command contributed by a plugin in code (invoked as `/plugin:name args`). */
export interface CommandDefinition {
  description: string;
  argumentHint?: string;
  /** Least role that may invoke the command, on every path (REST, CLI, MCP, cron, agents); default operator. */
  role?: CommandRole;
  /** `caller.role` is the role it was invoked with, for commands that invoke others in turn. */
  run(input: { arguments: string; argv: string[]; caller: CommandCaller }): unknown | Promise<unknown>;
}

/** Who invokes a command: the role its checks and any nested invocation use. */
export interface CommandCaller {
  role: CommandRole;
}

/** A command in the registry: from code (`run`) or from a `commands/*.md` file (`markdown`). */
export interface RegisteredCommand {
  plugin: string;
  name: string;
  description: string;
  argumentHint?: string;
  role: CommandRole;
  run?: CommandDefinition["run"];
  markdown?: MarkdownCommand;
}

export interface RegisteredAgent extends AgentDefinition {
  plugin: string;
}

export type RouteRegistrar = (app: RolesApp) => AnyElysia;

export interface RouteOptions {
  /** Path prefix; default `/api/v1/<plugin>`. Pass "" to serve paths a source document fixes (e.g. `/periodic-threads`). */
  prefix?: string;
}

/** A thing a plugin registered, as listed in its install drops. */
export interface InstallDrop {
  kind: "route" | "command" | "agent" | "mcp_server" | "task" | "flag" | "service" | "subscription" | "metric" | "logger" | "migration" | "cache" | "process";
  name: string;
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
  tasks: OwnedRegistry<PeriodicTask>;
  invalidators: OwnedRegistry<() => void>;
  processes: ProcessRegistry;
  pluginConfig(name: string): Record<string, unknown>;
  /** gantry's data dir; each plugin gets `<data_dir>/plugins/<name>`. */
  dataDir: string;
}

export interface PluginContext {
  readonly name: string;
  readonly version: string;
  /** The plugin's folder (read files relative to it). */
  readonly dir: string;
  /** A folder of the plugin's own under gantry's data dir (`<data_dir>/plugins/<name>`), created on first use. */
  readonly dataDir: string;
  /** The manifest's `config` merged with `[plugin.<name>]` from gantry.toml. */
  readonly config: Record<string, unknown>;
  /** A child logger named after the plugin; operators can change its level at runtime. */
  readonly log: Logger;
  readonly db: GantryDb;
  /** Aborts when this instance is disposed (reload or uninstall). */
  readonly signal: AbortSignal;
  readonly kv: KvStore;
  readonly metrics: PluginMetrics;
  readonly services: {
    provide(name: string, implementation: object): void;
    /** A stable handle to another plugin's service; each use goes to the current provider. */
    consume<T extends object>(name: string): T;
    get<T extends object>(name: string): T | undefined;
    has(name: string): boolean;
  };
  routes(register: RouteRegistrar, options?: RouteOptions): void;
  command(name: string, definition: CommandDefinition): void;
  every(name: string, options: PeriodicTaskOptions, fn: PeriodicTaskFn): PeriodicTask;
  flag<K extends FlagType>(name: string, definition: FlagDefinition<K>): FlagHandle<K extends "boolean" ? boolean : K extends "number" ? number : K extends "string" ? string : unknown>;
  on(pattern: string, handler: EventHandler): () => void;
  emit<T>(type: string, data: T): GantryEvent<T>;
  /** Registers a function that drops a hot-path cached value; POST /api/v1/infra/cache-invalidate calls every one. */
  invalidator(key: string, invalidate: () => void): void;
  /** Starts a child process that is listed for operators and stopped (SIGTERM, then SIGKILL) with the plugin. */
  spawn(command: string[], options?: SpawnOptions): Subprocess;
  /** Runs `fn` when the plugin is disposed (last registered, first run). */
  defer(fn: () => unknown): void;
  /** Disposes `resource` (close/dispose/Symbol.dispose) with the plugin, and returns it. */
  use<T extends object>(resource: T): T;
}

export type PluginSetup = (ctx: PluginContext) => void | (() => unknown) | Promise<void | (() => unknown)>;

export interface PluginDefinition {
  name?: string;
  setup: PluginSetup;
}

/** Identity helper so plugin files get types for `ctx` without importing the interface. */
export function definePlugin(definition: PluginDefinition): PluginDefinition {
  return definition;
}

export type InstanceState = "staging" | "active" | "retiring" | "disposed";

/** One loaded version of a plugin: its registrations, its timers, its disposer stack. */
export class PluginInstance implements Owner {
  state: InstanceState = "staging";
  readonly disposer = new DisposerStack();
  readonly abort = new AbortController();
  readonly drops: InstallDrop[] = [];
  readonly routeRegistrars: { register: RouteRegistrar; prefix: string }[] = [];
  readonly tasks: PeriodicTask[] = [];
  readonly loadedAt = new Date();

  constructor(readonly manifest: LoadedManifest, readonly generation: number) {}

  get plugin(): string {
    return this.manifest.name;
  }
  get active(): boolean {
    return this.state === "active";
  }
  get disposed(): boolean {
    return this.state === "disposed";
  }

  /** Makes this instance the one that serves, and starts its periodic tasks. */
  activate(): void {
    this.state = "active";
    for (const task of this.tasks) task.start();
  }

  /** Adds an install drop and, when given, the function that undoes it on dispose. */
  record(kind: InstallDrop["kind"], name: string, undo?: () => unknown): void {
    this.drops.push({ kind, name });
    if (undo) this.disposer.defer(undo, `${kind}:${name}`);
  }

  /** Aborts the signal and runs the disposer stack (tasks, registrations, plugin cleanup). */
  async dispose(timeoutMs: number) {
    this.state = "disposed";
    this.abort.abort(new Error(`plugin ${this.plugin} disposed`));
    return this.disposer.disposeAsync(timeoutMs);
  }
}

/**
 * Registers what the plugin folder contributes without code: `commands/*.md` as `plugin:name`,
 * `agents/*.md` as `plugin:name`, and `.mcp.json` servers. Recorded as install drops like the rest.
 */
export function registerPluginFiles(instance: PluginInstance, core: CoreParts): void {
  const { name: plugin, dir } = instance.manifest;
  const record = instance.record.bind(instance);
  for (const command of readMarkdownCommands(dir)) {
    const qname = `${plugin}:${command.name}`;
    const entry: RegisteredCommand = { plugin, name: command.name, description: command.description, argumentHint: command.argumentHint ?? undefined, role: command.role, markdown: command };
    record("command", qname, core.commands.add(qname, instance, entry));
  }
  for (const agent of readAgents(dir)) {
    const qname = `${plugin}:${agent.name}`;
    record("agent", qname, core.agents.add(qname, instance, { ...agent, plugin }));
  }
  for (const [server, config] of readMcpServers(dir)) {
    const qname = `${plugin}:${server}`;
    record("mcp_server", qname, core.mcpServers.add(qname, instance, { plugin, name: server, dir, config }));
  }
}

/** Builds the context for one plugin instance; every registration is recorded and undone on dispose. */
export function createPluginContext(instance: PluginInstance, core: CoreParts): PluginContext {
  const { manifest } = instance;
  const name = manifest.name;
  const log = core.loggers.child(`plugin:${name}`, { plugin: name });
  const record = instance.record.bind(instance);
  const guard = (what: string) => {
    if (instance.state === "disposed" || instance.state === "retiring") throw Errors.PLUGIN_CONTEXT_CLOSED([name, what]);
  };
  record("logger", `plugin:${name}`);

  const registerMetric = <M extends Counter<string> | Gauge<string> | Histogram<string>>(kind: string, config: { name: string }, create: () => M): M => {
    guard("metrics");
    const [metric, release] = core.metrics.register(instance, kind, config.name, create);
    record("metric", config.name, release);
    return metric;
  };

  return {
    name,
    version: manifest.version,
    dir: manifest.dir,
    get dataDir() {
      const dir = join(core.dataDir, "plugins", name);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    config: { ...manifest.config, ...core.pluginConfig(name) },
    log,
    db: core.database.db,
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
    routes(register, options = {}) {
      guard("routes");
      if (instance.state !== "staging") throw new Error(`Plugin '${name}': register routes during setup`);
      instance.routeRegistrars.push({ register, prefix: options.prefix ?? `/api/v1/${name}` });
    },
    command(commandName, definition) {
      guard("command");
      if (!/^[a-z][a-z0-9-]*$/.test(commandName)) throw new TypeError(`Command name '${commandName}' must be lowercase letters, digits and dashes`);
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
    emit: (type, data) => core.events.publish(type, data, name),
    invalidator(key, invalidate) {
      guard("invalidator");
      record("cache", key, core.invalidators.add(key, instance, invalidate));
    },
    spawn(command, options) {
      guard("spawn");
      const [proc, stop] = core.processes.spawn(instance, command, options);
      record("process", `${command[0]} (pid ${proc.pid})`, stop);
      return proc;
    },
    defer(fn) {
      instance.disposer.defer(fn, "plugin defer");
    },
    use(resource) {
      return instance.disposer.use(resource, "plugin resource");
    },
  };
}
