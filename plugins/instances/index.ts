/** instances: model servers supervised as subprocesses, and the inference endpoint (OpenAI, Anthropic, Ollama, llama-swap). */
import { definePlugin, pickTables, textTable, type PeriodicTask, type PluginContext } from "gantry/plugin";
import { deviceBudgets, readNvidiaSmi } from "./devices.ts";
import type { GroupRule, PlacementSettings } from "./placement.ts";
import { systemRoutes } from "./system-routes.ts";
import { Fleet } from "./fleet.ts";
import { InstanceManager } from "./instance-manager.ts";
import { reapLeftovers } from "./leftovers.ts";
import * as pgTables from "./schema-pg.ts";
import * as sqliteTables from "./schema.ts";
import { registerInferenceRoutes } from "./inference-routes.ts";
import { instanceRoutes } from "./routes.ts";
import { NodeForwarding } from "./node-forwarding.ts";
import { ModelReconciler } from "./model-reconciler.ts";
import { modelRoutes } from "./model-routes.ts";
import { ModelPulls, type PulledFile } from "./model-pulls.ts";
import { join, resolve } from "node:path";
import { ServedModels } from "./served-models.ts";

interface InstancesConfig {
  port_range: [number, number];
  executables: Record<string, string>;
  health_interval_s: number;
  health_interval_healthy_s: number;
  start_timeout_s: number;
  stop_timeout_s: number;
  max_restarts: number;
  log_lines: number;
  max_running: number;
  log_file_max_bytes: number;
  log_files_kept: number;
  unhealthy_threshold: number;
  devices: Record<string, { memory?: unknown }>;
  nvidia_smi: string;
  groups: Record<string, Partial<GroupRule>>;
  eviction_wait_s: number;
  swap_wait_s: number;
  loaded_first: boolean;
  default_model: string;
  /** At a cold start, start again the instances that were running when gantry stopped (`running`), or not (`none`). */
  restore: "running" | "none";
  /** Where pulled model files go; empty: <data_dir>/models. */
  models_dir: string;
  /** The model hub `hf:` sources come from (Hugging Face's API shape). */
  hub_url: string;
  /** Token for gated or private repositories; empty: the HF_TOKEN environment variable. Sent only to hub_url. */
  hub_token: string;
  /** Resumes per file after a broken connection. */
  pull_retries: number;
}

