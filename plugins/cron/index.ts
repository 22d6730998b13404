/** cron: jobs that run slash commands on cron schedules, with run history (seed 004's /api/v1/cron). */
import { definePlugin, type CoreCommandsService, type CoreIdentityService, type CoreInfoService } from "gantry/plugin";
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
  setup(ctx) {
    const config = ctx.config as unknown as CronConfig;
    const commands = ctx.services.consume<CoreCommandsService>("core.commands");
    const info = ctx.services.consume<CoreInfoService>("core.info");
    const store = new JobStore(ctx.db);
    const interrupted = store.failInterrupted(info.startedAt);
    if (interrupted > 0) ctx.log.warn({ runs: interrupted }, "cron runs left running by a previous gantry process are recorded as failed");
    const scheduler = new CronScheduler(ctx, store, commands, () => ({ historyPerJob: config.history_per_job, maxResultBytes: config.max_result_bytes }));
    for (const job of store.list()) scheduler.arm(job);

    ctx.routes(cronRoutes({
      store, scheduler, commands,
      identity: ctx.services.consume<CoreIdentityService>("core.identity"),
      settings: () => ({ defaultTimeoutS: config.default_timeout_s, maxJobs: config.max_jobs }),
    }));
    ctx.command("list", {
      description: "Cron jobs with their schedule and next run",
      role: "viewer",
      run: () => store.list().map((job) => ({ id: job.id, name: job.name, schedule: job.schedule, enabled: job.enabled, next_run_at: scheduler.nextRun(job.id)?.toISOString() ?? null })),
    });
    ctx.command("run", {
      description: "Run a cron job now (by name or id) and show how it ended",
      role: "admin", // as POST /api/v1/cron/jobs/{id}/run
      argumentHint: "<job name or id>",
      run: async ({ argv }) => {
        const wanted = argv[0] ?? "";
        const job = store.list().find((j) => j.name === wanted || j.id === wanted);
        if (!job) throw new Error(`no cron job named '${wanted}'`);
        return runView(await scheduler.start(job.id, "manual", "command:/cron:run").finished);
      },
    });
    // Timers stop on reload, uninstall and shutdown; a run in progress finishes and is recorded
    // before the plugin is gone (at shutdown, before the database closes).
    return async () => {
      scheduler.stopAll();
      await scheduler.settle();
    };
  },
});
