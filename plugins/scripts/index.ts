/** scripts: run_script in a real sandbox (QuickJS in WebAssembly, in a worker), as routes, a slash command and a service. */
import { createSandbox, definePlugin } from "gantry/plugin";
import { apiRoutes, seedRoutes } from "./routes.ts";
import { createScriptRunner } from "./script-runner.ts";

export default definePlugin({
  name: "scripts",
  setup(ctx) {
    // One sandbox pool for every generation: a script running while the plugin reloads finishes on it.
    const sandbox = ctx.keep("sandbox", () => createSandbox(), (kept) => kept.close());
    const runner = createScriptRunner(ctx, sandbox);
    sandbox.resize({ poolSize: runner.limits.pool_size, maxQueue: runner.limits.max_queue });
    const identity = ctx.services.consume("core.identity");
    ctx.routes(seedRoutes(runner, identity), { prefix: "" });
    ctx.routes(apiRoutes(runner, identity));
    // Cron jobs and slash commands run scripts through this service.
    ctx.services.provide("sandbox", {
      run: (code, options) => runner.run(code, { via: "service", ...options }),
    });
    ctx.command("run", {
      description: "Run JavaScript in the sandbox and print its result",
      argumentHint: "<code>",
      role: "admin", // as POST /run_script: a script reads the configuration and calls every service
      run: async ({ arguments: code }) => {
        const run = await runner.run(code, { actor: "slash-command", via: "/scripts:run" });
        if (!run.ok) throw new Error(run.error?.message ?? "script failed");
        return { result: run.result, logs: run.logs };
      },
    });
  },
});
