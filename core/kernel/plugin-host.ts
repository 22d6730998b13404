/** Loads, installs, reloads and removes plugins; keeps the routing table in step with the active set. */
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { eq } from "drizzle-orm";
import { Errors, GantryError, messageOf } from "./errors.ts";
import { migratePlugin } from "../storage/db.ts";
import type { Logger } from "./logger.ts";
import { orderByDependencies, readManifest, type LoadedManifest } from "./manifest.ts";
import { createPluginContext, registerPluginFiles, type CoreParts } from "./plugin-context.ts";
import type { DisposeReason, PluginDefinition } from "./plugin-contract.ts";
import { PluginInstance, type InstallDrop, type LateCall } from "./plugin-instance.ts";
import type { KeptInfo } from "./keeps.ts";
import { runtime } from "../runtime/index.ts";
import type { UnsupportedPart } from "./claude-plugin.ts";
import { coreTables } from "../storage/tables.ts";

/** How many disposed generations are remembered for leak reports. */
const RETIRED_KEPT = 50;


/** A change carried out because another node of a cluster made it (its event says so, and is not carried out again). */
export interface ReplicaOption {
  replica?: boolean;
}

function replicaMark(options: ReplicaOption): { replica?: true } {
  return options.replica ? { replica: true } : {};
}

export type PluginStatus = "active" | "failed" | "disabled";
export type PluginSource = "builtin" | "path";

interface PluginRecord {
  name: string;
  path: string;
  source: PluginSource;
  status: PluginStatus;
  manifest?: LoadedManifest;
  instance?: PluginInstance;
  error: { code: string; message: string } | null;
}

/** What the plugins API shows about one plugin. */
export interface PluginInfo {
  name: string;
  version: string | null;
  description: string | null;
  status: PluginStatus;
  source: PluginSource;
  path: string;
  depends_on: string[];
  loaded_at: string | null;
  error: { code: string; message: string } | null;
  install_drops: InstallDrop[];
  /** Parts of a Claude Code plugin that gantry cannot honour, with the reasons. */
  unsupported: UnsupportedPart[];
}

export interface PluginHostOptions {
  builtinDir: string;
  disabled: string[];
  setupTimeoutMs: number;
  disposeTimeoutMs: number;
  log: Logger;
  /** Rebuilds and swaps the routing table for this set of instances; throws if their routes clash. Returns routes by plugin. */
  commitRoutes(instances: PluginInstance[]): Map<string, string[]>;
}

export class PluginHost {
  readonly #records = new Map<string, PluginRecord>();
  readonly #locks = new Map<string, Promise<unknown>>();
  /** Names in the order they first became active (a reload keeps its place), for ordered shutdown. */
  #activationOrder: string[] = [];
  #generation = 0;
  /** Recently disposed generations, for the late calls they make. */
  readonly #retired: PluginInstance[] = [];
  /** True while start() activates plugins: their routes are committed together at its end. */
  #deferRoutes = false;
  /** Settles when start() has set up every plugin present at startup (those that failed included). */
  readonly #started = Promise.withResolvers<void>();

  readonly #table: ReturnType<typeof coreTables>["plugins"];

  constructor(private readonly core: CoreParts, private readonly options: PluginHostOptions) {
    this.#table = coreTables(core.database.db).plugins;
  }

  /**
   * Resolves once every plugin present at startup is set up and its routes are live (at once after
   * that): work that reaches other plugins' commands or services (schedules) waits for it.
   */
  whenStarted(): Promise<void> {
    return this.#started.promise;
  }

  /** Discovers built-ins, restores plugins installed from paths, and starts them in dependency order; then publishes `plugins_started`. */
  async start(): Promise<void> {
    try {
      await this.#startAll();
    } finally {
      this.#started.resolve();
    }
    this.core.events.publish("plugins_started", { plugins: this.activeInstances().map((i) => i.plugin) });
  }

