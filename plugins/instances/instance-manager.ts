/** Instance definitions in the database plus one supervisor each; the API and the proxy go through here. */
import { eq, isNull, ne } from "drizzle-orm";
import { createError, defineErrors, GantryError, pickTables, redactSecrets, redactText, type CoreSecretsService, type PluginContext } from "gantry/plugin";
import type { Backend, InstanceDefinition } from "./backends.ts";
import * as pgTables from "./schema-pg.ts";
import * as sqliteTables from "./schema.ts";
import type { instances } from "./schema.ts";
import { usageByProcessGroup, type GroupUsage } from "./process-stats.ts";
import type { Fleet } from "./fleet.ts";
import { ModelNames } from "./model-names.ts";
import { InstanceSupervisor, type InstanceStatus, type SupervisorSettings } from "./supervisor.ts";
import { parseMemoryMib } from "./devices.ts";
import { placeOf, type PlacementSettings } from "./placement.ts";
import { ServerTimingMetrics } from "./server-timings.ts";

export const InstanceErrors = defineErrors("instances", {
  INSTANCE_NOT_FOUND: createError("INSTANCE_NOT_FOUND", 404, (name: string) => `Instance '${name}' does not exist`),
  INSTANCE_EXISTS: createError("INSTANCE_EXISTS", 409, (name: string) => `Instance '${name}' already exists`),
  INSTANCE_EXISTS_ON_NODE: createError("INSTANCE_EXISTS_ON_NODE", 409, (name: string, node: string) => `Instance '${name}' already exists on cluster node '${node}'`),
  INSTANCE_RUNNING: createError("INSTANCE_RUNNING", 409, (name: string, what: string) => `Instance '${name}' is running; stop it before you ${what}`),
  PORT_IN_USE: createError("PORT_IN_USE", 409, (port: number, owner: string) => `Port ${port} is already used by instance '${owner}'`),
  NO_FREE_PORT: createError("NO_FREE_PORT", 409, (from: number, to: number) => `No free port left in plugin.instances.port_range [${from}, ${to}]`),
  COMMAND_REQUIRED: createError("COMMAND_REQUIRED", 400, () => "The command backend needs `command`: an argv array; {port} and {model_path} are substituted"),
  MEMORY_INVALID: createError("MEMORY_INVALID", 400, (value: string) => `memory '${value}' is not a size: write "8GiB", "512MiB" or a number of MiB`),
  UNLOAD_BUSY: createError("UNLOAD_BUSY", 409, (name: string, inFlight: number, seconds: number) => `Instance '${name}' still has ${inFlight} requests in flight after ${seconds} s; stop it with force to cut them off`),
  MODEL_ID_TAKEN: createError("MODEL_ID_TAKEN", 409, (id: string, owner: string) => `The model id '${id}' already reaches instance '${owner}'; pick another name or alias`),
  START_FAILED: createError("START_FAILED", 422, (name: string, why: string) => `Instance '${name}' did not start: ${why}`),
  INSTANCE_DECLARED: createError("INSTANCE_DECLARED", 409, (name: string, what: string) => `Instance '${name}' is declared in gantry.toml ([models.${name}]); ${what} there and reload the configuration (POST /api/v1/infra/config/reload)`),
});

export interface CreateInput {
  name: string;
  backend?: Backend;
  model_path: string;
  port?: number;
  options?: Record<string, unknown>;
  env?: Record<string, string>;
  command?: string[];
  on_demand_start?: boolean;
  idle_timeout?: number;
  restart?: "always" | "on-failure" | "never";
  aliases?: string[];
  unlisted?: boolean;
  device?: string | null;
  /** "8GiB", "512MiB" or MiB; null = estimated from the model file. */
  memory?: string | number | null;
  pinned?: boolean;
  group?: string | null;
  parallel?: number;
  max_queue?: number;
}

type Row = typeof instances.$inferSelect;

/**
 * What an instance's view takes from its stored row alone; the live parts come from its supervisor.
 * Secrets are hidden by name and by value: a model_path may be a URL with a password or a token.
 */
