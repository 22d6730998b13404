/** The services core itself provides to plugins (named `core.*`), so plugins like infra reach core only through ctx.services. */
import { runtime } from "../runtime/index.ts";
import { getDotted, redactSecrets, type GantryConfig } from "./config.ts";
import type { ConfigManager, ConfigReloadResult } from "./config-manager.ts";
import type { LoggerRegistry } from "./logger.ts";
import type { MetricsRegistry } from "./metrics.ts";
import type { OwnedRegistry, Owner } from "./owned-registry.ts";
import type { PeriodicTask } from "./periodic-tasks.ts";
import type { ProcessInfo, ProcessRegistry } from "./processes.ts";
import type { ServiceRegistry } from "./services.ts";
import type { OutboundGuard, OutboundTarget } from "./outbound-guard.ts";
import type { AuditEntry, AuditLog } from "../auth/audit.ts";
import type { KeyScope } from "../auth/identity.ts";
import { invokeCommand, normalizeQname, parseSlashLine, viewOf, type CommandInvocation, type CommandView } from "./command-invoker.ts";
import type { CommandCaller, RegisteredAgent, RegisteredCommand, RegisteredHook, RegisteredSkill } from "./plugin-context.ts";
import { readSkillFile } from "./claude-parts.ts";
import type { PathGuard } from "./path-guard.ts";
import pkg from "../../package.json" with { type: "json" };

/** The owner of everything core registers: always active. */
export const CORE_OWNER: Owner = { plugin: "core", active: true, disposed: false };

/** Sealing of secrets a plugin stores and must read back (core's SecretBox: AES-256-GCM, key from auth.secret_key). */
export interface CoreSecretsService {
  seal(plain: string): string;
  /** The plain value; values stored before sealing existed come back as they are. */
  open(stored: string): string;
  /** Plain, or sealed with a previous key: write it again. */
  needsReseal(stored: string): boolean;
  sealMap(values: Record<string, string>): Record<string, string>;
  openMap(values: Record<string, string>): Record<string, string>;
}

export interface CoreConfigService {
  /** The running configuration with secrets redacted. */
  redacted(): GantryConfig;
  /** One dotted key of the redacted configuration; undefined when the key does not exist. */
  get(key: string): unknown;
  /** One top-level section as configured, secrets included: for the plugin that owns it ([models] → instances). */
  section(key: string): unknown;
  /** Re-reads gantry.toml and the environment; throws CONFIG_INVALID (400) and keeps the running config. */
  reload(): Omit<ConfigReloadResult, "config"> & { config: GantryConfig };
}

/** The outbound-address guard (outbound.allow): what a plugin fetches on a caller's or a model's word goes through it. */
export interface CoreOutboundService {
  /** Resolves the URL's host and checks every address; throws OUTBOUND_ADDRESS_REFUSED (422), OUTBOUND_URL_INVALID (400), OUTBOUND_HOST_UNRESOLVED (502). */
  check(url: string | URL): Promise<OutboundTarget>;
  /** fetch() connected to the checked address, each redirect checked again (none followed with `redirect: "manual"`). */
  fetch(url: string | URL, init?: RequestInit): Promise<Response>;
}

export interface CoreInfoService {
  version: string;
  startedAt: Date;
  /** `name` and `version` of the JavaScript runtime; `bun` is Bun's version, empty on another runtime. */
  runtime: { name: string; version: string; bun: string; platform: string; arch: string; pid: number };
}

export interface CoreCacheService {
  /** Drops every hot-path cached value that core and plugins registered; returns their keys. */
  invalidateAll(): Promise<string[]>;
  keys(): string[];
}

export interface CoreTasksService {
  list(): PeriodicTask[];
  get(name: string): PeriodicTask | undefined;
}

export interface CoreMetricsService {
  reset(): void;
  /** Every metric as JSON (prom-client's getMetricsAsJSON). */
  snapshot(): Promise<unknown[]>;
}

export interface CoreAuditService {
  record(entry: AuditEntry): Promise<void>;
}