  async #startAll(): Promise<void> {
    const rows = await this.core.database.db.select().from(this.#table);
    const disabled = new Set([...this.options.disabled, ...rows.filter((r) => !r.enabled).map((r) => r.name)]);
    const candidates: { path: string; source: PluginSource }[] = [
      ...this.#builtinFolders().map((path) => ({ path, source: "builtin" as const })),
      ...rows.filter((r) => r.source === "path").map((r) => ({ path: r.path, source: "path" as const })),
    ];
    const manifests: LoadedManifest[] = [];
    for (const { path, source } of candidates) {
      try {
        const manifest = readManifest(path);
        if (this.#records.has(manifest.name)) throw Errors.PLUGIN_EXISTS([manifest.name, this.#records.get(manifest.name)!.path]);
        const enabled = !disabled.has(manifest.name);
        this.#records.set(manifest.name, { name: manifest.name, path: manifest.origin, source, manifest, status: enabled ? "failed" : "disabled", error: null });
        if (enabled) manifests.push(manifest);
      } catch (error) {
        const name = `invalid:${path}`;
        this.#records.set(name, { name, path, source, status: "failed", error: errorInfo(error) });
        this.options.log.error({ path, err: messageOf(error) }, "plugin manifest rejected");
      }
    }
    const { order, failed } = orderByDependencies(manifests);
    for (const [name, error] of failed) this.#fail(name, error);
    this.#deferRoutes = true;
    try {
      for (const manifest of order as LoadedManifest[]) {
        const brokenDep = manifest.dependsOn.find((d) => this.#records.get(d)?.status !== "active");
        if (brokenDep) {
          this.#fail(manifest.name, Errors.PLUGIN_DEPENDENCY_MISSING([manifest.name, [brokenDep]]));
          continue;
        }
        try {
          await this.#activate(manifest);
        } catch (error) {
          this.#fail(manifest.name, error);
        }
      }
    } finally {
      this.#deferRoutes = false;
    }
    await this.#commitStartRoutes();
  }

  /**
   * At start the routes of every plugin go live in one build of the routing table (a build per
   * plugin cost ~8 ms each). When that build fails, plugin by plugin, so that only the plugins at
   * fault (and their dependents) fail, as they would have one at a time.
   */
  async #commitStartRoutes(): Promise<void> {
    const active = this.activeInstances();
    try {
      this.#recordRoutes(this.options.commitRoutes(active), active);
      return;
    } catch {
      // find the plugins at fault below
    }
    const kept: PluginInstance[] = [];
    for (const instance of active) {
      const missing = instance.manifest.dependsOn.filter((d) => !kept.some((k) => k.plugin === d));
      try {
        if (missing.length > 0) throw Errors.PLUGIN_DEPENDENCY_MISSING([instance.plugin, missing]);
        this.options.commitRoutes([...kept, instance]);
        kept.push(instance);
      } catch (error) {
        const record = this.#records.get(instance.plugin)!;
        record.instance = undefined;
        this.#activationOrder = this.#activationOrder.filter((n) => n !== instance.plugin);
        instance.state = "retiring";
        this.#logDisposal(instance.plugin, await this.#dispose(instance, "disable"));
        this.#fail(instance.plugin, setupFailure(instance.plugin, error));
      }
    }
    this.#recordRoutes(this.options.commitRoutes(kept), kept);
  }

  #recordRoutes(routes: Map<string, string[]>, instances: PluginInstance[]): void {
    for (const instance of instances) for (const route of routes.get(instance.plugin) ?? []) instance.record("route", route);
  }

