import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BUILTIN_PLUGINS, startGantry, waitFor, type TestGantry } from "../helpers.ts";

const INTERNAL_KEY = "cache-test-internal-key";
let g: TestGantry;
let site: ReturnType<typeof Bun.serve>;
let hits = 0;
const hitsByPath = new Map<string, number>();

// The sample site: its content appears only when JavaScript runs; one page never gets ready.
const page = (body: string) => new Response(`<!doctype html><html><body>${body}</body></html>`, { headers: { "content-type": "text/html" } });
beforeAll(async () => {
  site = Bun.serve({
    port: 0,
    fetch(request) {
      hits++;
      const path = new URL(request.url).pathname;
      hitsByPath.set(path, (hitsByPath.get(path) ?? 0) + 1);
      if (path === "/never-ready") return page("<script>window.prerenderReady = false</script>");
      if (path === "/pixel.png") return new Response(new Uint8Array(68), { headers: { "content-type": "image/png" } });
      if (path === "/third.js") return new Response("window.third = true", { headers: { "content-type": "text/javascript" } });
      // Its own image, and a script from another origin (localhost is not 127.0.0.1 to the browser).
      if (path.startsWith("/with-assets")) return page(`<img src="/pixel.png?${path}"><script src="http://localhost:${site.port}/third.js"></script><p id="t"></p><script>document.getElementById("t").textContent = "third party " + (window.third ? "ran" : "blocked")</script>`);
      return page(`<div id="app">loading</div><script>window.prerenderReady = false; setTimeout(() => {
        document.getElementById("app").textContent = "rendered " + location.pathname + " for " + navigator.userAgent + " at " + innerWidth;
        window.prerenderReady = true; }, 30)</script>`);
    },
  });
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      auth: { internal_key: INTERNAL_KEY },
      // The sample site is on loopback: the outbound guard lets Chromium reach that port only (localhost is its third-party origin).
      outbound: { allow: [`127.0.0.1:${site.port}`, `localhost:${site.port}`] },
      rate_limit: { enabled: false },
      plugin: {
        cache: {
          tabs: 4, reserve_online_percent: 30, tick_s: 0.2, render_timeout_ms: 1500, max_urls: 50, scheduler_control_api: true,
          hosts: [
            { id: 1, name: "sample", origins: [`http://127.0.0.1:${site.port}`], autorecache_s: 3600, dimensions: [{ id: 1, name: "desktop", width: 1280, height: 800, user_agent: "DesktopBot/1.0" }, { id: 2, name: "wide", width: 1600, height: 900, user_agent: "WideBot/1.0" }] },
            { id: 2, name: "shop", origins: ["https://shop.example"], dimensions: [{ id: 1, name: "desktop", width: 1280, height: 800, user_agent: "DesktopBot/1.0" }] },
            { id: 3, name: "strict", origins: [`http://127.0.0.1:${site.port}`], block_resource_types: [], block_third_party: true, dimensions: [{ id: 1, name: "desktop", width: 1280, height: 800, user_agent: "DesktopBot/1.0" }] },
          ],
        },
      },
    },
  });
});
afterAll(async () => {
  await g.stop();
  site.stop();
});

const internal = (path: string, body?: unknown, method = body === undefined ? "GET" : "POST") =>
  fetch(`${g.url}${path}`, { method, headers: { "x-internal-auth": INTERNAL_KEY, "content-type": "application/json" }, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) });
const url = (path: string) => `http://127.0.0.1:${site.port}${path}`;
const pageOf = (path: string, dimension = 1) => internal(`/internal/cache/page?host_id=1&dimension_id=${dimension}&url=${encodeURIComponent(url(path))}`);
const status = async () => (await internal("/status")).json();

describe("recache", () => {
  test("queued URLs are rendered by headless Chromium for every dimension, then served from the cache", async () => {
    const res = await internal("/internal/cache/recache", { host_id: 1, urls: [url("/a"), url("/b")], priority: "high" });
    expect(await res.json()).toEqual({ status: "ok", data: { host_id: 1, urls_count: 2, dimension_ids_count: 2, entries_enqueued: 4, priority: "high" } });
    await waitFor(async () => (await status()).queues["1"]?.high.total === 0 && (await status()).internal_queue.size === 0, 15_000, "the queue to drain");
    const cached = await pageOf("/a", 2);
    expect(cached.headers.get("x-cache")).toBe("HIT");
    const html = await cached.text();
    expect(html).toContain("rendered /a for WideBot/1.0 at 1600"); // JavaScript ran, with the dimension's UA and viewport
    expect((await status()).queues["1"].autorecache.total).toBe(4); // rendered pages come back after autorecache_s
  });

  test("a page not cached yet is rendered at once on the online tabs; invalidate drops it", async () => {
    const first = await pageOf("/c");
    expect(first.headers.get("x-cache")).toBe("MISS");
    expect(await first.text()).toContain("rendered /c for DesktopBot/1.0");
    const before = hits;
    const second = await pageOf("/c");
    expect([second.headers.get("x-cache"), hits]).toEqual(["HIT", before]);
    const gone = await (await internal("/internal/cache/invalidate", { host_id: 1, urls: [url("/c")], dimension_ids: [] })).json();
    expect(gone).toEqual({ status: "ok", data: { host_id: 1, urls_count: 1, dimension_ids_count: 2, entries_invalidated: 1 } });
    expect((await pageOf("/c")).headers.get("x-cache")).toBe("MISS");
  });

  test("a page that never gets ready times out (502) and the tab is replaced", async () => {
    const res = await pageOf("/never-ready");
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({ status: "error", message: "render failed: render timed out after 1500 ms" });
    expect((await pageOf("/after-timeout")).status).toBe(200);
    expect(existsSync(join(g.dataDir, "plugins", "cache", "pages", "1", "1"))).toBe(true);
  });
});

