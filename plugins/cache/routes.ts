/** The cache daemon API (X-Internal-Auth), its error shape, and the page endpoint for the edge gateway. */
import { existsSync, readFileSync } from "node:fs";
import type { Static, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { QueryInteger, createError, defineErrors, t, textResponses, type RolesApp } from "gantry/plugin";
import type { CacheStore } from "./cache-store.ts";
import type { CacheDaemon, HostConfig } from "./daemon.ts";
import type { RenderService } from "./render-service.ts";

/** The cache daemon API's error body on the daemon's paths: `{status: "error", message}`. */
const daemonError = <A extends unknown[]>(code: string, status: number, message: (...args: A) => string) =>
  createError(code, status, message, (text) => ({ status: "error", message: text }));

const CacheErrors = defineErrors("cache", {
  INVALID_REQUEST: daemonError("INVALID_REQUEST", 400, (why: string) => why),
  HOST_NOT_FOUND: daemonError("HOST_NOT_FOUND", 400, (id: number) => `host not found: ${id}`),
  URL_NOT_ALLOWED: daemonError("URL_NOT_ALLOWED", 400, (url: string, why: string) => `url not allowed: ${url} (${why})`),
  DIMENSION_NOT_CONFIGURED: daemonError("DIMENSION_NOT_CONFIGURED", 400, (ids: number[], host: number) => `dimension not configured for host ${host}: ${ids.join(", ")}`),
  CONTROL_API_DISABLED: daemonError("CONTROL_API_DISABLED", 403, () => "scheduler control API is not enabled (plugin.cache.scheduler_control_api)"),
  RENDER_FAILED: daemonError("RENDER_FAILED", 502, (why: string) => `render failed: ${why}`),
});

/**
 * The JSON body checked against `schema`, failing in the cache daemon API's shape: the routes read text, since
 * Elysia's own parsing and validation would answer in gantry's shape before the handler runs.
 */
function readBody<T extends TSchema>(text: unknown, schema: T): Static<T> {
  let body: unknown;
  try {
    body = JSON.parse(typeof text === "string" ? text : "");
  } catch {
    throw CacheErrors.INVALID_REQUEST(["invalid JSON"]);
  }
  const problems = [...Value.Errors(schema, body)].slice(0, 5).map((e) => `${e.path.replace(/^\//, "").replaceAll("/", ".") || "body"}: ${e.message}`);
  if (problems.length > 0) throw CacheErrors.INVALID_REQUEST([`invalid request: ${problems.join("; ")}`]);
  return body as Static<T>;
}
const jsonBody = (schema: TSchema) => ({ required: true, content: { "application/json": { schema: schema as unknown as Record<string, unknown> } } });

export interface CacheRouteParts {
  store: CacheStore;
  daemon: CacheDaemon;
  renderer: RenderService;
  settings: () => { daemonId: string; queueMaxSize: number; schedulerControlApi: boolean; maxUrls: number };
}

const Ok = t.Literal("ok");
const Urls = (max: number) => t.Array(t.String({ minLength: 1, maxLength: 8192 }), { minItems: 1, maxItems: max, description: `URLs (1-${max})` });
const DimensionIds = t.Optional(t.Array(t.Integer({ minimum: 0 }), { maxItems: 1000, description: "empty or absent: every dimension of the host" }));
const SeedError = t.Object({ status: t.Literal("error"), message: t.String() });
const Queue = t.Object({ total: t.Integer(), due_now: t.Integer() });

/** The host and the dimension ids a request names (all of the host's when none). */
function target(daemon: CacheDaemon, hostId: number, dimensionIds: number[] | undefined): { host: HostConfig; dimensions: number[] } {
  const host = daemon.host(hostId);
  if (!host) throw CacheErrors.HOST_NOT_FOUND([hostId]);
  const configured = host.dimensions.map((d) => d.id);
  if (!dimensionIds || dimensionIds.length === 0) return { host, dimensions: configured };
  const unknown = dimensionIds.filter((id) => !configured.includes(id));
  if (unknown.length > 0) throw CacheErrors.DIMENSION_NOT_CONFIGURED([unknown, hostId]);
  return { host, dimensions: [...new Set(dimensionIds)] };
}

/**
 * Only http(s) pages of the host's origins are rendered (a host must list them): Chromium would
 * otherwise fetch file:// or internal addresses for whoever holds the internal key, and the page
 * endpoint would hand them out. Every request the page then makes passes the outbound guard too.
 */
function checkUrls(host: HostConfig, urls: string[]): void {
  for (const url of urls) {
    const parsed = URL.canParse(url) ? new URL(url) : null;
    if (!parsed || !/^https?:$/.test(parsed.protocol)) throw CacheErrors.URL_NOT_ALLOWED([url, "only http and https URLs are rendered"]);
    if (!host.origins?.length) throw CacheErrors.URL_NOT_ALLOWED([url, `host ${host.id} lists no origins: set plugin.cache.hosts[].origins to the origins its pages are on`]);
    if (!host.origins.includes(parsed.origin)) throw CacheErrors.URL_NOT_ALLOWED([url, `host ${host.id} serves ${host.origins.join(", ")}`]);
  }
}

export function cacheRoutes(p: CacheRouteParts) {
  const maxUrls = p.settings().maxUrls;
  const RecacheBody = t.Object({ host_id: t.Integer(), urls: Urls(maxUrls), dimension_ids: DimensionIds, priority: t.Union([t.Literal("high"), t.Literal("normal")]) });
  const InvalidateBody = t.Object({ host_id: t.Integer(), urls: Urls(maxUrls), dimension_ids: DimensionIds });
  return (app: RolesApp) =>
    app
      .post("/internal/cache/recache", async ({ body: text }) => {
        const body = readBody(text, RecacheBody);
        const { host, dimensions } = target(p.daemon, body.host_id, body.dimension_ids);
        checkUrls(host, body.urls);
        const enqueued = await p.store.enqueue(host.id, body.urls, dimensions, body.priority);
        return { status: "ok" as const, data: { host_id: host.id, urls_count: body.urls.length, dimension_ids_count: dimensions.length, entries_enqueued: enqueued, priority: body.priority } };
      }, {
        role: "internal", parse: "text",
        response: { 200: t.Object({ status: Ok, data: t.Object({ host_id: t.Integer(), urls_count: t.Integer(), dimension_ids_count: t.Integer(), entries_enqueued: t.Integer(), priority: t.String() }) }), 400: SeedError, 401: SeedError },
        detail: { summary: "Queue URLs for rendering", tags: ["cache"], requestBody: jsonBody(RecacheBody) },
      })
      .post("/internal/cache/invalidate", async ({ body: text }) => {
        const body = readBody(text, InvalidateBody);
        const { host, dimensions } = target(p.daemon, body.host_id, body.dimension_ids);
        const invalidated = await p.store.invalidate(host.id, body.urls, dimensions);
        return { status: "ok" as const, data: { host_id: host.id, urls_count: body.urls.length, dimension_ids_count: dimensions.length, entries_invalidated: invalidated } };
      }, {
        role: "internal", parse: "text",
        response: { 200: t.Object({ status: Ok, data: t.Object({ host_id: t.Integer(), urls_count: t.Integer(), dimension_ids_count: t.Integer(), entries_invalidated: t.Integer() }) }), 400: SeedError, 401: SeedError },
        detail: { summary: "Delete cached pages (rows now, files in the background)", tags: ["cache"], requestBody: jsonBody(InvalidateBody) },
      })
      .get("/status", async () => {
        const { daemonId, queueMaxSize } = p.settings();
        const tabs = p.renderer.freeTabs;
        return {
          daemon: { daemon_id: daemonId, uptime_seconds: Math.round((Date.now() - p.daemon.startedAt.getTime()) / 1000), last_tick: p.daemon.lastTick?.toISOString() ?? null, paused: p.daemon.paused },
          internal_queue: { size: p.daemon.inFlight, max_size: queueMaxSize, capacity_used_percent: Math.round((p.daemon.inFlight / queueMaxSize) * 1000) / 10 },
          rs_capacity: {
            total_free_tabs: tabs, reserved_for_online: p.renderer.reserved, available_for_recache: p.renderer.availableForRecache,
            reservation_percent: tabs === 0 ? 0 : Math.round((p.renderer.reserved / Math.max(tabs, p.renderer.reserved)) * 1000) / 10,
          },
          queues: await p.store.queueStats(),
        };
      }, {
        role: "internal",
        response: t.Object({
          daemon: t.Object({ daemon_id: t.String(), uptime_seconds: t.Integer(), last_tick: t.Union([t.String(), t.Null()]), paused: t.Boolean() }),
          internal_queue: t.Object({ size: t.Integer(), max_size: t.Integer(), capacity_used_percent: t.Number() }),
          rs_capacity: t.Object({ total_free_tabs: t.Integer(), reserved_for_online: t.Integer(), available_for_recache: t.Integer(), reservation_percent: t.Number() }),
          queues: t.Record(t.String(), t.Object({ high: Queue, normal: Queue, autorecache: Queue })),
        }),
        detail: { summary: "Daemon health, queues and render capacity", tags: ["cache"] },
      })
      .post("/internal/scheduler/pause", () => {
        if (!p.settings().schedulerControlApi) throw CacheErrors.CONTROL_API_DISABLED([]);
        p.daemon.pause();
        return { status: "ok" as const, message: "Scheduler paused" };
      }, { role: "internal", response: { 200: t.Object({ status: Ok, message: t.String() }), 403: SeedError }, detail: { summary: "Pause the recache scheduler", tags: ["cache"] } })
      .post("/internal/scheduler/resume", () => {
        if (!p.settings().schedulerControlApi) throw CacheErrors.CONTROL_API_DISABLED([]);
        p.daemon.resume();
        return { status: "ok" as const, message: "Scheduler resumed" };
      }, { role: "internal", response: { 200: t.Object({ status: Ok, message: t.String() }), 403: SeedError }, detail: { summary: "Resume the recache scheduler", tags: ["cache"] } })
      // For the edge gateway: the cached page, or one rendered now on the online tabs.
      .get("/internal/cache/page", async ({ query, set }) => {
        const { host, dimensions } = target(p.daemon, query.host_id, [query.dimension_id]);
        checkUrls(host, [query.url]);
        const cached = await p.store.entry(host.id, query.url, dimensions[0]!);
        if (cached && existsSync(p.store.pagePath(cached))) {
          set.headers["x-cache"] = "HIT";
          set.headers["x-rendered-at"] = cached.renderedAt.toISOString();
          set.headers["content-type"] = "text/html; charset=utf-8";
          return readFileSync(p.store.pagePath(cached), "utf8");
        }
        const dimension = host.dimensions.find((d) => d.id === dimensions[0])!;
        try {
          const { html } = await p.daemon.render(host, query.url, dimension, "online");
          set.headers["x-cache"] = "MISS";
          set.headers["content-type"] = "text/html; charset=utf-8";
          return html;
        } catch (error) {
          throw CacheErrors.RENDER_FAILED([(error as Error).message]);
        }
      }, {
        role: "internal",
        query: t.Object({ host_id: QueryInteger(), url: t.String({ minLength: 1, maxLength: 8192 }), dimension_id: QueryInteger() }),
        detail: {
          summary: "The rendered page for a bot: from the cache (X-Cache: HIT) or rendered now on the online tabs (MISS)",
          tags: ["cache"], responses: textResponses("The page's HTML (text/html)", { 400: "{status: error, message}", 502: "{status: error, message}: the render failed" }),
        },
      });
}
