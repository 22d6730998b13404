/** pipelines: durable multi-phase runs of agents, slash commands, admin scripts and nested pipelines (/api/v1/pipelines, /api/v1/chat). */
import { join } from "node:path";
import { definePlugin, type CommandCaller } from "gantry/plugin";
import { PipelineEngine } from "./engine.ts";
import { PipelineLauncher } from "./launcher.ts";
import { pipelineRoutes } from "./routes.ts";
import { PipelineStore } from "./store.ts";
import { loadTemplates, type Loaded } from "./templates.ts";

interface PipelinesConfig {
  max_parallel: number;
  template_dirs: string[];
  query_timeout_ms: number;
  query_max_rows: number;
}

declare module "gantry/plugin" {
  interface Services {
    /** Start pipeline runs from other plugins. */
    /** `caller.role` is the role the run's phases act with (default operator). */
    pipelines: { start(template: string, inputs: Record<string, unknown>, actor: string, caller?: CommandCaller): Promise<{ run_id: string }> };
  }
}

/** `/pipelines:run <template> [inputs]`: inputs as one JSON object or `key=value` words. */
function parseInputs(words: string[]): Record<string, unknown> {
  const rest = words.join(" ").trim();
  if (rest === "") return {};
  if (rest.startsWith("{")) return JSON.parse(rest) as Record<string, unknown>;
  return Object.fromEntries(words.map((w) => {
    const at = w.indexOf("=");
    if (at < 1) throw new Error(`'${w}': give inputs as key=value words or one JSON object`);
    return [w.slice(0, at), w.slice(at + 1)];
  }));
}

export default definePlugin({
  name: "pipelines",
  async setup(ctx) {
    const config = ctx.config as unknown as PipelinesConfig;
    const coreConfig = ctx.services.consume("core.config");
    const store = new PipelineStore(ctx.db);
    // Read at each use, so a config reload or a new template file counts without a plugin reload.
    const templates = (): Promise<Map<string, Loaded>> =>
      loadTemplates([join(ctx.dir, "pipelines"), ...(config.template_dirs ?? [])], (coreConfig.get("pipelines") ?? {}) as Record<string, unknown>);
    let coldStart = false;
    const engine = ctx.keep("engine", (scope) => ((coldStart = true), new PipelineEngine(scope, store)), (kept) => kept.stop());
    const agentRunsService = ctx.services.consume("agent-runs");
    const sandboxService = ctx.services.consume("sandbox");
    const approvalsService = ctx.services.consume("approvals");
    const agentRuns = () => (ctx.services.has("agent-runs") ? agentRunsService : undefined);
    engine.configure({
      commands: ctx.services.consume("core.commands"),
      agentRuns,
      sandbox: () => (ctx.services.has("sandbox") ? sandboxService : undefined),
      approvals: () => (ctx.services.has("approvals") ? approvalsService : undefined),
      template: async (name) => (await templates()).get(name)?.template ?? undefined,
      settings: () => ({ maxParallel: config.max_parallel, dataDir: ctx.dataDir }),
    });
    // Runs a stopped process (or a disabled plugin) left running are interrupted; a reload keeps driving its runs.
    if (coldStart) {
      const interrupted = await store.interruptRunning();
      for (const id of interrupted) await engine.journal(id, "run_interrupted", null, { reason: "gantry stopped while the run was in progress" });
      if (interrupted.length > 0) ctx.log.warn({ runs: interrupted.length }, "pipeline runs a previous gantry process left running are interrupted: resume them with POST /api/v1/pipelines/{run_id}/resume");
    }
    const launcher = new PipelineLauncher(engine, store, templates);
    ctx.routes(pipelineRoutes({
      launcher, engine, store, templates, agentRuns, identity: ctx.services.consume("core.identity"), on: ctx.on.bind(ctx),
      settings: () => ({ queryTimeoutMs: config.query_timeout_ms, queryMaxRows: config.query_max_rows }),
    }), { prefix: "" });
    ctx.services.provide("pipelines", { start: async (template, inputs, actor, caller = { role: "operator" }) => ({ run_id: (await launcher.start(template, inputs, { actor, role: caller.role })).id }) });
    ctx.command("run", {
      description: "Start a pipeline run; answers its id (cron jobs start pipelines with it)",
      argumentHint: "<template> [key=value ... | {json}]",
      run: async ({ argv, caller }) => {
        const [template = "", ...rest] = argv;
        if (!template) throw new Error("name a template; list them at GET /api/v1/pipelines/templates");
        const run = await launcher.start(template, parseInputs(rest), { actor: "command:/pipelines:run", role: caller.role });
        return { run_id: run.id, state: run.state };
      },
    });
    ctx.command("status", {
      description: "A pipeline run's state, current phases and outputs",
      argumentHint: "<run_id>",
      run: async ({ argv }) => launcher.view(argv[0] ?? ""),
    });
  },
});
