/** A reload of the cache plugin keeps its Chromium and tab pool (no relaunch) and the queue keeps draining; disable stops Chromium. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BUILTIN_PLUGINS, json, liveGroupMembers, running, startGantry, waitFor, type TestGantry } from "../helpers.ts";

const INTERNAL_KEY = "cache-reload-internal-key";
let g: TestGantry;
let site: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  // Pages that get ready 150 ms after load: renders are in flight when the plugin reloads.
  site = Bun.serve({
    port: 0,
    fetch: (request) => new Response(`<!doctype html><html><body><p id="p">loading</p><script>window.prerenderReady = false; setTimeout(() => {
      document.getElementById("p").textContent = "rendered " + location.pathname; window.prerenderReady = true; }, 150)</script></body></html>`, { headers: { "content-type": "text/html" } }),
  });
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      auth: { internal_key: INTERNAL_KEY },
      outbound: { allow: [`127.0.0.1:${site.port}`] }, // the stand-in site is on loopback
      rate_limit: { enabled: false },
      plugins: { disabled: ["mcp", "agent", "batch", "cron", "instances", "scripts"] },
      plugin: { cache: { tabs: 2, reserve_online_percent: 0, tick_s: 0.1, render_timeout_ms: 3000, hosts: [{ id: 1, name: "site", origins: [`http://127.0.0.1:${site.port}`], dimensions: [{ id: 1, name: "desktop", width: 1024, height: 700, user_agent: "Bot/1.0" }] }] } },
    },
  });
});
afterAll(async () => {
  await g.stop();
  site.stop();
});

const internal = (path: string, body?: unknown) =>
  fetch(`${g.url}${path}`, { method: body === undefined ? "GET" : "POST", headers: { "x-internal-auth": INTERNAL_KEY, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
const chromiumPids = async () => [...(await (await g.api("/threads?name=cache:chromium")).text()).matchAll(/Thread ID: (\d+)/g)].map((m) => Number(m[1]));

describe("cache across a reload", () => {
  test("no browser relaunch; queued entries still drain; disable stops Chromium", async () => {
    const urls = Array.from({ length: 12 }, (_, i) => `http://127.0.0.1:${site.port}/p${i}`);
    expect((await internal("/internal/cache/recache", { host_id: 1, urls, priority: "normal" })).status).toBe(200);
    await waitFor(async () => (await chromiumPids()).length === 1, 15_000, "Chromium to launch and be listed as the cache plugin's");
    const [chromium] = await chromiumPids();
    await waitFor(async () => (await (await internal("/status")).json()).internal_queue.size > 0, 5000, "renders in flight");
    expect((await g.api("/api/v1/plugins/cache/reload", json("POST"))).status).toBe(200);
    expect((await g.api("/api/v1/plugins/cache/reload", json("POST"))).status).toBe(200);

    await waitFor(async () => {
      const status = await (await internal("/status")).json();
      return (status.queues["1"]?.normal.total ?? 0) + (status.queues["1"]?.high.total ?? 0) === 0 && status.internal_queue.size === 0;
    }, 20_000, "the queue to drain after the reloads");
    for (const url of urls) {
      const page = await internal(`/internal/cache/page?host_id=1&dimension_id=1&url=${encodeURIComponent(url)}`);
      expect(page.headers.get("x-cache")).toBe("HIT");
      expect(await page.text()).toContain(`rendered ${new URL(url).pathname}`);
    }
    expect(await chromiumPids()).toEqual([chromium!]); // the same browser served every render
    expect(running(chromium!)).toBe(true);

    expect((await g.api("/api/v1/plugins/cache/disable", json("POST"))).status).toBe(200);
    await waitFor(() => !running(chromium!), 15_000, "Chromium to stop with the plugin");
    await waitFor(() => liveGroupMembers(chromium!).length === 0, 2000, "Chromium's renderers and helpers to stop with it");
  });
});