export default definePlugin({
  name: "instances",
  async setup(ctx) {
    const config = ctx.config as unknown as InstancesConfig;
    const logDir = ctx.dataDir;
    // Supervisors and their model servers outlive reloads; they stop only when the plugin goes away.
    // Kept first, so on uninstall or shutdown stopping instances is the last thing this plugin does.
    const fleet = ctx.keep("fleet", (scope) => new Fleet(scope), (kept, reason) => kept.close(reason));
    const coldStart = fleet.takeColdStart();
    // A cold start (not a reload, whose servers are the fleet's own), before anything else and so
    // before gantry listens: a previous run killed with -9 left its model servers running.
    if (coldStart) {
      const { instances } = pickTables(ctx.db, { sqlite: sqliteTables, pg: pgTables });
      // In a cluster only this node's own servers are its leftovers.
      const cluster = ctx.services.consume("core.cluster");
      const rows = await ctx.db.select({ lastPid: instances.lastPid, port: instances.port, node: instances.node }).from(instances);
      const reaped = await reapLeftovers(rows.filter((r) => !cluster.enabled || r.node === null || r.node === cluster.nodeId));
      if (reaped.length > 0) ctx.log.warn({ pids: reaped }, "killed model servers left by a previous run");
    }
    // Device budgets: configured, else what nvidia-smi reports (read once per generation), plus the host's memory as cpu.
    const devices = deviceBudgets(config.devices ?? {}, config.nvidia_smi ? await readNvidiaSmi(ctx, config.nvidia_smi) : []);
    const groups = Object.fromEntries(Object.entries(config.groups ?? {}).map(([name, rule]) => [name, groupRule(rule)]));
    const placement: PlacementSettings = {
      devices, groups, maxRunning: config.max_running, evictionWaitMs: config.eviction_wait_s * 1000, swapWaitMs: config.swap_wait_s * 1000,
      loadedFirst: config.loaded_first !== false, defaultModel: null,
    };
    const manager = new InstanceManager(ctx, fleet, () => ({
      portRange: config.port_range, executables: config.executables, startTimeoutS: config.start_timeout_s,
      stopTimeoutS: config.stop_timeout_s, maxRestarts: config.max_restarts, logLines: config.log_lines,
      logDir, logFileMaxBytes: config.log_file_max_bytes, logFilesKept: config.log_files_kept, unhealthyThreshold: config.unhealthy_threshold,
    }), () => placement);
    await manager.load();
    const coreConfig = ctx.services.consume("core.config");
    const modelsDir = resolve(config.models_dir || join(String(coreConfig.get("data_dir") ?? "./data"), "models"));
    // Downloads outlive reloads like the servers do; they are cancelled when the plugin goes away.
    const pulls = ctx.keep("pulls", (scope) => new ModelPulls(scope), (kept) => kept.cancelAll());
    const outbound = ctx.services.consume("core.outbound");
    pulls.configure(
      () => ({ modelsDir, hubUrl: config.hub_url, token: config.hub_token || process.env.HF_TOKEN || "", retries: config.pull_retries, outbound }),
      (target, file) => ctx.kv.set(`file:${target}`, file),
    );
    const recorded = async () => new Map((await ctx.kv.list("file:")).map(({ key, value }) => [key.slice("file:".length), value as PulledFile]));
    const reconciler = new ModelReconciler(manager, () => ({ section: coreConfig.section("models"), modelsDir }), ctx.log, (result) => ctx.emit("models_reconciled", result));
    await reconciler.reconcile();
    ctx.on("config_reloaded", async (event) => {
      const { changed } = event.data as { changed: string[] };
      if (!changed.some((key) => key === "models" || key.startsWith("models."))) return;
      await reconciler.reconcile().catch((error) => ctx.log.warn({ err: (error as Error).message }, "declared models not reconciled"));
    });
    // After the leftovers are gone and the declarations applied; in the background, as a start takes minutes.
    if (coldStart && config.restore === "running") fleet.scope.track(restoreRunning(manager, fleet, ctx.log));
    // The default model (a name or alias) is started now and kept loaded: never evicted, never stopped for idleness.
    const defaultModel = config.default_model ? manager.resolve(config.default_model) : undefined;
    if (config.default_model && !defaultModel) ctx.log.warn({ default_model: config.default_model }, "plugin.instances.default_model names no instance");
    if (defaultModel) {
      placement.defaultModel = defaultModel.definition.name;
      ctx.track(manager.start(defaultModel.definition.name).catch((error) => ctx.log.error({ instance: defaultModel.definition.name, err: (error as Error).message }, "the default model did not start")));
    }
    const forwarding = new NodeForwarding(ctx, manager);
    // Cluster mode, on the leader: a node that went down takes its instances with it; say so once.
    ctx.on("node_down", async (event) => {
      const cluster = ctx.services.consume("core.cluster");
      if (!cluster.isLeader) return;
      const node = event.data as { id: string; name: string };
      for (const instance of await forwarding.instancesOf(node)) {
        ctx.emit("instance_status_changed", { name: instance.name, status: "unreachable", previous: null, node: node.id });
      }
    });
    ctx.routes(instanceRoutes(manager, forwarding));
    ctx.routes(modelRoutes({ manager, reconciler, pulls, modelsDir, recorded }), { prefix: "/api/v1/models" });
    // Routes other plugins registered for served names (deployments) outlive a reload of this one.
    const served = ctx.keep("served-models", () => new ServedModels(), () => {});
    const inference = registerInferenceRoutes(ctx, manager, served, fleet.keyLimits, forwarding);
    ctx.routes(systemRoutes(manager, ctx.services.consume("core.info")), { prefix: "/api/v1/system" });
    ctx.services.provide("instances", { list: () => manager.list(), start: (name) => manager.start(name), stop: (name) => manager.stop(name) });
    ctx.services.provide("served-models", served);
    ctx.services.provide("inference", inference.service);
    // From the CLI: gantry /instances:start qwen-7b
    const brief = (i: ReturnType<typeof manager.get>) => ({ name: i.name, status: i.status, backend: i.backend, port: i.port, pid: i.pid, last_error: i.last_error });
    ctx.command("list", {
      description: "Instances and their status, as a table", role: "viewer",
      run: () => {
        const rows = manager.list().map((i) => [i.name, i.status, i.origin, i.backend, String(i.port), String(i.pid ?? "-"), i.last_error ?? ""]);
        return rows.length === 0 ? "No instances" : textTable([["NAME", "STATUS", "ORIGIN", "BACKEND", "PORT", "PID", "LAST ERROR"], ...rows]);
      },
    });
    ctx.command("start", { description: "Start an instance and wait until it is healthy", argumentHint: "<name>", run: async ({ argv }) => brief(await manager.start(argv[0] ?? "")) });
    ctx.command("stop", { description: "Stop an instance (SIGTERM, then SIGKILL after stop_timeout_s)", argumentHint: "<name>", run: async ({ argv }) => brief(await manager.stop(argv[0] ?? "")) });
    const health: PeriodicTask = ctx.every("instances-health", { interval: config.health_interval_s, level: "high", initWait: config.health_interval_s }, async () => {
      const { running, nextCheckAt } = await manager.watchRunning(config.health_interval_healthy_s * 1000, config.health_interval_s * 1000);
      const stopped = await manager.stopIdle();
      if (defaultModel && defaultModel.status === "stopped" && !defaultModel.gate.busy) {
        await manager.start(defaultModel.definition.name).catch((error) => ctx.log.warn({ instance: defaultModel.definition.name, err: (error as Error).message }, "the default model did not start"));
      }
      // Stats come from a scan of /proc: only while someone (the UI's event stream) hears them.
      const listened = running > 0 && ctx.listened("instance_stats_updated");
      if (listened) {
        for (const instance of manager.list().filter((i) => i.status === "running")) ctx.emit("instance_stats_updated", { name: instance.name, stats: instance.stats });
      } else if (!defaultModel || defaultModel.status === "running") {
        // Nothing to do before the next probe or idle deadline: sleep until then (never sooner than an
        // interval: a busy instance past its deadline is looked at again later); none running, until one starts.
        const next = Math.min(nextCheckAt ?? Infinity, manager.nextIdleAt() ?? Infinity);
        health.sleepUntil(Number.isFinite(next) ? Math.max(next, Date.now() + config.health_interval_s * 1000) : null);
      }
      return `${running} running${stopped.length > 0 ? `; stopped idle: ${stopped.join(", ")}` : ""}`;
    });
    manager.wakeWatch = (at) => health.wake(at);
  },
});

/** A group as configured: llama-swap's defaults (swap: true, exclusive: true, persistent: false), no member limit. */
function groupRule(rule: Partial<GroupRule>): GroupRule {
  return { swap: rule.swap ?? true, exclusive: rule.exclusive ?? true, persistent: rule.persistent ?? false, max_running: rule.max_running ?? 0, members: rule.members ?? [] };
}

/** Starts, one after the other, the instances that were running (or asked to run) when gantry last stopped. */
async function restoreRunning(manager: InstanceManager, fleet: Fleet, log: PluginContext["log"]): Promise<void> {
  for (const name of manager.desiredRunning()) {
    if (fleet.closing) return; // gantry stops meanwhile: what is left stays `running` for the next start
    try {
      await manager.start(name);
      log.info({ instance: name }, "instance restored: it was running when gantry stopped");
    } catch (error) {
      log.warn({ instance: name, err: (error as Error).message }, "instance not restored");
    }
  }
}