export function storedView(row: Row) {
  return {
    name: row.name, backend: row.backend, model_path: redactText(row.modelPath), port: row.port,
    options: redactSecrets(row.options), env: Object.fromEntries(Object.keys(row.env).map((k) => [k, "[set]"])), command: redactSecrets(row.command),
    on_demand_start: row.onDemandStart, idle_timeout: row.idleTimeout, restart: row.restart,
    aliases: row.aliases, unlisted: row.unlisted,
    device: row.device, memory_mib: row.memoryMib, pinned: row.pinned, group: row.group, parallel: row.parallel, max_queue: row.maxQueue,
    origin: row.origin, declaration: row.declaration ? redactSecrets(row.declaration) : null, desired_state: row.desiredState, node: row.node,
    created_at: row.createdAt.toISOString(), updated_at: row.updatedAt.toISOString(),
  };
}

/** Who changes an instance: a client of the API, or the reconciler applying gantry.toml's [models]. */
export interface ChangeOrigin {
  origin: "api" | "declared";
  /** The normalized declaration being applied (origin `declared` only). */
  declaration?: Record<string, unknown>;
}

const API: ChangeOrigin = { origin: "api" };

/**
 * One plugin generation's view of the kept fleet: the API and the proxy go through here. Instances
 * belong to the gantry process that supervises them, so their definitions are read once (`load()`)
 * and kept in memory beside the supervisors; every change is written through.
 */
export class InstanceManager {
  readonly #supervisors: Map<string, InstanceSupervisor>;
  /** env values are sealed in the database (the row) and open only in the supervisor's definition. */
  readonly #secrets: CoreSecretsService;
  readonly #names = new ModelNames<InstanceSupervisor>();
  readonly #rows = new Map<string, Row>();
  readonly #table: typeof instances;
  /** Wakes the health watch, now or at `at` (ms): an instance started running, or a keep_alive moved its idle deadline. */
  wakeWatch: (at?: number) => void = () => {};
  /** Cluster mode: this node's id; its instances are the rows with that `node` (null on a single node: every row). */
  readonly #node: string | null;
  /** Declared fields a running instance does not have yet (set by the reconciler; applied when it stops). */
  readonly #drift = new Map<string, string[]>();
  readonly #settledListeners: ((name: string) => void)[] = [];

