/** evaluations: is this model good enough? A model run on a dataset, scored, reported and compared. */
import { definePlugin, type CoreIdentityService, type CoreInfoService } from "gantry/plugin";
import { evaluationRoutes, type DatasetsService } from "./routes.ts";
import { EvaluationRunner, type InferenceService } from "./runner.ts";
import { EvaluationStore } from "./store.ts";

interface EvaluationsConfig {
  concurrency: number;
  max_rows: number;
  row_timeout_s: number;
}

export default definePlugin({
  name: "evaluations",
  async setup(ctx) {
    const config = ctx.config as unknown as EvaluationsConfig;
    const store = new EvaluationStore(ctx.db);
    const runner = new EvaluationRunner(ctx, store, ctx.services.consume<InferenceService>("inference"), () => ({ concurrency: config.concurrency, rowTimeoutS: config.row_timeout_s }));
    const stale = await store.interruptStale(ctx.services.consume<CoreInfoService>("core.info").startedAt);
    if (stale > 0) ctx.log.warn({ evaluations: stale }, "evaluations a previous gantry process left running are interrupted: resume them with POST /api/v1/evaluations/{id}/resume");
    // After a reload (or a reinstall) this instance takes over the runs being worked.
    for (const run of await store.list(1000)) if (run.status === "running") runner.start(run);
    const sockets = new Set<{ close(code?: number, reason?: string): void }>();
    ctx.routes(evaluationRoutes({
      store, runner, datasets: ctx.services.consume<DatasetsService>("datasets"), identity: ctx.services.consume<CoreIdentityService>("core.identity"),
      on: ctx.on.bind(ctx), sockets, settings: () => ({ maxRows: config.max_rows }),
    }));
    return () => {
      runner.stop();
      for (const ws of sockets) ws.close(1012, "the evaluations plugin was reloaded or removed; reconnect");
    };
  },
});
