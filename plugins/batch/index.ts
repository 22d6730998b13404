/** batch: JSONL batches of agent runs (/api/v1/batch). */
import { definePlugin } from "gantry/plugin";
import { BatchStore } from "./batch-store.ts";
import { BatchRunner } from "./batch-runner.ts";
import { batchRoutes } from "./routes.ts";

interface BatchConfig {
  claim_timeout_s: number;
  concurrency: number;
  max_lines: number;
  max_line_bytes: number;
}

export default definePlugin({
  name: "batch",
  async setup(ctx) {
    const config = ctx.config as unknown as BatchConfig;
    const store = new BatchStore(ctx.db);
    const agents = ctx.services.consume("agent-runs");
    const startedAt = ctx.services.consume("core.info").startedAt;
    const cluster = ctx.services.consume("core.cluster");
    const claimer = `${cluster.nodeId}@${startedAt.getTime()}`;
    const runner = ctx.keep("runner", (scope) => new BatchRunner(scope, store, agents, claimer), (kept) => kept.stop());
    runner.configure(() => ({ concurrency: config.concurrency, claimMs: Math.max(1000, config.claim_timeout_s * 1000) }));
    // In a cluster other nodes' runs are live: their lines are claimed, and a dead node's claims lapse back to the run.
    const stale = cluster.enabled ? 0 : await store.interruptStale(startedAt);
    if (stale > 0) ctx.log.warn({ runs: stale }, "batch runs a previous gantry process left running are interrupted: resume them with POST /api/v1/batch/{run_id}/resume");
    // Runs marked running that no worker works (after enable, or a failed start, or another node's) are picked up; after a reload they are already worked.
    for (const run of await store.runs(1000)) if (run.status === "running") runner.start(run.id);
    // A cluster's nodes all work a run: progress from another node brings this one in.
    ctx.on("batch_progress", (event) => {
      const data = event.data as { run_id: string; status: string };
      if (event.node !== undefined && event.node !== cluster.nodeId && data.status === "running") runner.start(data.run_id);
    });
    ctx.routes(batchRoutes({
      store, runner, agents, identity: ctx.services.consume("core.identity"), on: ctx.on.bind(ctx),
      settings: () => ({ maxLines: config.max_lines, maxLineBytes: config.max_line_bytes }),
    }));
  },
});
