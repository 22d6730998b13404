/** Builds the root Elysia app: request ids, error shapes, metrics, core routes, and every active plugin's routes. */
import { randomUUID } from "node:crypto";
import { Elysia, type AnyElysia } from "elysia";
import { openapi } from "@elysiajs/openapi";
import type { Identity } from "../auth/identity.ts";
import type { RateClass } from "./rate-limit.ts";
import type { CorsPolicy } from "./cors.ts";
import { capErrorBody, Errors, GantryError, messageOf } from "../kernel/errors.ts";
import type { Logger } from "../kernel/logger.ts";
import type { MetricsRegistry } from "../kernel/metrics.ts";
import type { PluginInstance } from "../kernel/plugin-instance.ts";
import { nestedDeeperThan } from "./json-depth.ts";
import { finishOpenApi } from "./openapi-finish.ts";
import { RATE_EXTENSION, ROLE_EXTENSION, assertRole, rolesPlugin, type RoleChecks, type RolesApp, type RouteRole } from "../auth/roles.ts";
import { DIRECT_EXTENSION, directRoute, type DirectHandler, type RequestSteps } from "./direct-routes.ts";
import { pathOfUrl } from "./server.ts";
import { DOC_PATHS, docsPages } from "./docs-pages.ts";
import pkg from "../../package.json" with { type: "json" };

export interface AppParts {
  log: Logger;
  metrics: MetricsRegistry;
  auth: { identify(request: Request): Promise<Identity | undefined>; isInternal(request: Request): boolean };
  /** Rate limiting and audit; absent in apps built without them. */
  guards?: RequestGuards;
  /** The client's address (for rate limits and the audit log). */
  clientIp(request: Request): string | null;
  /** Core's own route groups (health, auth, ...). */
  coreRoutes: ((app: RolesApp) => AnyElysia)[];
  /** Read on every request; the object may be replaced when the config reloads. */
  limits: () => HttpLimits;
}

export interface RouteInfo {
  role: string;
  rate: RateClass | "none";
  /** The route answers its own errors (a source document fixes their shape, as OpenAI's does for /v1). */
  ownErrors: boolean;
}

/** Set in a route's `detail` when its plugin answers that route's errors with a local onError. */
export const OWN_ERRORS_EXTENSION = "x-gantry-own-errors";

export interface AuditContext {
  request: Request;
  route: string;
  role: string;
  params: Record<string, string>;
  status: number;
  requestId: string | null;
  /** The client address, looked up only for requests that are recorded. */
  ip: () => string | null;
}

export interface RequestGuards {
  /** Whether rate limiting is on (read when the app is built: off, routes carry no rate-limit check). */
  rateLimited(): boolean;
  /** Counts the request; sets X-RateLimit-* headers; throws RATE_LIMITED (429) when over the limit. Undefined for an exempt path. */
  rateLimit(request: Request, path: string, rateClass: RateClass, ip: () => string, identify: (r: Request) => Promise<Identity | undefined>, set: { headers: Record<string, unknown> }): Promise<void> | undefined;
  /** Whether a write to a route of this role is recorded (checked before anything is gathered for the record). */
  audited(role: string): boolean;
  /** Records admin and operator actions after the response. */
  audit(context: AuditContext, identify: (r: Request) => Promise<Identity | undefined>): Promise<void>;
}

function infoOf(route: { hooks?: { detail?: unknown } }): RouteInfo {
  const detail = (route.hooks?.detail ?? {}) as Record<string, unknown>;
  return { role: String(detail[ROLE_EXTENSION] ?? "public"), rate: (detail[RATE_EXTENSION] as RateClass | "none" | undefined) ?? "regular", ownErrors: detail[OWN_ERRORS_EXTENSION] === true };
}

export interface HttpLimits {
  bodyLimitBytes: number;
  headerLimitBytes: number;
  /** Deepest nesting accepted in a JSON body. */
  maxJsonDepth: number;
  minFreeDiskBytes: number;
  logRequests: boolean;
  /** Paths whose request lines are logged at debug, not info (probes and scrapes). */
  quietPaths: Set<string>;
  /** null: CORS off. */
  cors: CorsPolicy | null;
  /** /docs, /redoc and /openapi.json without a credential. */
  publicDocs: boolean;
}

