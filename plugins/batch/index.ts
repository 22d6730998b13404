/** batch: JSONL batches of agent runs (/api/v1/batch). */
import { definePlugin } from "gantry/plugin";
import { BatchStore } from "./batch-store.ts";
import { BatchRunner } from "./batch-runner.ts";
import { batchRoutes } from "./routes.ts";

interface BatchConfig {
  concurrency: number;
  max_lines: number;
  max_line_bytes: number;
}

export default definePlugin({
  name: "batch",
  setup(ctx) {
    const config = ctx.config as unknown as BatchConfig;
    const store = new BatchStore(ctx.db);
    const agents = ctx.services.consume("agent-runs");
    const runner = ctx.keep("runner", (scope) => new BatchRunner(scope, store, agents), (kept) => kept.stop());
    runner.configure(() => ({ concurrency: config.concurrency }));
    const startedAt = ctx.services.consume("core.info").startedAt;
    const stale = store.interruptStale(startedAt);
    if (stale > 0) ctx.log.warn({ runs: stale }, "batch runs a previous gantry process left running are interrupted: resume them with POST /api/v1/batch/{run_id}/resume");
    // Runs marked running that no worker works (after enable, or a failed start) are picked up; after a reload they are already worked.
    for (const run of store.runs(1000)) if (run.status === "running") runner.start(run.id);
    ctx.routes(batchRoutes({
      store, runner, agents, identity: ctx.services.consume("core.identity"), on: ctx.on.bind(ctx),
      settings: () => ({ maxLines: config.max_lines, maxLineBytes: config.max_line_bytes }),
    }));
  },
});