export interface CoreIdentityService {
  /** Who sent the request (undefined for an invalid credential); `scope` for an API key with an inference scope or limits. */
  identify(request: Request): Promise<{ subject: string; role: string; scope?: KeyScope } | undefined>;
  /** Whether any API key carries a scope or limits now (a cheap check before `identify` on a hot path). */
  scoped(): boolean;
}

export interface CorePluginsService {
  list(): { name: string; version: string | null; status: string; source: string }[];
  /** Resolves once every plugin present at startup is set up (at once for a plugin installed or reloaded later). */
  whenStarted(): Promise<void>;
}

export interface CoreProcessesService {
  list(): ProcessInfo[];
}

export type CoreLoggersService = Pick<LoggerRegistry, "list" | "get" | "setLevel" | "root">;

/** MCP servers that plugins declare in their `.mcp.json`, for the plugin that connects to them. */
export interface CoreMcpServersService {
  /** `qname` is `<plugin>:<server>`; `dir` the plugin's folder; `config` the entry as the plugin wrote it. */
  list(): { qname: string; plugin: string; name: string; dir: string; config: Record<string, unknown> }[];
}

/** Agent definitions plugins contribute in `agents/*.md`, for the plugin that runs agents. */
export interface CoreAgentsService {
  /** `qname` is `<plugin>:<name>`. */
  list(): { qname: string; plugin: string; name: string; description: string; tools: string[]; model: string | null; prompt: string }[];
}

/** Skills plugins contribute in `skills/<name>/SKILL.md`, for the plugin that offers them to agents. */
export interface CoreSkillsService {
  /** `qname` is `<plugin>:<name>`; `body` is SKILL.md without its front matter; `files` the skill's other files. */
  list(): { qname: string; plugin: string; name: string; description: string; dir: string; body: string; files: string[] }[];
  /** The text of one of the skill's files (only files inside its folder). */
  readFile(qname: string, path: string): string;
}

/** Hooks plugins contribute in `hooks/hooks.json`, for the plugin that runs agents. */
export interface CoreHooksService {
  list(): { qname: string; plugin: string; event: string; matcher: string | null; command: string; timeoutS: number; root: string }[];
}

/** Slash commands for plugins that run them on someone's behalf (cron jobs, ...). */
export interface CoreCommandsService {
  /** "/plugin:command arguments" → its parts; undefined when the line is not a slash command. */
  parse(line: string): { qname: string; arguments: string } | undefined;
  /** Every command of the active plugins, as GET /api/v1/plugins/commands lists them. */
  list(): CommandView[];
  /** Whether a command of an active plugin has this qname ("plugin:command"). */
  has(qname: string): boolean;
  /**
   * Runs it as POST /api/v1/plugins/commands/{qname}/invoke does, as `caller` (the role of whoever
   * asked: the HTTP or MCP identity, the cron job's owner, the agent run's starter); `args` are
   * data on every path (never a shell line, an option or a path out of the working folder; docs/plugins.md).
   * Throws COMMAND_NOT_FOUND (404), COMMAND_FORBIDDEN (403), COMMAND_FAILED (422), COMMAND_SHELL_REFUSED
   * or COMMAND_LINE_UNSAFE (403), COMMAND_ARGUMENT_REFUSED or COMMAND_ARGUMENTS_INVALID (400).
   */
  invoke(qname: string, args: string, caller: CommandCaller): Promise<CommandInvocation>;
}

export interface CoreServiceParts {
  services: ServiceRegistry;
  config: ConfigManager;
  loggers: LoggerRegistry;
  metrics: MetricsRegistry;
  tasks: OwnedRegistry<PeriodicTask>;
  invalidators: OwnedRegistry<() => void | Promise<void>>;
  processes: ProcessRegistry;
  commands: OwnedRegistry<RegisteredCommand>;
  agents: OwnedRegistry<RegisteredAgent>;
  mcpServers: OwnedRegistry<{ plugin: string; name: string; dir: string; config: Record<string, unknown> }>;
  skills: OwnedRegistry<RegisteredSkill>;
  hooks: OwnedRegistry<RegisteredHook>;
  paths: PathGuard;
  audit: AuditLog;
  startedAt: Date;
  /** After POST /api/v1/infra/cache-invalidate ran here: tells the other nodes of a cluster. */
  cacheInvalidated?: () => void;
  outbound: OutboundGuard;
}

