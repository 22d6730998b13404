/** Builds the root Elysia app: request ids, error shapes, metrics, core routes, and every active plugin's routes. */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { Elysia, t, type AnyElysia } from "elysia";
import { openapi } from "@elysiajs/openapi";
import type { Identity } from "./auth.ts";
import { Errors, GantryError, messageOf, type ErrorBody } from "./errors.ts";
import { matchesPattern, type EventBus } from "./events.ts";
import { livenessChecks } from "./liveness.ts";
import type { Logger } from "./logger.ts";
import type { MetricsRegistry } from "./metrics.ts";
import type { PluginInstance } from "./plugin-context.ts";
import { assertRole, ROLE_EXTENSION, rolesPlugin, type RolesApp } from "./roles.ts";
import type { Database } from "bun:sqlite";
import pkg from "../package.json" with { type: "json" };

export interface AppParts {
  log: Logger;
  metrics: MetricsRegistry;
  events: EventBus;
  sqlite: Database;
  dataDir: string;
  /** Read on every request; the object may be replaced when the config reloads. */
  limits: () => HttpLimits;
  identify(request: Request): Identity | undefined;
  startedAt: number;
}

export interface HttpLimits {
  bodyLimitBytes: number;
  minFreeDiskBytes: number;
  logRequests: boolean;
  /** Paths whose request lines are logged at debug, not info (probes and scrapes). */
  quietPaths: Set<string>;
}

interface RequestMeta {
  id: string;
  start: number;
}

