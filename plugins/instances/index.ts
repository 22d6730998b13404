/** instances: model servers supervised as subprocesses, and the inference endpoint (OpenAI, Anthropic, Ollama, llama-swap). */
import { definePlugin, pickTables, type PeriodicTask } from "gantry/plugin";
import { systemRoutes } from "./system-routes.ts";
import { Fleet } from "./fleet.ts";
import { InstanceManager } from "./instance-manager.ts";
import { reapLeftovers } from "./leftovers.ts";
import * as pgTables from "./schema-pg.ts";
import * as sqliteTables from "./schema.ts";
import { registerInferenceRoutes } from "./inference-routes.ts";
import { instanceRoutes } from "./routes.ts";
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
}

export default definePlugin({
  name: "instances",
  async setup(ctx) {
    const config = ctx.config as unknown as InstancesConfig;
    const logDir = ctx.dataDir;
    // Supervisors and their model servers outlive reloads; they stop only when the plugin goes away.
    // Kept first, so on uninstall or shutdown stopping instances is the last thing this plugin does.
    const fleet = ctx.keep("fleet", (scope) => new Fleet(scope), (kept) => kept.close());
    // A cold start (not a reload, whose servers are the fleet's own), before anything else and so
    // before gantry listens: a previous run killed with -9 left its model servers running.
    if (fleet.takeColdStart()) {
      const { instances } = pickTables(ctx.db, { sqlite: sqliteTables, pg: pgTables });
      const reaped = await reapLeftovers(await ctx.db.select({ lastPid: instances.lastPid, port: instances.port }).from(instances));
      if (reaped.length > 0) ctx.log.warn({ pids: reaped }, "killed model servers left by a previous run");
    }
    const manager = new InstanceManager(ctx, fleet, () => ({
      portRange: config.port_range, executables: config.executables, startTimeoutS: config.start_timeout_s,
      stopTimeoutS: config.stop_timeout_s, maxRestarts: config.max_restarts, logLines: config.log_lines, maxRunning: config.max_running,
      logDir, logFileMaxBytes: config.log_file_max_bytes, logFilesKept: config.log_files_kept, unhealthyThreshold: config.unhealthy_threshold,
    }));
    await manager.load();
    ctx.routes(instanceRoutes(manager));
    // Routes other plugins registered for served names (deployments) outlive a reload of this one.
    const served = ctx.keep("served-models", () => new ServedModels(), () => {});
    const inference = registerInferenceRoutes(ctx, manager, served);
    ctx.routes(systemRoutes(manager, ctx.services.consume("core.info")), { prefix: "/api/v1/system" });
    ctx.services.provide("instances", { list: () => manager.list(), start: (name) => manager.start(name), stop: (name) => manager.stop(name) });
    ctx.services.provide("served-models", served);
    ctx.services.provide("inference", inference.service);
    // From the CLI: gantry /instances:start qwen-7b
    const brief = (i: ReturnType<typeof manager.get>) => ({ name: i.name, status: i.status, backend: i.backend, port: i.port, pid: i.pid, last_error: i.last_error });
    ctx.command("list", { description: "Instances and their status", role: "viewer", run: () => manager.list().map(brief) });
    ctx.command("start", { description: "Start an instance and wait until it is healthy", argumentHint: "<name>", run: async ({ argv }) => brief(await manager.start(argv[0] ?? "")) });
    ctx.command("stop", { description: "Stop an instance (SIGTERM, then SIGKILL after stop_timeout_s)", argumentHint: "<name>", run: async ({ argv }) => brief(await manager.stop(argv[0] ?? "")) });
    const health: PeriodicTask = ctx.every("instances-health", { interval: config.health_interval_s, level: "high", initWait: config.health_interval_s }, async () => {
      const { running, nextCheckAt } = await manager.watchRunning(config.health_interval_healthy_s * 1000, config.health_interval_s * 1000);
      const stopped = await manager.stopIdle();
      // Stats come from a scan of /proc: only while someone (the UI's event stream) hears them.
      const listened = running > 0 && ctx.listened("instance_stats_updated");
      if (listened) {
        for (const instance of manager.list().filter((i) => i.status === "running")) ctx.emit("instance_stats_updated", { name: instance.name, stats: instance.stats });
      } else {
        // Nothing to do before the next probe or idle timeout: sleep until then; none running, until one starts.
        const next = Math.min(nextCheckAt ?? Infinity, manager.nextIdleAt() ?? Infinity);
        health.sleepUntil(Number.isFinite(next) ? next : null);
      }
      return `${running} running${stopped.length > 0 ? `; stopped idle: ${stopped.join(", ")}` : ""}`;
    });
    manager.onRunning = () => health.wake();
  },
});
