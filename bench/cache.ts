/**
 * bench/cache: pages rendered per second through the cache daemon's queue (recache uses the tabs
 * beyond the online reserve) against puppeteer-core driving the same Chromium directly with as many
 * tabs, and an online render (cache MISS through the API) against one direct render: same run,
 * same page (its content appears 50 ms after load, then it sets window.prerenderReady).
 */
import { launch, type Page } from "puppeteer-core";
import { percentile, round, spawnGantry } from "./lib.ts";

const PAGES = Number(process.env.PAGES ?? 100);
const TABS = 4;
const RESERVE = 30;
const KEY = "bench-internal-key";
const site = Bun.serve({
  port: 0,
  fetch: (request) => new Response(`<!doctype html><html><body><div id="app">loading</div><script>window.prerenderReady = false;
    setTimeout(() => { document.getElementById("app").textContent = "rendered " + location.pathname; window.prerenderReady = true; }, 50)</script></body></html>`, { headers: { "content-type": "text/html" } }),
});
const url = (i: number | string) => `http://127.0.0.1:${site.port}/page-${i}`;

// Direct: the NOTES-bun recipe without gantry.
const browser = await launch({ executablePath: "/usr/bin/chromium", pipe: true, headless: true, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
const pages: Page[] = await Promise.all(Array.from({ length: TABS }, async () => {
  const page = await browser.newPage();
  await (await page.createCDPSession()).send("Emulation.setFocusEmulationEnabled", { enabled: true });
  return page;
}));
async function renderDirect(page: Page, target: string): Promise<number> {
  const t0 = performance.now();
  await page.goto(target, { waitUntil: "load" });
  await page.waitForFunction("window.prerenderReady === true", { polling: 25 });
  await page.content();
  return performance.now() - t0;
}
async function directRate(tabs: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(pages.slice(0, tabs).map(async (page) => {
    while (next < PAGES) await renderDirect(page, url(`d${tabs}-${next++}`));
  }));
  return PAGES / ((performance.now() - t0) / 1000);
}
await directRate(TABS); // warm-up
const direct4 = await directRate(TABS);
const recacheTabs = TABS - Math.ceil((TABS * RESERVE) / 100);
const directRecacheShare = await directRate(recacheTabs);
const directSingle: number[] = [];
for (let i = 0; i < 30; i++) directSingle.push(await renderDirect(pages[0]!, url(`single-${i}`)));
await browser.close();

// Through gantry.
const hosts = [{ id: 1, name: "bench", origins: [`http://127.0.0.1:${site.port}`], dimensions: [{ id: 1, name: "desktop", width: 1280, height: 800, user_agent: "BenchBot/1.0" }] }];
const server = await spawnGantry({
  GANTRY_AUTH__INTERNAL_KEY: KEY, GANTRY_RATE_LIMIT__ENABLED: "false", GANTRY_LOG__REQUESTS: "false", GANTRY_OUTBOUND__ALLOW: `127.0.0.1:${site.port}`,
  GANTRY_PLUGIN__CACHE__HOSTS: JSON.stringify(hosts), GANTRY_PLUGIN__CACHE__TABS: String(TABS), GANTRY_PLUGIN__CACHE__RESERVE_ONLINE_PERCENT: String(RESERVE), GANTRY_PLUGIN__CACHE__TICK_S: "0.05",
});
const headers = { "x-internal-auth": KEY, "content-type": "application/json" };
const online = async (target: string) => {
  const t0 = performance.now();
  const res = await fetch(`${server.url}/internal/cache/page?host_id=1&dimension_id=1&url=${encodeURIComponent(target)}`, { headers });
  await res.text();
  if (!res.ok) throw new Error(`page: ${res.status}`);
  return performance.now() - t0;
};
await online(url("warm-up")); // launches Chromium
const onlineTimes: number[] = [];
for (let i = 0; i < 30; i++) onlineTimes.push(await online(url(`online-${i}`)));
const status = async () => (await fetch(`${server.url}/status`, { headers })).json();
const t0 = performance.now();
await fetch(`${server.url}/internal/cache/recache`, { method: "POST", headers, body: JSON.stringify({ host_id: 1, urls: Array.from({ length: PAGES }, (_, i) => url(`q-${i}`)), priority: "high" }) });
for (;;) {
  const s = await status();
  if ((s.queues["1"]?.high.total ?? 0) === 0 && s.internal_queue.size === 0) break;
  await Bun.sleep(20);
}
const recacheRate = PAGES / ((performance.now() - t0) / 1000);
await server.stop();
site.stop();

console.log(JSON.stringify({
  bench: "cache",
  pages: PAGES, tabs: TABS, recache_tabs: recacheTabs,
  direct_renders_per_s: { all_tabs: round(direct4, 1), recache_share: round(directRecacheShare, 1) },
  recache_renders_per_s: round(recacheRate, 1),
  recache_vs_direct_same_tabs: round(recacheRate / directRecacheShare, 3),
  online_miss_p50_ms: round(percentile(onlineTimes, 50), 1), direct_single_p50_ms: round(percentile(directSingle, 50), 1),
  online_added_p50_ms: round(percentile(onlineTimes, 50) - percentile(directSingle, 50), 1),
}, null, 2));