  /** Installs the plugin in `path` (referenced in place, not copied) and remembers it across restarts. */
  async install(path: string, options: ReplicaOption = {}): Promise<PluginInfo> {
    const manifest = readManifest(path);
    return this.#serialize(manifest.name, async () => {
      const existing = this.#records.get(manifest.name);
      if (existing) throw Errors.PLUGIN_EXISTS([manifest.name, existing.path]);
      const missing = manifest.dependsOn.filter((d) => this.#records.get(d)?.status !== "active");
      if (missing.length > 0) throw Errors.PLUGIN_DEPENDENCY_MISSING([manifest.name, missing]);
      await this.#activate(manifest);
      await this.core.database.db.insert(this.#table).values({ name: manifest.name, path: manifest.origin, source: "path", enabled: true })
        .onConflictDoUpdate({ target: this.#table.name, set: { path: manifest.origin, source: "path", enabled: true } });
      this.#records.get(manifest.name)!.source = "path";
      const unsupported = this.#records.get(manifest.name)!.instance?.unsupported ?? [];
      if (unsupported.length > 0) this.options.log.warn({ plugin: manifest.name, unsupported }, "plugin installed; some of its parts do nothing in gantry");
      this.core.events.publish("plugin_installed", { name: manifest.name, version: manifest.version, ...replicaMark(options) });
      return this.info(manifest.name);
    });
  }

  /** Re-imports the plugin's whole module graph and swaps it in atomically; on failure the old version keeps serving. */
  reload(name: string, options: ReplicaOption = {}): Promise<PluginInfo> {
    return this.#serialize(name, async () => {
      const record = this.#require(name);
      if (record.status === "disabled") throw Errors.PLUGIN_DISABLED([name]);
      const previousVersion = record.manifest?.version ?? null;
      try {
        const manifest = readManifest(record.path);
        if (manifest.name !== name) throw Errors.BAD_REQUEST([`plugin.json now names '${manifest.name}'; a reload cannot rename a plugin`]);
        await this.#activate(manifest, record.instance);
      } catch (error) {
        if (record.instance) throw Errors.PLUGIN_RELOAD_FAILED([name, messageOf(error)], { cause: error, details: { cause_code: codeOf(error) } });
        this.#fail(name, error);
        throw error;
      }
      const info = this.info(name);
      this.core.events.publish("plugin_reloaded", { name, previous_version: previousVersion, version: info.version, ...replicaMark(options) });
      return info;
    });
  }