  constructor(
    private readonly ctx: PluginContext,
    private readonly fleet: Fleet,
    private readonly settings: () => SupervisorSettings & { portRange: [number, number] },
    readonly placement: () => PlacementSettings,
  ) {
    this.#supervisors = fleet.supervisors;
    this.#table = pickTables(ctx.db, { sqlite: sqliteTables, pg: pgTables }).instances;
    this.#secrets = ctx.services.consume("core.secrets");
    const cluster = ctx.services.consume("core.cluster");
    this.#node = cluster.enabled ? cluster.nodeId : null;
    const timings = new ServerTimingMetrics(ctx.metrics);
    fleet.attach(ctx.generation, {
      settings,
      spawn: (command, options) => fleet.scope.spawn(command, options),
      setTimeout: (fn, ms) => fleet.scope.setTimeout(fn, ms),
      onStatus: (name, status, previous) => {
        if (status === "running") this.wakeWatch();
        this.#logStatus(name, status, previous);
        ctx.emit("instance_status_changed", { name, status, previous });
        this.#alert(name, status, previous);
        this.#recordDesired(name, status);
        if (status === "stopped" || status === "failed") for (const listener of this.#settledListeners) listener(name);
      },
      onTimings: (name, timing) => timings.observe(name, timing),
      onPid: (name, pid) => {
        const row = this.#rows.get(name);
        if (row) row.lastPid = pid;
        void ctx.db.update(this.#table).set({ lastPid: pid }).where(eq(this.#table.name, name))
          .catch((error) => ctx.log.warn({ instance: name, err: (error as Error).message }, "last pid not recorded"));
      },
    });
    // After a reload the newer generation answers; when the plugin goes away this one stays attached
    // while the fleet (released after this) stops the servers and reports their status.
    ctx.defer((reason) => reason === "reload" && fleet.detach(ctx.generation));
  }

  /** Reads the definitions; supervises those the fleet does not have yet. */
  async load(): Promise<void> {
    // Servers a killed gantry left behind are reaped before this (index.ts, at a cold start only).
    // Turning cluster mode on: instances defined before belong to the first node that starts.
    if (this.#node !== null) await this.ctx.db.update(this.#table).set({ node: this.#node }).where(isNull(this.#table.node));
    for (const row of await this.ctx.db.select().from(this.#table)) {
      if (this.#node !== null && row.node !== this.#node) continue; // another node's (see node-forwarding.ts)
      if (Object.values(row.env).some((v) => this.#secrets.needsReseal(v))) {
        row.env = this.#secrets.sealMap(this.#secrets.openMap(row.env)); // plain (older gantry) or under a previous key
        await this.ctx.db.update(this.#table).set({ env: row.env }).where(eq(this.#table.name, row.name));
      }
      this.#rows.set(row.name, row);
      if (this.#supervisors.has(row.name)) continue;
      this.#supervise(row);
    }
    this.#names.rebuild(this.#supervisors.values()); // the kept ones too: this generation's view of names
  }

  /** Every instance; `stats: false` leaves stats at zero and skips the /proc scan (model listings poll this). */
  list(options: { stats?: boolean } = {}) {
    const rows = [...this.#rows.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const usage = options.stats === false ? new Map<number, GroupUsage>() : this.#usage(rows);
    return rows.map((row) => this.view(row, usage));
  }

  get(name: string) {
    const row = this.#row(name);
    return this.view(row, this.#usage([row]));
  }

  /** The supervisor of `name` from memory, for the proxy's hot path (no database read). */
  lookup(name: string): InstanceSupervisor | undefined {
    return this.#supervisors.get(name);
  }

  /** The supervisor a client's model id (name or alias) means, from memory. */
  resolve(model: string): InstanceSupervisor | undefined {
    return this.#names.resolve(model);
  }

  /** Every supervisor, from memory (model lists, metrics). */
  supervisors(): InstanceSupervisor[] {
    return [...this.#supervisors.values()];
  }

  supervisor(name: string): InstanceSupervisor {
    this.#row(name);
    return this.#supervisors.get(name)!;
  }

  async create(input: CreateInput, by: ChangeOrigin = API) {
    if (this.#rows.has(input.name)) throw InstanceErrors.INSTANCE_EXISTS([input.name]);
    const backend = input.backend ?? "llama_cpp";
    if (backend === "command" && !input.command?.length) throw InstanceErrors.COMMAND_REQUIRED([]);
    this.#assertIdsFree([input.name, ...(input.aliases ?? [])], input.name);
    const elsewhere = await this.#otherNodesInstances();
    const taken = elsewhere.find((r) => r.name === input.name);
    if (taken) throw InstanceErrors.INSTANCE_EXISTS_ON_NODE([input.name, taken.node ?? "?"]);
    const port = input.port ?? this.#freePort(elsewhere);
    this.#assertPortFree(port, input.name, elsewhere);
    const now = new Date();
    const row: Row = {
      name: input.name, backend, modelPath: input.model_path, port, options: input.options ?? {}, env: this.#secrets.sealMap(input.env ?? {}),
      command: input.command ?? null, onDemandStart: input.on_demand_start ?? false, idleTimeout: input.idle_timeout ?? 0,
      restart: input.restart ?? "on-failure", aliases: input.aliases ?? [], unlisted: input.unlisted ?? false, lastPid: null, node: this.#node, createdAt: now, updatedAt: now,
      device: input.device ?? null, memoryMib: memoryOf(input.memory), pinned: input.pinned ?? false, group: input.group ?? null, parallel: input.parallel ?? 0, maxQueue: input.max_queue ?? 0,
      origin: by.origin, declaration: by.declaration ?? null, desiredState: "stopped",
    };
    await this.ctx.db.insert(this.#table).values(row);
    this.#rows.set(row.name, row);
    this.#supervise(row);
    return this.view(row, new Map());
  }

  async update(name: string, input: Partial<Omit<CreateInput, "name" | "command">> & { command?: string[] | null }, by: ChangeOrigin = API) {
    const row = this.#row(name);
    if (row.origin === "declared" && by.origin === "api") throw InstanceErrors.INSTANCE_DECLARED([name, "change it"]);
    if (this.#supervisors.get(name)!.status === "running") throw InstanceErrors.INSTANCE_RUNNING([name, "change it"]);
    if (input.port !== undefined) this.#assertPortFree(input.port, name, await this.#otherNodesInstances());
    if (input.aliases !== undefined) this.#assertIdsFree(input.aliases, name);
    const change: Partial<Row> = { updatedAt: new Date() };
    if (input.backend !== undefined) change.backend = input.backend;
    if (input.model_path !== undefined) change.modelPath = input.model_path;
    if (input.port !== undefined) change.port = input.port;
    if (input.options !== undefined) change.options = input.options;
    if (input.env !== undefined) change.env = this.#secrets.sealMap(input.env);
    if (input.command !== undefined) change.command = input.command;
    if (input.on_demand_start !== undefined) change.onDemandStart = input.on_demand_start;
    if (input.idle_timeout !== undefined) change.idleTimeout = input.idle_timeout;
    if (input.restart !== undefined) change.restart = input.restart;
    if (input.aliases !== undefined) change.aliases = input.aliases;
    if (input.unlisted !== undefined) change.unlisted = input.unlisted;
    if (input.device !== undefined) change.device = input.device;
    if (input.memory !== undefined) change.memoryMib = memoryOf(input.memory);
    if (input.pinned !== undefined) change.pinned = input.pinned;
    if (input.group !== undefined) change.group = input.group;
    if (input.parallel !== undefined) change.parallel = input.parallel;
    if (input.max_queue !== undefined) change.maxQueue = input.max_queue;
    if (by.origin === "declared") Object.assign(change, { origin: "declared", declaration: by.declaration ?? null });
    await this.ctx.db.update(this.#table).set(change).where(eq(this.#table.name, name));
    this.#rows.set(name, { ...row, ...change });
    const supervisor = this.#supervisors.get(name)!;
    supervisor.definition = this.#definitionOf({ ...row, ...change });
    supervisor.estimatedMib = undefined;
    this.#names.rebuild(this.#supervisors.values());
    this.#drift.delete(name);
    return this.get(name);
  }

  async delete(name: string, by: ChangeOrigin = API): Promise<void> {
    if (this.#row(name).origin === "declared" && by.origin === "api") throw InstanceErrors.INSTANCE_DECLARED([name, "remove it"]);
    const supervisor = this.#supervisors.get(name)!;
    if (["running", "starting", "stopping"].includes(supervisor.status)) throw InstanceErrors.INSTANCE_RUNNING([name, "delete it"]);
    await this.ctx.db.delete(this.#table).where(eq(this.#table.name, name));
    this.#rows.delete(name);
    this.#supervisors.delete(name);
    this.#drift.delete(name);
    this.#names.rebuild(this.#supervisors.values());
    supervisor.logs.close();
  }

  /** What the reconciler compares a declaration with: origin, the stored declaration, env opened, status. */
  declaredState(name: string) {
    const row = this.#rows.get(name);
    if (!row) return undefined;
    return { origin: row.origin, declaration: row.declaration, env: this.#secrets.openMap(row.env), status: this.#supervisors.get(name)!.status };
  }

  /** Records which declared fields a running instance lacks (empty: in step). */
  setDrift(name: string, fields: string[]): void {
    if (fields.length > 0) this.#drift.set(name, fields);
    else this.#drift.delete(name);
  }

  hasDrift(name: string): boolean {
    return this.#drift.has(name);
  }

  /** Runs `listener(name)` whenever an instance reaches `stopped` or `failed`. */
  onSettled(listener: (name: string) => void): void {
    this.#settledListeners.push(listener);
  }

  /** Names of instances that were to be running when gantry last stopped (restore at start). */
  desiredRunning(): string[] {
    return [...this.#rows.values()].filter((r) => r.desiredState === "running").map((r) => r.name).sort();
  }


  /**
   * Starts an instance after making room (placement.ts: device memory, groups, max_running; the
   * least recently used idle instances are stopped first); a refusal is 409 NO_ROOM.
   */
  async start(name: string) {
    const supervisor = this.supervisor(name);
    try {
      await this.fleet.placement.start(supervisor, this.placement(), (fields, message) => this.ctx.log.info(fields, message));
    } catch (error) {
      if (error instanceof GantryError) throw error;
      throw InstanceErrors.START_FAILED([name, (error as Error).message]);
    }
    return this.get(name);
  }

  /** Loads (starts with placement) and sets how long it stays loaded: Ollama's keep_alive in ms (null: idle_timeout). */
  async loadModel(name: string, keepAliveMs: number | null) {
    await this.start(name);
    this.keepAlive(this.supervisor(name), keepAliveMs);
    return this.get(name);
  }

  /** Stops an instance once its requests are done (waiting up to eviction_wait_s), then stops it; 409 UNLOAD_BUSY when they are not. */
  async unload(name: string) {
    const supervisor = this.supervisor(name);
    const waitMs = this.placement().evictionWaitMs;
    supervisor.gate.draining = true;
    try {
      if (!(await supervisor.gate.whenIdle(waitMs))) throw InstanceErrors.UNLOAD_BUSY([name, supervisor.gate.inFlight, Math.round(waitMs / 1000)]);
      await supervisor.stop();
    } finally {
      supervisor.gate.endDrain();
    }
    supervisor.keepAliveMs = null;
    return this.get(name);
  }

  async stop(name: string, options: { force?: boolean; timeout?: number } = {}) {
    await this.supervisor(name).stop(options);
    return this.get(name);
  }

  /**
   * The periodic health check of the running instances that are due (from memory: no database read
   * per tick): one whose last probe passed is probed `healthyMs` after it, any other `failingMs` after.
   * Returns how many run and when the next probe is due (ms; null when none runs).
   */
  async watchRunning(healthyMs = 0, failingMs = 0, now = Date.now()): Promise<{ running: number; nextCheckAt: number | null }> {
    const running = [...this.#supervisors.values()].filter((s) => s.status === "running");
    const dueAt = (s: InstanceSupervisor) => Date.parse(s.health.last_check ?? "") + (s.health.status === "healthy" ? healthyMs : failingMs);
    await Promise.all(running.filter((s) => !(dueAt(s) > now)).map((s) => s.watch()));
    const next = Math.min(...running.filter((s) => s.status === "running").map(dueAt).filter((at) => !Number.isNaN(at)));
    return { running: running.length, nextCheckAt: running.length === 0 ? null : Number.isFinite(next) ? next : now + failingMs };
  }

  /** Sets how long `supervisor` stays loaded after its last request (ms; null: idle_timeout) and wakes the health watch for that deadline. */
  keepAlive(supervisor: InstanceSupervisor, keepAliveMs: number | null): void {
    supervisor.keepAliveMs = keepAliveMs;
    if (keepAliveMs !== null && Number.isFinite(keepAliveMs)) this.wakeWatch(Math.max(supervisor.lastUsedAt, Date.now()) + keepAliveMs);
  }

  /** When the first running instance would be stopped as idle (its keep_alive or idle_timeout) if no request came (ms); null for none. */
  nextIdleAt(): number | null {
    const at = Math.min(...[...this.#supervisors.values()]
      .filter((s) => s.status === "running")
      .map((s) => Math.max(s.lastUsedAt, s.startedAt?.getTime() ?? 0) + (s.keepAliveMs ?? (s.definition.idleTimeout > 0 ? s.definition.idleTimeout * 1000 : Infinity))));
    return Number.isFinite(at) ? at : null;
  }

  /**
   * Stops running instances that have had no request for their idle_timeout, or for the keep_alive
   * their last request set; never a busy, pinned or default one. Returns their names.
   */
  async stopIdle(now = Date.now()): Promise<string[]> {
    const defaultModel = this.placement().defaultModel;
    const idle = [...this.#supervisors.values()].filter((s) => {
      if (s.status !== "running" || s.gate.busy || s.definition.pinned || s.definition.name === defaultModel) return false;
      const keepMs = s.keepAliveMs ?? (s.definition.idleTimeout > 0 ? s.definition.idleTimeout * 1000 : Infinity);
      return keepMs !== Infinity && now - Math.max(s.lastUsedAt, s.startedAt?.getTime() ?? 0) >= keepMs;
    });
    for (const s of idle) {
      // Drained while it stops: a request arriving now waits and starts it again rather than meeting a stopping server.
      s.gate.draining = true;
      try {
        await s.stop();
      } finally {
        s.gate.endDrain();
      }
    }
    return idle.map((s) => s.definition.name);
  }

  /** Each device's budget, what its instances take and who they are (GET /api/v1/system/devices). */
  devices() {
    const settings = this.placement();
    const residents = new Map<string, ReturnType<typeof residentView>[]>();
    for (const s of this.#supervisors.values()) {
      const place = placeOf(s, settings.devices);
      if (!place) continue;
      const list = residents.get(place.device) ?? [];
      list.push(residentView(s, place, s.definition.pinned || s.definition.name === settings.defaultModel, this.fleet.placement.groupOf(s, settings.groups)));
      residents.set(place.device, list);
    }
    return [...settings.devices.values()].map((d) => {
      const list = (residents.get(d.name) ?? []).sort((a, b) => a.name.localeCompare(b.name));
      const used = list.filter((r) => r.status !== "stopped" && r.status !== "failed").reduce((sum, r) => sum + r.memory_mib, 0);
      return {
        name: d.name, source: d.source, product: d.product, memory_total_mib: d.totalMib, memory_used_mib: used, memory_free_mib: Math.max(0, d.totalMib - used),
        reported_used_mib: d.reportedUsedMib, residents: list,
      };
    });
  }



  async startAll(): Promise<{ started: string[]; failed: Record<string, string> }> {
    const failed: Record<string, string> = {};
    const started: string[] = [];
    for (const { name } of this.list({ stats: false })) {
      try {
        await this.start(name);
        started.push(name);
      } catch (error) {
        failed[name] = (error as Error).message;
      }
    }
    return { started, failed };
  }

  /** Stops every instance (POST /api/v1/instances/stop-all). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#supervisors.values()].map((s) => s.stop()));
  }

  /** Process-group usage, read from /proc only when one of `rows` has a live process. */
  #usage(rows: Row[]): Map<number, GroupUsage> {
    return rows.some((row) => this.#supervisors.get(row.name)?.pid != null) ? usageByProcessGroup() : new Map();
  }

  /** An instance as the API shows it; `usage` from usageByProcessGroup (a server's group id is its pid). */
  view(row: Row, usage: Map<number, GroupUsage>) {
    const s = this.#supervisors.get(row.name)!;
    const uptime = s.status === "running" && s.startedAt ? Math.round((Date.now() - s.startedAt.getTime()) / 1000) : 0;
    const group = s.pid !== null ? usage.get(s.pid) : undefined;
    const stats = group && s.pid !== null
      ? { memory_usage: group.memory_usage, cpu_usage: s.cpu.read(s.pid, group.cpu_seconds, s.spawnedAt), cpu_seconds: group.cpu_seconds, processes: group.processes, uptime }
      : { memory_usage: 0, cpu_usage: 0, cpu_seconds: 0, processes: 0, uptime };
    return {
      ...storedView(row), status: s.status, pid: s.pid,
      requests: { in_flight: s.gate.inFlight, queued: s.gate.queued, waiting_for_start: s.gate.pending },
      keep_alive_s: s.keepAliveMs === null ? null : s.keepAliveMs === Infinity ? -1 : s.keepAliveMs / 1000,
      config_differs: this.#drift.get(row.name) ?? [],
      restarts: s.restarts, last_error: s.lastError === null ? null : redactText(s.lastError),
      stats,
    };
  }

  /** `system_alert`: a server that went down by itself (restarting: warning) or for good (failed: error). */
  #alert(name: string, status: InstanceStatus, previous: InstanceStatus): void {
    const reason = this.#supervisors.get(name)?.lastError ?? "unknown reason";
    if (status === "failed") {
      this.ctx.emit("system_alert", { severity: "error", source: "instances", instance: name, message: `Instance '${name}' failed: ${reason}` });
    } else if (status === "starting" && previous === "running") {
      this.ctx.emit("system_alert", { severity: "warning", source: "instances", instance: name, message: `Instance '${name}' is restarting: ${reason}` });
    }
  }

  /**
   * The operator's intent, kept apart from what is observed: a start makes it `running`, a stop (or a
   * failure for good) `stopped`, and so does a disable or uninstall. A shutdown changes nothing, so the
   * next start restores what ran; a kill -9 records nothing either.
   */
  #recordDesired(name: string, status: InstanceStatus): void {
    const desired = status === "running" ? "running" : (status === "stopped" || status === "failed") && !this.fleet.shuttingDown ? "stopped" : undefined;
    const row = this.#rows.get(name);
    if (!desired || !row || row.desiredState === desired) return;
    row.desiredState = desired;
    void this.ctx.db.update(this.#table).set({ desiredState: desired }).where(eq(this.#table.name, name))
      .catch((error) => this.ctx.log.warn({ instance: name, err: (error as Error).message }, "desired state not recorded"));
  }

  #definitionOf(row: Row): InstanceDefinition {
    return { ...definitionOf(row), env: this.#secrets.openMap(row.env) };
  }

  #supervise(row: Row): void {
    const fleet = this.fleet;
    this.#supervisors.set(row.name, new InstanceSupervisor(this.#definitionOf(row), () => fleet.host()));
    this.#names.rebuild(this.#supervisors.values());
  }

  /** Start, crash, restart and stop as log lines (the WebSocket events reach only those listening). */
  #logStatus(name: string, status: InstanceStatus, previous: InstanceStatus): void {
    const s = this.#supervisors.get(name);
    const fields = { instance: name, status, previous, pid: s?.pid ?? null, restarts: s?.restarts ?? 0 };
    if (status === "failed") this.ctx.log.error({ ...fields, error: s?.lastError }, "instance failed");
    else if (status === "starting" && previous === "running") this.ctx.log.warn({ ...fields, error: s?.lastError }, "instance exited; restarting");
    else if (status === "running") this.ctx.log.info(fields, previous === "starting" && (s?.restarts ?? 0) > 0 ? "instance restarted" : "instance started");
    else if (status === "stopped") this.ctx.log.info(fields, "instance stopped");
  }

  /** Refuses model ids (a name and its aliases) that already reach another instance. */
  #assertIdsFree(ids: string[], self: string): void {
    for (const id of ids) {
      const owner = this.#names.owner(id, self);
      if (owner) throw InstanceErrors.MODEL_ID_TAKEN([id, owner]);
    }
  }

  #row(name: string): Row {
    const row = this.#rows.get(name);
    if (!row) throw InstanceErrors.INSTANCE_NOT_FOUND([name]);
    return row;
  }

  /** Cluster mode: the instances other nodes own (names and ports are unique across the cluster: one table holds them all). */
  async #otherNodesInstances(): Promise<{ name: string; port: number; node: string | null }[]> {
    if (this.#node === null) return [];
    const t = this.#table;
    return this.ctx.db.select({ name: t.name, port: t.port, node: t.node }).from(t).where(ne(t.node, this.#node));
  }

  #assertPortFree(port: number, self: string, elsewhere: { name: string; port: number }[] = []): void {
    const owner = [...this.#rows.values(), ...elsewhere].find((r) => r.port === port);
    if (owner && owner.name !== self) throw InstanceErrors.PORT_IN_USE([port, owner.name]);
  }

  #freePort(elsewhere: { port: number }[] = []): number {
    const [from, to] = this.settings().portRange;
    const used = new Set([...this.#rows.values(), ...elsewhere].map((r) => r.port));
    for (let port = from; port <= to; port++) if (!used.has(port)) return port;
    throw InstanceErrors.NO_FREE_PORT([from, to]);
  }
}

function definitionOf(row: Row): InstanceDefinition {
  return {
    name: row.name, backend: row.backend, modelPath: row.modelPath, port: row.port, options: row.options, env: row.env, command: row.command, restart: row.restart, onDemandStart: row.onDemandStart,
    idleTimeout: row.idleTimeout, aliases: row.aliases, unlisted: row.unlisted,
    device: row.device, memoryMib: row.memoryMib, pinned: row.pinned, group: row.group, parallel: row.parallel, maxQueue: row.maxQueue,
  };
}

/** One instance on a device, as GET /api/v1/system/devices shows it. */
function residentView(s: InstanceSupervisor, place: { mib: number; estimated: boolean }, pinned: boolean, group: string | null) {
  return {
    name: s.definition.name, status: s.status, memory_mib: place.mib, estimated: place.estimated, pinned, group,
    in_flight: s.gate.inFlight, queued: s.gate.queued, waiting_for_start: s.gate.pending,
    last_used_at: s.lastUsedAt > 0 ? new Date(s.lastUsedAt).toISOString() : null,
  };
}

/** `memory` as given (a size string or MiB) → MiB; null stays null (estimated). */
function memoryOf(memory: string | number | null | undefined): number | null {
  if (memory === undefined || memory === null) return null;
  const mib = parseMemoryMib(memory);
  if (mib === undefined) throw InstanceErrors.MEMORY_INVALID([String(memory)]);
  return mib;
}
