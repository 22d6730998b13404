/** bench/reload: 100 reloads of a plugin while clients keep sending requests. Goals: 0 failed, p99 < 50 ms, RSS growth < 5 MB. */
import { join } from "node:path";
import { FIXTURE_PLUGINS, startGantry } from "../test/helpers.ts";
import { loadLoop, mb, percentile, round } from "./lib.ts";

const RELOADS = Number(process.env.RELOADS ?? 100);
const g = await startGantry({ config: { log: { level: "warn", requests: false } } });
await g.gantry.host.install(join(FIXTURE_PLUGINS, "hello"));

// Warm up: a few reloads and requests so one-time costs do not count as growth.
for (let i = 0; i < 10; i++) await g.gantry.host.reload("hello");
Bun.gc(true);
const rssBefore = process.memoryUsage().rss;

const load = loadLoop(`${g.url}/api/v1/hello/greeting`, 8);
const durations: number[] = [];
for (let i = 0; i < RELOADS; i++) {
  const started = performance.now();
  await g.gantry.host.reload("hello");
  durations.push(performance.now() - started);
  await Bun.sleep(5);
}
load.stop();
const traffic = await load.done;
Bun.gc(true);
await Bun.sleep(100);
Bun.gc(true);
const rssAfter = process.memoryUsage().rss;
await g.stop();

const p99 = percentile(durations, 99);
console.log(JSON.stringify({
  bench: "reload",
  reloads: RELOADS,
  reload_p50_ms: round(percentile(durations, 50)),
  reload_p99_ms: round(p99),
  requests_ok: traffic.ok,
  requests_failed: traffic.failed,
  rss_before_mb: mb(rssBefore),
  rss_after_mb: mb(rssAfter),
  rss_growth_mb: mb(rssAfter - rssBefore),
  goals: { failed_zero: traffic.failed === 0, p99_under_50ms: p99 < 50, rss_growth_under_5mb: rssAfter - rssBefore < 5 * 1024 * 1024 },
}, null, 2));