const SWAGGER_DIR = join(import.meta.dir, "..", "node_modules", "swagger-ui-dist");
const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Errors Elysia raises itself, mapped to gantry's codes and statuses. */
function toErrorResponse(code: string | number, error: unknown, method: string, path: string, requestId: string, log: Logger): [number, ErrorBody] {
  if (error instanceof GantryError) return [error.status, error.toJSON()];
  switch (code) {
    case "VALIDATION": {
      const v = error as { type?: string; all?: { path: string; message: string; summary?: string }[] };
      const where = v.type ?? "request";
      const details = (v.all ?? []).map((e) => ({ in: where, field: e.path.replace(/^\//, "").replaceAll("/", ".") || where, message: e.summary ?? e.message }));
      const first = details[0];
      const summary = first ? `${where} field '${first.field}': ${first.message}` : where;
      return [400, { ...Errors.VALIDATION_FAILED([summary]).toJSON(), details }];
    }
    case "NOT_FOUND":
      return [404, Errors.NOT_FOUND([method, path]).toJSON()];
    case "PARSE":
      return [400, Errors.BAD_REQUEST(["Request body could not be parsed; check Content-Type and the body's syntax"]).toJSON()];
    case "INVALID_COOKIE_SIGNATURE":
    case "INVALID_FILE_TYPE":
      return [400, Errors.BAD_REQUEST([messageOf(error)]).toJSON()];
    default: {
      const status = (error as { status?: unknown })?.status;
      if (typeof status === "number" && status >= 400 && status < 500) return [status, { error: messageOf(error), code: "BAD_REQUEST", details: null }];
      log.error({ err: error, reqId: requestId, method, path }, "unhandled error");
      return [500, Errors.INTERNAL([requestId]).toJSON()];
    }
  }
}

/** The root app with core routes and the given plugins' routes; throws if a plugin's routes are invalid. */
export function buildRootApp(parts: AppParts, plugins: PluginInstance[]): { app: AnyElysia; routesByPlugin: Map<string, string[]> } {
  const meta = new WeakMap<Request, RequestMeta>();
  const identities = new WeakMap<Request, Identity | undefined>();
  const identify = (request: Request) => {
    if (!identities.has(request)) identities.set(request, parts.identify(request));
    return identities.get(request);
  };
  const roles = rolesPlugin(identify);
  const pathOf = (request: Request) => new URL(request.url).pathname;

  const app = new Elysia({ normalize: true })
    .use(openapi({
      path: "/docs",
      specPath: "/openapi.json",
      provider: "swagger-ui",
      swagger: { cdn: "/docs/assets/swagger-ui-bundle.js", theme: "/docs/assets/swagger-ui.css", autoDarkMode: false },
      documentation: {
        info: { title: "gantry", version: pkg.version, description: pkg.description },
        components: { securitySchemes: { apiKey: { type: "http", scheme: "bearer", description: "API key (also accepted as X-API-Key or ?api_key=)" } } },
      },
    }))
    .onRequest(({ request, set }) => {
      const given = request.headers.get("x-request-id");
      const id = given && REQUEST_ID.test(given) ? given : randomUUID();
      meta.set(request, { id, start: performance.now() });
      set.headers["x-request-id"] = id;
      const length = Number(request.headers.get("content-length") ?? 0);
      const limit = parts.limits().bodyLimitBytes;
      if (length > limit) {
        set.status = 413;
        return Errors.PAYLOAD_TOO_LARGE([limit]).toJSON();
      }
    })
    .onError({ as: "global" }, ({ code, error, request, set }) => {
      const requestId = meta.get(request)?.id ?? "unknown";
      const [status, body] = toErrorResponse(code, error, request.method, pathOf(request), requestId, parts.log);
      set.status = status;
      set.headers["x-request-id"] = requestId;
      return body;
    })
    .onAfterResponse({ as: "global" }, ({ request, route, path, set }) => {
      const m = meta.get(request);
      if (!m) return;
      const seconds = (performance.now() - m.start) / 1000;
      const status = typeof set.status === "number" ? set.status : 200;
      parts.metrics.observeRequest(request.method, route || "unmatched", status, seconds);
      const limits = parts.limits();
      if (!limits.logRequests) return;
      const level = limits.quietPaths.has(path) && status < 400 ? "debug" : "info";
      if (parts.log.isLevelEnabled(level)) parts.log[level]({ reqId: m.id, method: request.method, path, status, ms: Math.round(seconds * 1e5) / 100 }, "request");
    })
    .use(roles)
    .get("/docs/assets/:file", ({ params }) => {
      if (!["swagger-ui-bundle.js", "swagger-ui.css"].includes(params.file)) throw Errors.NOT_FOUND(["GET", `/docs/assets/${params.file}`]);
      return new Response(Bun.file(join(SWAGGER_DIR, params.file)), { headers: { "cache-control": "public, max-age=86400" } });
    }, { role: "public", detail: { hide: true } })
    .get("/healthz", () => ({ status: "ok" as const, version: pkg.version, uptime_s: Math.round((Date.now() - parts.startedAt) / 1000) }), {
      role: "public",
      response: t.Object({ status: t.Literal("ok"), version: t.String(), uptime_s: t.Number() }),
      detail: { summary: "Liveness: 200 while the process serves", tags: ["core"] },
    })
    .get("/livez", ({ set }) => {
      const { minFreeDiskBytes } = parts.limits();
      const checks = livenessChecks(parts.sqlite, parts.dataDir, minFreeDiskBytes);
      const failed = Object.entries(checks).filter(([, c]) => !c.ok).map(([name]) => name);
      if (failed.length === 0) return { status: "ok", checks };
      set.status = 503;
      return { error: `Liveness check failed: ${failed.join(", ")}`, code: "LIVENESS_FAILED", details: { checks } };
    }, { role: "public", detail: { summary: "Database and disk checks; 503 with details when one fails", tags: ["core"] } })
    .get("/metrics", async ({ set }) => {
      set.headers["content-type"] = parts.metrics.registry.contentType;
      return parts.metrics.expose();
    }, { role: "public", detail: { summary: "Prometheus metrics (text exposition)", tags: ["core"] } })
    .ws("/api/v1/ws", {
      role: "viewer",
      query: t.Object({ types: t.Optional(t.String({ description: "comma-separated event types or patterns (a.*); default all" })) }),
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

  const seen = new Map<string, string>(app.routes.map((r) => [`${r.method} ${r.path}`, "core"]));
  const routesByPlugin = new Map<string, string[]>();
  for (const instance of plugins) {
    const keys: string[] = [];
    for (const sub of pluginApps(instance, roles)) {
      for (const route of sub.routes) {
        const key = `${route.method} ${route.path}`;
        const owner = seen.get(key);
        if (owner) throw Errors.PLUGIN_REGISTRATION_CONFLICT(["Route", key, owner]);
        seen.set(key, instance.plugin);
        keys.push(key);
      }
      app.use(sub);
    }
    routesByPlugin.set(instance.plugin, keys);
  }
  return { app, routesByPlugin };
}

/** WebSocket subscriptions by connection id, shared across rebuilt apps so closes always unsubscribe. */
const sockets = new Map<string, () => void>();

/** Runs a plugin's route registrars on fresh sub-apps and checks that each route declares a role. */
function pluginApps(instance: PluginInstance, roles: ReturnType<typeof rolesPlugin>): AnyElysia[] {
  return instance.routeRegistrars.map(({ register, prefix }) => {
    const sub = register(new Elysia({ prefix, tags: [instance.plugin] }).use(roles) as unknown as RolesApp);
    for (const route of sub.routes) {
      const detail = route.hooks?.detail as Record<string, unknown> | undefined;
      if (!detail?.[ROLE_EXTENSION]) throw Errors.PLUGIN_ROUTE_WITHOUT_ROLE([route.method, route.path]);
    }
    return sub;
  });
}

export { assertRole };
