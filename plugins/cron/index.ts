/** cron: jobs that run slash commands on cron schedules, with run history (/api/v1/cron). */
import { definePlugin } from "gantry/plugin";
import { JobStore } from "./job-store.ts";
import { cronRoutes, runView } from "./routes.ts";
import { CronScheduler } from "./scheduler.ts";

interface CronConfig {
  history_per_job: number;
  default_timeout_s: number;
  max_jobs: number;
  max_result_bytes: number;
}

export default definePlugin({
  name: "cron",
  async setup(ctx) {
    const config = ctx.config as unknown as CronConfig;
    const commands = ctx.services.consume("core.commands");
    const info = ctx.services.consume("core.info");
    const cluster = ctx.services.consume("core.cluster");
    const plugins = ctx.services.consume("core.plugins");
    const store = new JobStore(ctx.db);
    // In a cluster another node's runs are its own: only a single node closes runs left by its previous process.
    const interrupted = cluster.enabled ? 0 : await store.failInterrupted(info.startedAt);
    if (interrupted > 0) ctx.log.warn({ runs: interrupted }, "cron runs left running by a previous gantry process are recorded as failed");
    // Kept across reloads (runs in progress finish and are recorded); timers stop when the plugin goes.
    const scheduler = ctx.keep("scheduler", (scope) => new CronScheduler(scope, store, commands, cluster), (kept) => kept.stopAll());
    scheduler.configure({
      settings: () => ({ historyPerJob: config.history_per_job, maxResultBytes: config.max_result_bytes }),
      runs: ctx.metrics.counter({ name: "gantry_cron_runs_total", help: "Cron job runs by outcome", labelNames: ["status"] }),
      seconds: ctx.metrics.histogram({ name: "gantry_cron_run_duration_seconds", help: "Cron job run time", buckets: [0.01, 0.1, 1, 10, 60, 300, 1800] }),
      pluginsStarted: () => plugins.whenStarted(),
    });
    for (const job of await store.list()) scheduler.arm(job); // a reload re-arms with the jobs as stored
    // A job changed on another node of a cluster: arm it here as stored (every node keeps the timers; the leader fires).
    ctx.on("cron_job_changed", async (event) => {
      if (event.node === undefined || event.node === cluster.nodeId) return;
      const { job_id: jobId } = event.data as { job_id: string };
      const job = (await store.list()).find((j) => j.id === jobId);
      if (job) scheduler.arm(job);
      else scheduler.disarm(jobId);
    });

    ctx.routes(cronRoutes({
      store, scheduler, commands,
      identity: ctx.services.consume("core.identity"),
      settings: () => ({ defaultTimeoutS: config.default_timeout_s, maxJobs: config.max_jobs }),
      changed: (jobId) => ctx.emit("cron_job_changed", { job_id: jobId }),
    }));
    ctx.command("list", {
      description: "Cron jobs with their schedule and next run",
      role: "viewer",
      run: async () => (await store.list()).map((job) => ({ id: job.id, name: job.name, schedule: job.schedule, enabled: job.enabled, next_run_at: scheduler.nextRun(job.id)?.toISOString() ?? null })),
    });
    ctx.command("run", {
      description: "Run a cron job now (by name or id) and show how it ended",
      role: "admin", // as POST /api/v1/cron/jobs/{id}/run
      argumentHint: "<job name or id>",
      run: async ({ argv }) => {
        const wanted = argv[0] ?? "";
        const job = (await store.list()).find((j) => j.name === wanted || j.id === wanted);
        if (!job) throw new Error(`no cron job named '${wanted}'`);
        return runView(await (await scheduler.start(job.id, "manual", "command:/cron:run")).finished);
      },
    });
  },
});