  /** Removes the plugin and everything it registered. A built-in plugin is disabled instead (its folder stays). */
  uninstall(name: string, options: { force?: boolean } & ReplicaOption = {}): Promise<void> {
    return this.#serialize(name, async () => {
      const record = this.#require(name);
      this.#assertNoDependents(name, options.force);
      await this.#deactivate(record, "uninstall");
      if (record.source === "builtin") {
        await this.#persistEnabled(record, false);
        record.status = "disabled";
      } else {
        await this.core.database.db.delete(this.#table).where(eq(this.#table.name, name));
        this.#records.delete(name);
      }
      this.core.loggers.remove(`plugin:${name}`);
      this.core.events.publish("plugin_uninstalled", { name, ...replicaMark(options) });
    });
  }

  /** Turns a plugin off (keeping it installed) or back on; the state survives restarts. */
  setEnabled(name: string, enabled: boolean, options: { force?: boolean } & ReplicaOption = {}): Promise<PluginInfo> {
    return this.#serialize(name, async () => {
      const record = this.#require(name);
      if (!enabled) {
        this.#assertNoDependents(name, options.force);
        await this.#deactivate(record, "disable");
        record.status = "disabled";
        record.error = null;
      } else if (record.status !== "active") {
        const manifest = readManifest(record.path);
        const missing = manifest.dependsOn.filter((d) => this.#records.get(d)?.status !== "active");
        if (missing.length > 0) throw Errors.PLUGIN_DEPENDENCY_MISSING([name, missing]);
        try {
          await this.#activate(manifest);
        } catch (error) {
          this.#fail(name, error);
          throw error;
        }
      }
      await this.#persistEnabled(record, enabled);
      this.core.events.publish(enabled ? "plugin_enabled" : "plugin_disabled", { name, ...replicaMark(options) });
      return this.info(name);
    });
  }

  list(): PluginInfo[] {
    return [...this.#records.keys()].sort().map((name) => this.info(name));
  }

  info(name: string): PluginInfo {
    const r = this.#require(name);
    return {
      name: r.name,
      version: r.manifest?.version ?? null,
      description: r.manifest?.description ?? null,
      status: r.status,
      source: r.source,
      path: r.path,
      depends_on: r.manifest?.dependsOn ?? [],
      loaded_at: r.instance?.loadedAt.toISOString() ?? null,
      error: r.error,
      install_drops: r.instance ? [...r.instance.drops] : [],
      unsupported: r.instance?.unsupported ?? r.manifest?.claude?.unsupported ?? [],
    };
  }

  /** Instances that serve now, in activation order. */
  /** Builds the routing table again for the same plugins: a setting that shapes the compiled routes (rate limiting on or off) changed. */
  rebuildRoutes(): void {
    this.options.commitRoutes(this.activeInstances());
  }

  activeInstances(): PluginInstance[] {
    return this.#activationOrder.flatMap((name) => {
      const instance = this.#records.get(name)?.instance;
      return instance?.active ? [instance] : [];
    });
  }

  /** Disposes every plugin, dependents before their dependencies (reverse activation order). */
  async stop(): Promise<void> {
    for (const instance of this.activeInstances().reverse()) {
      instance.state = "retiring";
      this.#logDisposal(instance.plugin, await this.#dispose(instance, "shutdown"));
      this.options.log.info({ plugin: instance.plugin }, "plugin stopped");
    }
  }

  async #activate(manifest: LoadedManifest, previous?: PluginInstance): Promise<void> {
    const instance = new PluginInstance(manifest, ++this.#generation, this.options.log);
    try {
      // Before any of the plugin's code runs: a plugin without tables for this dialect is refused here.
      if (await migratePlugin(this.core.database, manifest.name, manifest.dir)) instance.record("migration", `drizzle/${this.core.database.dialect}`);
      const definition = await importPlugin(manifest);
      const ctx = createPluginContext(instance, this.core);
      registerPluginFiles(instance, this.core, ctx.spawn);
      const setup = Promise.resolve().then(() => definition.setup(ctx));
      const dispose = await withTimeout(setup, this.options.setupTimeoutMs, () => {
        this.#releaseLateSetup(manifest.name, setup);
        return Errors.PLUGIN_SETUP_TIMEOUT([manifest.name, this.options.setupTimeoutMs]);
      });
      if (typeof dispose === "function") instance.disposer.defer(dispose, "setup's dispose");
      this.#swapIn(instance, previous);
    } catch (error) {
      // What this generation kept is shared with the serving one (it stays) or was created for it (closed).
      this.#logDisposal(manifest.name, await this.#dispose(instance, previous ? "reload" : "disable"));
      throw setupFailure(manifest.name, error);
    }
    const record = this.#records.get(manifest.name);
    const source = record?.source ?? "path";
    this.#records.set(manifest.name, { name: manifest.name, path: manifest.origin, source, status: "active", manifest, instance, error: null });
    instance.activate();
    if (previous) this.#logDisposal(manifest.name, await this.#dispose(previous, "reload"));
    this.options.log.info({ plugin: manifest.name, version: manifest.version, generation: instance.generation }, previous ? "plugin reloaded" : "plugin active");
  }

  /**
   * A setup that timed out may still finish: its context is closed by then (the instance is disposed
   * and its signal aborted), and the dispose function it returns is run at once, so what it started
   * late (timers, sockets, children) is released instead of living on unreferenced.
   */
  #releaseLateSetup(plugin: string, setup: Promise<unknown>): void {
    setup.then(async (dispose) => {
      if (typeof dispose !== "function") return;
      this.options.log.warn({ plugin }, "plugin setup finished after its timeout; running its dispose");
      await dispose("uninstall");
    }).catch((error) => this.options.log.warn({ plugin, err: messageOf(error) }, "late plugin setup failed"));
  }

  /** Flips the new instance in and the old out, and swaps routes, in one synchronous step. */
  #swapIn(instance: PluginInstance, previous?: PluginInstance): void {
    const serving = this.activeInstances();
    const next = previous ? serving.map((i) => (i === previous ? instance : i)) : [...serving, instance];
    if (!this.#activationOrder.includes(instance.plugin)) this.#activationOrder.push(instance.plugin);
    if (previous) previous.state = "retiring";
    instance.state = "active";
    if (this.#deferRoutes) return; // start() commits every plugin's routes at once
    try {
      this.#recordRoutes(this.options.commitRoutes(next), [instance]);
    } catch (error) {
      instance.state = "staging";
      if (previous) previous.state = "active";
      else this.#activationOrder = this.#activationOrder.filter((n) => n !== instance.plugin);
      throw error;
    }
  }

  async #deactivate(record: PluginRecord, reason: DisposeReason): Promise<void> {
    const instance = record.instance;
    record.instance = undefined;
    this.#activationOrder = this.#activationOrder.filter((n) => n !== record.name);
    if (!instance) return;
    instance.state = "retiring";
    this.options.commitRoutes(this.activeInstances());
    this.#logDisposal(record.name, await this.#dispose(instance, reason));
  }

  /** Disposes a generation and remembers it while it is recent, so calls it makes after disposal are reported. */
  async #dispose(instance: PluginInstance, reason: DisposeReason) {
    const report = await instance.dispose(this.options.disposeTimeoutMs, reason);
    this.#retired.push(instance);
    if (this.#retired.length > RETIRED_KEPT) this.#retired.shift();
    return report;
  }

  /**
   * What the kernel sees escaping plugin ownership: calls that disposed generations made to their
   * context (a raw timer or promise outlived them), child processes of gantry that no plugin
   * registered (spawned around ctx.spawn), and the kept resources with what they still run.
   */
  leaks(): { late_calls: LateCall[]; unowned_processes: { pid: number; command: string[] }[]; kept: KeptInfo[] } {
    return {
      late_calls: this.#retired.flatMap((instance) => [...instance.lateCalls.values()]),
      unowned_processes: this.core.processes.unowned(),
      kept: this.core.keeps.list(),
    };
  }

  #assertNoDependents(name: string, force = false): void {
    const dependents = [...this.#records.values()].filter((r) => r.status === "active" && r.manifest?.dependsOn.includes(name)).map((r) => r.name);
    if (dependents.length > 0 && !force) throw Errors.PLUGIN_HAS_DEPENDENTS([name, dependents]);
  }

  async #persistEnabled(record: PluginRecord, enabled: boolean): Promise<void> {
    await this.core.database.db.insert(this.#table).values({ name: record.name, path: record.path, source: record.source, enabled })
      .onConflictDoUpdate({ target: this.#table.name, set: { enabled } });
  }

  #fail(name: string, error: unknown): void {
    const record = this.#records.get(name);
    if (!record) return;
    record.status = "failed";
    record.error = errorInfo(error);
    this.options.log.error({ plugin: name, err: messageOf(error) }, "plugin failed");
  }

  #require(name: string): PluginRecord {
    const record = this.#records.get(name);
    if (!record) throw Errors.PLUGIN_NOT_FOUND([name]);
    return record;
  }

  #builtinFolders(): string[] {
    const dir = resolve(this.options.builtinDir);
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, "plugin.json")))
      .map((e) => join(dir, e.name))
      .sort();
  }

  #logDisposal(plugin: string, report: { errors: { label: string; error: unknown }[]; timedOut: string[] }): void {
    for (const { label, error } of report.errors) this.options.log.warn({ plugin, step: label, err: messageOf(error) }, "plugin dispose step failed");
    if (report.timedOut.length > 0) this.options.log.warn({ plugin, steps: report.timedOut }, "plugin dispose steps timed out");
  }

  /** Runs operations on one plugin one at a time. */
  #serialize<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(name) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(fn);
    this.#locks.set(name, next);
    next.finally(() => this.#locks.get(name) === next && this.#locks.delete(name)).catch(() => undefined);
    return next;
  }
}