interface RequestMeta {
  id: string;
  start: number;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The query parameter whose value failed a check: Elysia checks a numeric query parameter on its
 * own and reports only the value ("property"), so the name is found by that value.
 */
function queryParameterHolding(url: string, value: unknown): string | undefined {
  const names = [...new URL(url).searchParams].filter(([, raw]) => raw === String(value) || Number(raw) === value).map(([name]) => name);
  return names.length === 1 ? names[0] : undefined;
}

/** Errors Elysia raises itself, mapped to gantry's codes and statuses. */
function toErrorResponse(code: string | number, error: unknown, request: Request, requestId: string, log: Logger): [number, Record<string, unknown>] {
  if (error instanceof GantryError) return [error.status, error.responseBody()];
  const method = request.method;
  const path = pathOfUrl(request.url);
  switch (code) {
    case "VALIDATION": {
      const v = error as { type?: string; value?: unknown; all?: { path: string; message: string; summary?: string }[] };
      const queryField = v.type === "property" ? queryParameterHolding(request.url, v.value) : undefined;
      const where = queryField ? "query" : v.type ?? "request";
      const details = (v.all ?? []).map((e) => ({ in: where, field: e.path.replace(/^\//, "").replaceAll("/", ".") || queryField || where, message: e.summary ?? e.message }));
      const first = details[0];
      const summary = first ? `${where} field '${first.field}': ${first.message}` : where;
      return [400, { ...Errors.VALIDATION_FAILED([summary]).toJSON(), details }];
    }
    case "NOT_FOUND":
      return [404, Errors.NOT_FOUND([method, path]).toJSON()];
    case "PARSE": {
      // A chunked body past the limit fails while being read (see RoutingServer): 413, not 400.
      const cause = (error as { cause?: unknown }).cause;
      if (cause instanceof GantryError) return [cause.status, cause.responseBody()];
      return [400, Errors.BAD_REQUEST(["Request body could not be parsed; check Content-Type and the body's syntax"]).toJSON()];
    }
    case "INVALID_COOKIE_SIGNATURE":
    case "INVALID_FILE_TYPE":
      return [400, Errors.BAD_REQUEST([messageOf(error)]).toJSON()];
    default: {
      const status = (error as { status?: unknown })?.status;
      if (typeof status === "number" && status >= 400 && status < 500) return [status, Errors.REQUEST_REJECTED([messageOf(error)], { status }).toJSON()];
      log.error({ err: error, reqId: requestId, method, path }, "unhandled error");
      return [500, Errors.INTERNAL([requestId]).toJSON()];
    }
  }
}

/**
 * The root app with core routes and the given plugins' routes, and the routes core serves directly
 * (by "METHOD /path"); throws if a plugin's routes are invalid.
 */
export function buildRootApp(parts: AppParts, plugins: PluginInstance[]): { app: AnyElysia; routesByPlugin: Map<string, string[]>; direct: Map<string, DirectHandler> } {
  const meta = new WeakMap<Request, RequestMeta>();
  const identities = new WeakMap<Request, Promise<Identity | undefined>>();
  const identify = (request: Request): Promise<Identity | undefined> => {
    let identity = identities.get(request);
    if (!identity) {
      identity = parts.auth.identify(request);
      identities.set(request, identity);
    }
    return identity;
  };
  const checks: RoleChecks = {
    identify,
    isInternal: (request) => parts.auth.isInternal(request),
    rateLimit: (context, rateClass) => parts.guards?.rateLimit(context.request, context.path, rateClass, () => parts.clientIp(context.request) ?? "unknown", identify, context.set),
    rateLimited: parts.guards?.rateLimited() ?? false,
  };
  const roles = rolesPlugin(checks);
  // Each route's role and rate class, read by the rate-limit and audit hooks (filled once the routes exist).
  const routeInfo = new Map<string, RouteInfo>();
  const pathOf = (request: Request) => pathOfUrl(request.url);

  // What every request goes through: the framework's hooks below call these, and so do direct routes.
  const steps: RequestSteps = {
    begin(request, set) {
      const limits = parts.limits();
      const cors = limits.cors;
      if (cors) {
        // Before routing and auth: a browser's preflight carries no credential.
        const preflight = cors.preflight(request);
        if (preflight) return preflight;
        const origin = request.headers.get("origin");
        if (origin) Object.assign(set.headers, cors.responseHeaders(origin));
      }
      const given = request.headers.get("x-request-id");
      const id = given && REQUEST_ID.test(given) ? given : randomUUID();
      meta.set(request, { id, start: performance.now() });
      set.headers["x-request-id"] = id;
      const length = Number(request.headers.get("content-length") ?? 0);
      const limit = limits.bodyLimitBytes;
      if (length > limit) {
        set.status = 413;
        return Errors.PAYLOAD_TOO_LARGE([limit]).toJSON();
      }
      return undefined;
    },
    errorBody(code, error, request, set) {
      const requestId = meta.get(request)?.id ?? "unknown";
      const [status, body] = toErrorResponse(code, error, request, requestId, parts.log);
      set.status = status;
      set.headers["x-request-id"] = requestId;
      // Any error that says when to come back (429, 503 busy) says it in the standard header too.
      const retryAfter = (body.details as { retry_after_s?: unknown } | null | undefined)?.retry_after_s;
      if (typeof retryAfter === "number") set.headers["retry-after"] = String(retryAfter);
      return capErrorBody(body);
    },
    finish(request, route, path, status, params) {
      const m = meta.get(request);
      if (!m) return;
      const seconds = (performance.now() - m.start) / 1000;
      parts.metrics.observeRequest(request.method, route || "unmatched", status, seconds);
      if (parts.guards && !READ_METHODS.has(request.method)) {
        const info = routeInfo.get(`${request.method} ${route}`);
        if (info && parts.guards.audited(info.role)) {
          parts.guards.audit({ request, route, role: info.role, params, status, requestId: m.id, ip: () => parts.clientIp(request) }, identify)
            .catch((error) => parts.log.error({ reqId: m.id, err: messageOf(error) }, "audit record failed"));
        }
      }
      const limits = parts.limits();
      if (!limits.logRequests) return;
      const level = limits.quietPaths.has(path) && status < 400 ? "debug" : "info";
      if (parts.log.isLevelEnabled(level)) parts.log[level]({ reqId: m.id, method: request.method, path, status, ms: Math.round(seconds * 1e5) / 100 }, "request");
    },
  };

  const finished = new WeakMap<object, Record<string, unknown>>();
  const app = new Elysia({ normalize: true })
    // Registered before the openapi plugin so it applies to its spec route: the generator's document, finished.
    .onAfterHandle({ as: "global" }, ({ path, response }) => {
      if (path !== "/openapi.json" || !response || typeof response !== "object" || response instanceof Response) return;
      let doc = finished.get(response);
      if (!doc) finished.set(response, (doc = finishOpenApi(response as Record<string, unknown>)));
      return doc;
    })
    .use(openapi({
      path: "/docs",
      specPath: "/openapi.json",
      provider: null, // the /docs and /redoc pages are gantry's own (docs-pages.ts), served offline
      documentation: {
        info: { title: "gantry", version: pkg.version, description: pkg.description },
        components: { securitySchemes: { apiKey: { type: "http", scheme: "bearer", description: "API key (also accepted as X-API-Key or ?api_key=)" } } },
      },
    }))
    .onRequest(async ({ request, set }) => {
      const early = steps.begin(request, set);
      if (early !== undefined) return early;
      // The spec and its pages: viewer, unless server.public_docs (the spec route is the OpenAPI plugin's, without the role macro).
      if (!parts.limits().publicDocs && DOC_PATHS.has(pathOf(request))) assertRole(await identify(request), "viewer");
    })
    // Before validation: the validator's error mapping recurses, and a body 5,000 levels deep overflowed it.
    .onTransform({ as: "global" }, ({ body }) => {
      const limit = parts.limits().maxJsonDepth;
      if (nestedDeeperThan(body, limit)) throw Errors.JSON_TOO_DEEP([limit]);
    })
    .onError({ as: "global" }, ({ code, error, request, set, route }) => {
      // The route's own onError answers (routes registered with .all are keyed ALL).
      if ((routeInfo.get(`${request.method} ${route}`) ?? routeInfo.get(`ALL ${route}`))?.ownErrors) return;
      return steps.errorBody(code, error, request, set);
    })
    // Destructured for the same reason as the roles transform: a whole context costs every route a cookie parse.
    .onAfterResponse({ as: "global" }, ({ request, route, path, set, params, responseValue }) => {
      // A returned Response carries its own status (set.status stays 200 then).
      const status = responseValue instanceof Response ? responseValue.status : typeof set.status === "number" ? set.status : 200;
      steps.finish(request, route, path, status, params as Record<string, string>);
    })
    .use(roles);
  for (const register of [...parts.coreRoutes, docsPages()]) app.use(register(new Elysia().use(roles) as unknown as RolesApp));

  const direct = new Map<string, DirectHandler>();
  const register = (route: AnyElysia["routes"][number], info: RouteInfo) => {
    const key = `${route.method} ${route.path}`;
    routeInfo.set(key, info);
    if ((route.hooks?.detail as Record<string, unknown> | undefined)?.[DIRECT_EXTENSION]) direct.set(key, directRoute(route, { min: info.role as RouteRole, rateLimit: info.rate }, checks, steps, info.ownErrors));
  };
  const seen = new Map<string, string>(app.routes.map((r) => [`${r.method} ${r.path}`, "core"]));
  for (const route of app.routes) register(route, infoOf(route));
  const routesByPlugin = new Map<string, string[]>();
  for (const instance of plugins) {
    const keys: string[] = [];
    for (const sub of pluginApps(instance, roles)) {
      for (const route of sub.routes) {
        const key = `${route.method} ${route.path}`;
        const owner = seen.get(key);
        if (owner) throw Errors.PLUGIN_REGISTRATION_CONFLICT(["Route", key, owner]);
        seen.set(key, instance.plugin);
        register(route, infoOf(route));
        keys.push(key);
      }
      app.use(sub);
    }
    routesByPlugin.set(instance.plugin, keys);
  }
  return { app, routesByPlugin, direct };
}


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