describe("request blocking", () => {
  test("images, media and fonts are not loaded by default; a host can load them and skip other origins instead", async () => {
    hitsByPath.clear();
    const byDefault = await pageOf("/with-assets-1");
    expect(byDefault.status).toBe(200);
    expect(await byDefault.text()).toContain("third party ran");
    expect([hitsByPath.get("/pixel.png") ?? 0, hitsByPath.get("/third.js") ?? 0]).toEqual([0, 1]);
    hitsByPath.clear();
    const strict = await internal(`/internal/cache/page?host_id=3&dimension_id=1&url=${encodeURIComponent(url("/with-assets-2"))}`);
    expect(await strict.text()).toContain("third party blocked");
    expect([hitsByPath.get("/pixel.png") ?? 0, hitsByPath.get("/third.js") ?? 0]).toEqual([1, 0]);
  });
});

describe("status and scheduler control", () => {
  test("status shows the daemon, the internal queue, render capacity with the online reserve, and the queues", async () => {
    await waitFor(async () => (await status()).daemon.last_tick !== null, 5000, "the scheduler's first tick");
    const s = await status();
    expect(s.daemon).toMatchObject({ daemon_id: "gantry-cache", paused: false });
    // The scheduler sleeps while it has nothing to do, so last_tick may be old: it has ticked, and its task is healthy.
    expect(Date.parse(s.daemon.last_tick)).not.toBeNaN();
    expect(await (await g.api("/periodic-threads/cache-scheduler")).json()).toMatchObject({ is_active: true, last_error: null });
    expect(s.internal_queue).toMatchObject({ max_size: 1000 });
    expect(s.rs_capacity).toMatchObject({ reserved_for_online: 2 });
    expect(s.rs_capacity.available_for_recache).toBe(Math.max(0, s.rs_capacity.total_free_tabs - 2));
    expect(Object.keys(s.queues["1"])).toEqual(["high", "normal", "autorecache"]);
  });

  test("pause holds the queue; resume drains it", async () => {
    expect(await (await internal("/internal/scheduler/pause", {})).json()).toEqual({ status: "ok", message: "Scheduler paused" });
    await internal("/internal/cache/recache", { host_id: 1, urls: [url("/held")], dimension_ids: [1], priority: "normal" });
    await Bun.sleep(700);
    expect((await status()).queues["1"].normal).toEqual({ total: 1, due_now: 1 });
    expect((await status()).daemon.paused).toBe(true);
    expect(await (await internal("/internal/scheduler/resume", {})).json()).toEqual({ status: "ok", message: "Scheduler resumed" });
    await waitFor(async () => (await status()).queues["1"].normal.total === 0, 10_000, "the held entry to render");
    await waitFor(async () => (await pageOf("/held")).headers.get("x-cache") === "HIT", 5000, "the held page in the cache");
  });
});

describe("errors in seed 001's shape", () => {
  test("bad requests are 400 {status: error, message}; no internal key is refused", async () => {
    const cases: [unknown, string][] = [
      [{ host_id: 9, urls: [url("/x")], priority: "high" }, "host not found: 9"],
      [{ host_id: 1, urls: [url("/x")], dimension_ids: [7], priority: "high" }, "dimension not configured for host 1: 7"],
      [{ host_id: 1, urls: [url("/x")], priority: "urgent" }, "invalid request: priority"],
      [{ host_id: 1, urls: [], priority: "high" }, "invalid request: urls"],
      [{ host_id: 1, urls: Array.from({ length: 51 }, (_, i) => url(`/${i}`)), priority: "high" }, "invalid request: urls"],
      [{ urls: [url("/x")], priority: "high" }, "invalid request: host_id"],
      ["{not json", "invalid JSON"],
      [{ host_id: 1, urls: ["file:///etc/passwd"], priority: "high" }, "url not allowed: file:///etc/passwd (only http and https URLs are rendered)"],
      [{ host_id: 2, urls: ["http://169.254.169.254/latest/meta-data"], priority: "high" }, "url not allowed: http://169.254.169.254/latest/meta-data (host 2 serves https://shop.example)"],
    ];
    for (const [body, message] of cases) {
      const res = await internal("/internal/cache/recache", body);
      expect(res.status).toBe(400);
      const answer = await res.json();
      expect(answer.status).toBe("error");
      expect(answer.message).toStartWith(message);
    }
    const filePage = await internal(`/internal/cache/page?host_id=1&dimension_id=1&url=${encodeURIComponent("file:///etc/hostname")}`);
    expect([filePage.status, (await filePage.json()).message]).toEqual([400, "url not allowed: file:///etc/hostname (only http and https URLs are rendered)"]);
    const anonymous = await fetch(`${g.url}/internal/cache/recache`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(anonymous.status).toBe(401);
    const viewer = (await g.gantry.security.keys.create("cache-viewer", "viewer")).key;
    const withViewerKey = await fetch(`${g.url}/status`, { headers: { authorization: `Bearer ${viewer}` } });
    expect(withViewerKey.status).toBe(403); // internal routes take X-Internal-Auth (or an admin)
  });

  test("scheduler control is 403 unless enabled", async () => {
    const plain = await startGantry({ builtins: BUILTIN_PLUGINS, config: { auth: { internal_key: INTERNAL_KEY } } });
    try {
      const res = await fetch(`${plain.url}/internal/scheduler/pause`, { method: "POST", headers: { "x-internal-auth": INTERNAL_KEY } });
      expect([res.status, await res.json()]).toEqual([403, { status: "error", message: "scheduler control API is not enabled (plugin.cache.scheduler_control_api)" }]);
    } finally {
      await plain.stop();
    }
  });
});
