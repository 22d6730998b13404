/**
 * The plugin contract: what a plugin's `setup(ctx)` receives and may return. This file holds only
 * the public shape; the kernel's side of it (PluginInstance, createPluginContext) is plugin-context.ts.
 */
import type { AnyElysia } from "elysia";
import type { GantryDb } from "../storage/db.ts";
import type { TablePair } from "../storage/tables.ts";
import type { RolesApp } from "../auth/roles.ts";
import type { EventHandler, GantryEvent } from "./events.ts";
import type { FlagDefinition, FlagHandle, FlagType } from "./flags.ts";
import type { KvStore } from "./kv-store.ts";
import type { Logger } from "./logger.ts";
import type { PluginMetrics } from "./metrics.ts";
import type { PeriodicTask, PeriodicTaskFn, PeriodicTaskOptions } from "./periodic-tasks.ts";
import type { AdoptOptions, ChildProcess, SpawnOptions, SpawnedProcess } from "./processes.ts";
import type { ServiceName, Services } from "./service-contracts.ts";
import type { CommandRole } from "./plugin-files.ts";
import type { PathGuard } from "./path-guard.ts";

/**
 * Why a plugin generation is being disposed. `reload`: a new generation of the same plugin already
 * serves (what it kept lives on); `uninstall`, `disable`, `shutdown`: the plugin goes away.
 */
export type DisposeReason = "reload" | "uninstall" | "disable" | "shutdown";

/** A cleanup callback; it learns why it runs. */
export type Disposer = (reason: DisposeReason) => unknown;

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

export type RouteRegistrar = (app: RolesApp) => AnyElysia;

export interface RouteOptions {
  /** Path prefix; default `/api/v1/<plugin>`. Pass "" to serve paths a documented API fixes (e.g. `/periodic-threads`). */
  prefix?: string;
}

/** Timers and tracked promises: cleared and awaited when their owner is disposed. */
export interface BackgroundWorkApi {
  /** Keeps `promise` in the set disposal waits for (up to plugins.dispose_timeout_ms); returns it unchanged. */
  track<T>(promise: Promise<T>): Promise<T>;
  /** Like setTimeout; returns the function that cancels it. Cleared at dispose; an async callback is tracked. */
  setTimeout(fn: () => unknown, ms: number): () => void;
  /** Like setInterval; returns the function that cancels it. Cleared at dispose; each async run is tracked. */
  setInterval(fn: () => unknown, ms: number): () => void;
}

/**
 * What the `create` of `ctx.keep` receives: background work owned by the kept resource rather than
 * by one generation, so it survives a reload and stops when the resource is closed.
 */
export interface KeepScope extends BackgroundWorkApi {
  /** Aborts when the resource is closed (its last holder left). */
  readonly signal: AbortSignal;
  /** The context of the newest generation holding the resource: emit, log and services through it, not through the ctx that created it. */
  readonly ctx: PluginContext;
  /** Starts a child owned by the resource: it outlives reloads and stops when the resource closes. */
  spawn(command: string[], options?: SpawnOptions): SpawnedProcess;
  /** Registers a child a library started (by pid) as the resource's. */
  adopt(pid: number, options: AdoptOptions): ChildProcess;
}

/** `ctx.services`: typed by the `Services` interface, which plugins extend by declaration merging. */
export interface PluginServices {
  provide<K extends ServiceName>(name: K, implementation: Services[K]): void;
  /** A stable handle to another plugin's service; each use goes to the current provider (SERVICE_UNAVAILABLE when none). */
  consume<K extends ServiceName>(name: K): Services[K];
  get<K extends ServiceName>(name: K): Services[K] | undefined;
  has(name: ServiceName): boolean;
}

export interface PluginContext extends BackgroundWorkApi {
  readonly name: string;
  readonly version: string;
  /** The plugin's folder (read files relative to it). */
  readonly dir: string;
  /** A folder of the plugin's own under gantry's data dir (`<data_dir>/plugins/<name>`), created on first use. */
  readonly dataDir: string;
  /** gantry's path guard: resolve a caller's path inside a root, walk a root, read a file, refusing links out of it and gantry's data dir (docs/plugins.md, Paths). */
  readonly paths: PathGuard;
  /** The manifest's `config` merged with `[plugin.<name>]` from gantry.toml. */
  readonly config: Record<string, unknown>;
  /** A child logger named after the plugin; operators can change its level at runtime. */
  readonly log: Logger;
  /** The database, SQLite or PostgreSQL (`db.engine`): the plugin's own tables and the core tables a plugin may read (not credentials); every query awaited, `db.transaction(async (tx) => ...)`. */
  readonly db: GantryDb;
  /** The plugin's tables for the running store: `ctx.tables({ sqlite: sqliteSchema, pg: pgSchema })` (see docs/plugins.md, Tables). */
  tables<S extends Record<string, unknown>>(pair: TablePair<S>): S;
  /** Aborts when this generation is disposed (any reason); `signal.reason` is a PLUGIN_DISPOSED error naming the reason. */
  readonly signal: AbortSignal;
  /** This generation's number; a reload makes a higher one. */
  readonly generation: number;
  readonly kv: KvStore;
  readonly metrics: PluginMetrics;
  readonly services: PluginServices;
  /**
   * A live resource handed from generation to generation: `create` runs only when no generation
   * of this plugin holds `key`; `close` runs when the last holder lets go (uninstall, disable,
   * shutdown, or a reload whose new generation did not ask for `key` during its setup). The object
   * keeps the code of the generation that created it: give it a new key when its shape changes.
   */
  keep<T>(key: string, create: (scope: KeepScope) => T, close: (value: Awaited<T>, reason: DisposeReason) => unknown): T;
  routes(register: RouteRegistrar, options?: RouteOptions): void;
  command(name: string, definition: CommandDefinition): void;
  every(name: string, options: PeriodicTaskOptions, fn: PeriodicTaskFn): PeriodicTask;
  flag<K extends FlagType>(name: string, definition: FlagDefinition<K>): FlagHandle<K extends "boolean" ? boolean : K extends "number" ? number : K extends "string" ? string : unknown>;
  on(pattern: string, handler: EventHandler): () => void;
  emit<T>(type: string, data: T): GantryEvent<T>;
  /** True when an `emit(type)` now would reach a subscriber (a plugin or a `/api/v1/ws` client): skip work that only feeds it. */
  listened(type: string): boolean;
  /** Registers a function that drops a hot-path cached value; POST /api/v1/infra/cache-invalidate calls every one. */
  invalidator(key: string, invalidate: () => void | Promise<void>): void;
  /** Starts a child in a process group of its own, listed for operators and stopped (SIGTERM, then SIGKILL) with this generation. */
  spawn(command: string[], options?: SpawnOptions): SpawnedProcess;
  /** Registers a child a library started, by pid, the moment it exists: listed and stopped like a spawned one. */
  adopt(pid: number, options: AdoptOptions): ChildProcess;
  /** Runs `fn` when this generation is disposed (last registered, first run); it learns why. */
  defer(fn: Disposer): void;
  /** Disposes `resource` (close/dispose/Symbol.dispose) with this generation, and returns it. */
  use<T extends object>(resource: T): T;
}

export type PluginSetup = (ctx: PluginContext) => void | Disposer | Promise<void | Disposer>;

export interface PluginDefinition {
  name?: string;
  setup: PluginSetup;
}

/** Identity helper so plugin files get types for `ctx` without importing the interface. */
export function definePlugin(definition: PluginDefinition): PluginDefinition {
  return definition;
}
