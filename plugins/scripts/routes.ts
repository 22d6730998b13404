/** The operations API's POST /run_script (multipart, text/plain) and gantry's POST /api/v1/scripts/run (JSON). */
import { t, textResponses, type CoreIdentityService, type RolesApp } from "gantry/plugin";
import type { ScriptRunner } from "./script-runner.ts";

const TEXT_PLAIN = "text/plain; charset=utf-8";

/** How the operations API prints a result: strings as they are, everything else as JSON. */
function resultText(result: unknown): string {
  if (result === null || result === undefined) return "Script executed successfully";
  return typeof result === "string" ? result : JSON.stringify(result);
}

export function seedRoutes(runner: ScriptRunner, identity: CoreIdentityService) {
  return (app: RolesApp) =>
    app.post("/run_script", async ({ body, request, set, headers }) => {
      set.headers["content-type"] = TEXT_PLAIN;
      const file = (body as Record<string, unknown> | null | undefined)?.script;
      if (!(file instanceof Blob)) {
        set.status = 400;
        return "No script file provided";
      }
      const actor = (await identity.identify(request))?.subject ?? "unknown";
      const run = await runner.run(await file.text(), { actor, via: "/run_script", requestId: headers["x-request-id"] ?? null });
      if (!run.ok) {
        // The operations API's contract for a failing script; gantry's own faults still surface as JSON errors.
        set.status = 500;
        return `Error executing script: ${run.error?.message ?? "unknown error"}`;
      }
      return resultText(run.result);
    }, {
      role: { min: "admin", rateLimit: "expensive" },
      detail: {
        summary: "Run an uploaded JavaScript file (multipart field `script`) in the sandbox; text/plain result",
        requestBody: { content: { "multipart/form-data": { schema: { type: "object", properties: { script: { type: "string", format: "binary" } }, required: ["script"] } } } },
        responses: textResponses("The script's result as text, or 'Script executed successfully' when it has none", {
          400: "No script file provided", 500: "Error executing script: <message> (the script failed); gantry's own errors (413 over max_script_bytes) are JSON",
        }),
      },
    });
}

export function apiRoutes(runner: ScriptRunner, identity: CoreIdentityService) {
  return (app: RolesApp) =>
    app.post("/run", async ({ body, request, headers }) => {
      const actor = (await identity.identify(request))?.subject ?? "unknown";
      const run = await runner.run(body.code, { actor, timeoutMs: body.timeout_ms, via: "/api/v1/scripts/run", requestId: headers["x-request-id"] ?? null });
      return { ok: run.ok, result: run.result, logs: run.logs, duration_ms: run.durationMs, error: run.error };
    }, {
      role: { min: "admin", rateLimit: "expensive" },
      body: t.Object({
        code: t.String({ description: "JavaScript; the global `result` or the last expression is returned" }),
        timeout_ms: t.Optional(t.Integer({ minimum: 1, description: "capped at plugin.scripts.max_timeout_ms" })),
      }),
      response: t.Object({
        ok: t.Boolean(), result: t.Unknown(), logs: t.Array(t.String()), duration_ms: t.Number(),
        error: t.Union([t.Object({ name: t.String(), message: t.String(), stack: t.Optional(t.String()) }), t.Null()]),
      }),
      detail: { summary: "Run JavaScript in the sandbox; script failures come back with ok: false and the error" },
    });
}
