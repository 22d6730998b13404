/** Runs a script for a caller: limits from config, the host API, audit record and metrics. */
import { createHash } from "node:crypto";
import { createError, defineErrors, type HostFunction, type RunResult, type Sandbox, type PluginContext } from "gantry/plugin";
import { SandboxBusyError } from "../../sandbox/index.ts";
import { allowedModules } from "./virtual-modules.ts";

export const ScriptErrors = defineErrors("scripts", {
  SANDBOX_BUSY: createError("SANDBOX_BUSY", 503, (queued: number, retryAfterS: number) => `Every sandbox worker is busy and ${queued} scripts are waiting (plugin.scripts.pool_size, max_queue); retry in ${retryAfterS} s`),
  SCRIPT_TOO_LARGE: createError("SCRIPT_TOO_LARGE", 413, (size: number, limit: number) => `Script is ${size} bytes; the limit is ${limit} (plugin.scripts.max_script_bytes)`),
});

export interface ScriptLimits {
  timeout_ms: number;
  max_timeout_ms: number;
  memory_bytes: number;
  stack_bytes: number;
  max_script_bytes: number;
  max_log_chars: number;
  allowed_modules: string[];
  pool_size: number;
  max_queue: number;
}

export interface ScriptRunner {
  limits: ScriptLimits;
  /** Throws SCRIPT_TOO_LARGE before running anything too big. */
  run(code: string, options: { actor: string; timeoutMs?: number; via: string; requestId?: string | null }): Promise<RunResult>;
}

export function createScriptRunner(ctx: PluginContext, sandbox: Sandbox): ScriptRunner {
  const limits = ctx.config as unknown as ScriptLimits;
  const { modules, unknown } = allowedModules(limits.allowed_modules);
  if (unknown.length > 0) ctx.log.warn({ unknown }, "scripts.allowed_modules names modules that do not exist");
  const services = {
    config: ctx.services.consume("core.config"),
    plugins: ctx.services.consume("core.plugins"),
    tasks: ctx.services.consume("core.tasks"),
    metrics: ctx.services.consume("core.metrics"),
    audit: ctx.services.consume("core.audit"),
  };
  // Read-only views: every call returns a fresh JSON copy.
  const host: Record<string, HostFunction> = {
    config: () => services.config.redacted(),
    plugins: () => services.plugins.list(),
    tasks: () => services.tasks.list().map((t) => t.snapshot()),
    metrics: () => services.metrics.snapshot(),
    instances: async () => (ctx.services.get("instances")?.list() ?? []),
  };
  const runs = ctx.metrics.counter({ name: "gantry_script_runs_total", help: "Sandboxed script runs by outcome", labelNames: ["outcome"] });
  const seconds = ctx.metrics.histogram({ name: "gantry_script_duration_seconds", help: "Sandboxed script run time", buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10] });

  return {
    limits,
    async run(code, { actor, timeoutMs, via, requestId }) {
      const size = Buffer.byteLength(code);
      if (size > limits.max_script_bytes) throw ScriptErrors.SCRIPT_TOO_LARGE([size, limits.max_script_bytes]);
      // Tracked: a reload waits for runs in flight (up to plugins.dispose_timeout_ms) before it disposes this generation.
      const result = await ctx.track(sandbox.run(code, {
        timeoutMs: Math.min(timeoutMs ?? limits.timeout_ms, limits.max_timeout_ms),
        memoryBytes: limits.memory_bytes,
        stackBytes: limits.stack_bytes,
        maxLogChars: limits.max_log_chars,
        host,
        modules,
      })).catch((error: unknown) => {
        if (error instanceof SandboxBusyError) throw ScriptErrors.SANDBOX_BUSY([error.queued, error.retryAfterS], { details: { retry_after_s: error.retryAfterS } });
        throw error;
      });
      const outcome = result.ok ? "ok" : result.error?.name === "TimeoutError" || result.error?.message.startsWith("interrupted") ? "timeout" : "error";
      runs.inc({ outcome });
      seconds.observe(result.durationMs / 1000);
      await services.audit.record({
        actor, role: "admin", action: "scripts.run", route: via,
        target: `sha256:${createHash("sha256").update(code).digest("hex")}`,
        status: result.ok ? 200 : 500,
        requestId: requestId ?? null,
        detail: `${outcome} in ${result.durationMs} ms${result.error ? `: ${result.error.message}` : ""}`,
      });
      return result;
    },
  };
}
