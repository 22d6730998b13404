/** evaluations: is this model good enough? A model run on a dataset, scored, reported and compared. */
import { definePlugin } from "gantry/plugin";
import { evaluationRoutes, evaluationStarter, reportOfRun, type StartRequest } from "./routes.ts";
import { EvaluationRunner } from "./runner.ts";
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
    const inference = ctx.services.consume("inference");
    const runner = ctx.keep("runner", (scope) => new EvaluationRunner(scope, store, inference), (kept) => kept.stop());
    runner.configure(() => ({ concurrency: config.concurrency, rowTimeoutS: config.row_timeout_s }));
    const stale = await store.interruptStale(ctx.services.consume("core.info").startedAt);
    if (stale > 0) ctx.log.warn({ evaluations: stale }, "evaluations a previous gantry process left running are interrupted: resume them with POST /api/v1/evaluations/{id}/resume");
    // Runs marked running that no worker works (after enable, or a failed start) are picked up; after a reload they are already worked.
    for (const run of await store.list(1000)) if (run.status === "running") runner.start(run);
    const sockets = new Set<{ close(code?: number, reason?: string): void }>();
    const parts = {
      store, runner, datasets: ctx.services.consume("datasets"), identity: ctx.services.consume("core.identity"),
      on: ctx.on.bind(ctx), sockets, settings: () => ({ maxRows: config.max_rows }),
    };
    ctx.routes(evaluationRoutes(parts));
    // For other plugins (deployments compares two versions on a dataset): the API's start and report.
    const start = evaluationStarter(parts);
    ctx.services.provide("evaluations", {
      start: async (request, actor) => ({ id: (await start(request as StartRequest, actor)).id }),
      get: async (id) => {
        const run = await store.get(id);
        return run ? reportOfRun(store, run) : undefined;
      },
    });
    // This generation's event subscriptions end with it: its progress sockets close with 1012 so clients reconnect to the next.
    return () => {
      for (const ws of sockets) ws.close(1012, "the evaluations plugin was reloaded or removed; reconnect");
    };
  },
});
