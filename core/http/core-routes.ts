/** Core's own routes: health, liveness, metrics and the event WebSocket. */
import { t } from "elysia";
import type { Database } from "bun:sqlite";
import { Errors } from "../kernel/errors.ts";
import { matchesPattern, type EventBus } from "../kernel/events.ts";
import { livenessChecks } from "./liveness.ts";
import { textResponses } from "./text-responses.ts";
import type { MetricsRegistry } from "../kernel/metrics.ts";
import type { RolesApp } from "../auth/roles.ts";
import pkg from "../../package.json" with { type: "json" };

/** WebSocket subscriptions by connection id, shared across rebuilt apps so closes always unsubscribe. */
const sockets = new Map<string, () => void>();

export interface CoreRouteParts {
  metrics: MetricsRegistry;
  events: EventBus;
  sqlite: Database;
  dataDir: string;
  startedAt: number;
  minFreeDiskBytes(): number;
}

/** Each check: ok, plus what it measured (latency_ms; free_bytes, min_free_bytes, writable) or an error. */
const Check = t.Object({ ok: t.Boolean() }, { additionalProperties: true });
const LivenessChecks = t.Object({ database: Check, disk: Check });

export function coreRoutes(parts: CoreRouteParts) {
  return (app: RolesApp) =>
    app
      .get("/healthz", () => ({ status: "ok" as const, version: pkg.version, uptime_s: Math.round((Date.now() - parts.startedAt) / 1000) }), {
        role: { min: "public", rateLimit: "none" },
        response: t.Object({ status: t.Literal("ok"), version: t.String(), uptime_s: t.Number() }),
        detail: { summary: "Liveness: 200 while the process serves", tags: ["core"] },
      })
      .get("/livez", ({ set }) => {
        const checks = livenessChecks(parts.sqlite, parts.dataDir, parts.minFreeDiskBytes());
        const failed = Object.entries(checks).filter(([, c]) => !c.ok).map(([name]) => name);
        if (failed.length === 0) return { status: "ok", checks };
        set.status = 503;
        const error = Errors.LIVENESS_FAILED([failed], { details: { checks } });
        return { error: error.message, code: "LIVENESS_FAILED" as const, details: { checks } };
      }, {
        role: { min: "public", rateLimit: "none" },
        response: {
          200: t.Object({ status: t.Literal("ok"), checks: LivenessChecks }),
          503: t.Object({ error: t.String(), code: t.Literal("LIVENESS_FAILED"), details: t.Object({ checks: LivenessChecks }) }),
        },
        detail: { summary: "Database and disk checks; 503 with details when one fails", tags: ["core"] },
      })
      .get("/metrics", async ({ set }) => {
        set.headers["content-type"] = parts.metrics.registry.contentType;
        return parts.metrics.expose();
      }, { role: { min: "public", rateLimit: "none" }, detail: { summary: "Prometheus metrics (text exposition)", tags: ["core"], responses: textResponses("Prometheus text exposition format 0.0.4") } })
      .ws("/api/v1/ws", {
        role: "viewer",
        query: t.Object({ types: t.Optional(t.String({ maxLength: 1000, description: "comma-separated event types or patterns (a.*); default all" })) }),
        open(ws) {
          const patterns = (ws.data.query.types ?? "*").split(",").map((s) => s.trim()).filter(Boolean);
          const unsubscribe = parts.events.subscribe("*", (event) => {
            if (patterns.some((p) => matchesPattern(p, event.type))) ws.send(JSON.stringify(event));
          });
          sockets.set(ws.id, unsubscribe);
        },
        close(ws) {
          sockets.get(ws.id)?.();
          sockets.delete(ws.id);
        },
        detail: { summary: "Stream gantry events as JSON messages", tags: ["core"] },
      });
}