/** Runs every registered cache invalidator of this process; returns their keys. */
export async function invalidateEverything(invalidators: OwnedRegistry<() => void | Promise<void>>): Promise<string[]> {
  const entries = invalidators.entries();
  await Promise.all(entries.map((entry) => entry.value()));
  return entries.map((e) => e.key);
}

/** Registers core.config, core.outbound, core.info, core.cache, core.tasks, core.metrics, core.processes, core.loggers, core.commands, core.agents, core.skills, core.hooks and core.mcp_servers. */
export function provideCoreServices(parts: CoreServiceParts): void {
  const { services, config, loggers, metrics, tasks, invalidators, processes } = parts;
  const provide = (name: string, implementation: object) => services.provide(CORE_OWNER, name, implementation);
  const configService: CoreConfigService = {
    redacted: () => redactSecrets(config.current),
    get: (key) => getDotted(redactSecrets(config.current), key),
    section: (key) => structuredClone(getDotted(config.current, key)),
    reload: () => {
      const result = config.reload();
      return { ...result, config: redactSecrets(result.config) };
    },
  };
  provide("core.config", configService);
  provide("core.outbound", { check: (url) => parts.outbound.check(url), fetch: (url, init) => parts.outbound.fetch(url, init) } satisfies CoreOutboundService);
  provide("core.info", {
    version: pkg.version,
    startedAt: parts.startedAt,
    runtime: { name: runtime.name, version: runtime.version, bun: runtime.name === "bun" ? runtime.version : "", platform: process.platform, arch: process.arch, pid: process.pid },
  } satisfies CoreInfoService);
  provide("core.cache", {
    keys: () => invalidators.entries().map((e) => e.key),
    invalidateAll: async () => {
      const keys = await invalidateEverything(invalidators);
      parts.cacheInvalidated?.();
      return keys;
    },
  } satisfies CoreCacheService);
  provide("core.tasks", { list: () => tasks.entries().map((e) => e.value), get: (name) => tasks.get(name) } satisfies CoreTasksService);
  provide("core.metrics", { reset: () => metrics.reset(), snapshot: async () => metrics.registry.getMetricsAsJSON() } satisfies CoreMetricsService);
  provide("core.audit", { record: (entry) => parts.audit.record(entry) } satisfies CoreAuditService);
  provide("core.processes", { list: () => processes.list() } satisfies CoreProcessesService);
  provide("core.loggers", loggers satisfies CoreLoggersService);
  provide("core.agents", {
    list: () => parts.agents.entries().map((e) => ({ qname: e.key, plugin: e.value.plugin, name: e.value.name, description: e.value.description, tools: e.value.tools, model: e.value.model, prompt: e.value.prompt })),
  } satisfies CoreAgentsService);
  provide("core.skills", {
    list: () => parts.skills.entries().map((e) => ({ qname: e.key, plugin: e.value.plugin, name: e.value.name, description: e.value.description, dir: e.value.dir, body: e.value.body, files: e.value.files })),
    readFile: (qname, path) => {
      const skill = parts.skills.get(qname);
      if (!skill) throw new Error(`no skill '${qname}'`);
      return readSkillFile(parts.paths, skill, path);
    },
  } satisfies CoreSkillsService);
  provide("core.hooks", {
    list: () => parts.hooks.entries().map((e) => ({ qname: e.key, plugin: e.value.plugin, event: e.value.event, matcher: e.value.matcher, command: e.value.command, timeoutS: e.value.timeoutS, root: e.value.root })),
  } satisfies CoreHooksService);
  provide("core.mcp_servers", {
    list: () => parts.mcpServers.entries().map((e) => ({ qname: e.key, ...e.value })),
  } satisfies CoreMcpServersService);
  provide("core.commands", {
    parse: parseSlashLine,
    list: () => parts.commands.entries().map((e) => viewOf(e.key, e.value)),
    has: (qname) => parts.commands.get(normalizeQname(qname)) !== undefined,
    invoke: (qname, args, caller) => invokeCommand(parts.commands, services, qname, args, caller),
  } satisfies CoreCommandsService);
}