/** Imports the plugin's entry after dropping every cached module under its folder, so the whole graph is re-evaluated. */
async function importPlugin(manifest: LoadedManifest): Promise<PluginDefinition> {
  if (manifest.entry === null) return { setup() {} }; // code-free: its folder's commands, agents and MCP servers are all it has
  runtime.mapPluginImports(manifest.dir);
  const mod = (await runtime.importFresh(manifest.dir, manifest.entry)) as { default?: PluginDefinition };
  const definition = mod.default;
  if (!definition || typeof definition.setup !== "function") throw Errors.PLUGIN_ENTRY_INVALID([manifest.main]);
  if (definition.name && definition.name !== manifest.name) throw Errors.BAD_REQUEST([`definePlugin names '${definition.name}' but plugin.json names '${manifest.name}'`]);
  return definition;
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(onTimeout()), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Why a plugin did not come up: a 422 error as it is (it names the problem), anything else wrapped as PLUGIN_SETUP_FAILED. */
function setupFailure(plugin: string, error: unknown): GantryError {
  return error instanceof GantryError && error.status === 422 ? error : Errors.PLUGIN_SETUP_FAILED([plugin, messageOf(error)], { cause: error, details: { cause_code: codeOf(error) } });
}

function codeOf(error: unknown): string {
  return error instanceof GantryError ? error.code : "PLUGIN_ERROR";
}

function errorInfo(error: unknown): { code: string; message: string } {
  return { code: codeOf(error), message: messageOf(error) };
}
