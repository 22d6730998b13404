/** bench/reload: rounds of 100 reloads of a plugin while clients keep sending requests. Goals: 0 failed, p99 < 50 ms, RSS growth < 5 MB per 100 reloads. */
import { join } from "node:path";
import { FIXTURE_PLUGINS, startGantry } from "../test/helpers.ts";
import { loadLoop, mb, percentile, round } from "./lib.ts";

const RELOADS = Number(process.env.RELOADS ?? 100);
const g = await startGantry({ config: { log: { level: "warn", requests: false }, rate_limit: { enabled: false } } });
await g.gantry.host.install(join(FIXTURE_PLUGINS, "hello"));

const settledRss = async () => {
  Bun.gc(true);
  await Bun.sleep(100);
  Bun.gc(true);
  return process.memoryUsage().rss;
};

// Rounds of RELOADS reloads under load. The first round also pays for warming the allocator and
// JIT (Elysia compiles each rebuilt app); later rounds show whether memory keeps growing (a leak).
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const rssStart = await settledRss();
const rssAfterRound: number[] = [];
const load = loadLoop(`${g.url}/api/v1/hello/greeting`, 8);
const durations: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < RELOADS; i++) {
    const started = performance.now();
    await g.gantry.host.reload("hello");
    durations.push(performance.now() - started);
    await Bun.sleep(5);
  }
  rssAfterRound.push(await settledRss());
}
load.stop();
const traffic = await load.done;
await g.stop();
const rssBefore = rssAfterRound.at(-2) ?? rssStart;
const rssAfter = rssAfterRound.at(-1)!;

const p99 = percentile(durations, 99);
console.log(JSON.stringify({
  bench: "reload",
  reloads: RELOADS * ROUNDS,
  reload_p50_ms: round(percentile(durations, 50)),
  reload_p99_ms: round(p99),
  requests_ok: traffic.ok,
  requests_failed: traffic.failed,
  rss_start_mb: mb(rssStart),
  rss_after_each_round_mb: rssAfterRound.map(mb),
  rss_growth_first_round_mb: mb(rssAfterRound[0]! - rssStart),
  rss_growth_last_round_mb: mb(rssAfter - rssBefore),
  goals: { failed_zero: traffic.failed === 0, p99_under_50ms: p99 < 50, rss_growth_last_100_under_5mb: rssAfter - rssBefore < 5 * 1024 * 1024 },
}, null, 2));
