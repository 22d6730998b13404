/** evaluations: is this model good enough? A model run on a dataset, scored, reported and compared. */
import { definePlugin } from "gantry/plugin";
import { evaluationRoutes } from "./routes.ts";
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
    ctx.routes(evaluationRoutes({
      store, runner, datasets: ctx.services.consume("datasets"), identity: ctx.services.consume("core.identity"),
      on: ctx.on.bind(ctx), sockets, settings: () => ({ maxRows: config.max_rows }),
    }));
    // This generation's event subscriptions end with it: its progress sockets close with 1012 so clients reconnect to the next.
    return () => {
      for (const ws of sockets) ws.close(1012, "the evaluations plugin was reloaded or removed; reconnect");
    };
  },
});
