/**
 * bench/sandbox: fresh sandbox + trivial script p50/p99 (goal p50 < 5 ms), throughput of 1,000
 * sequential runs, RSS before/after them (no leak), deadline precision for 100 ms and 1,000 ms.
 * Measured through the public entry point (worker + fresh QuickJS instance per run) and, for
 * reference, the engine alone in this thread.
 */
import { runInThisThread } from "../sandbox/engine.ts";
import { closeSandbox, runScript } from "../sandbox/index.ts";
import { mb, percentile, round, sequentialTimes } from "./lib.ts";

const RUNS = Number(process.env.RUNS ?? 1000);

const timed = (fn: () => Promise<unknown>, n: number) => sequentialTimes(n, fn);

const settledRss = async () => {
  Bun.gc(true);
  await Bun.sleep(200);
  Bun.gc(true);
  return process.memoryUsage().rss;
};

await timed(() => runScript("1 + 1"), 50); // warm up (worker start, wasm compile)
const rssBefore = await settledRss();
const started = performance.now();
const times = await timed(() => runScript("1 + 1"), RUNS);
const seconds = (performance.now() - started) / 1000;
const rssAfter = await settledRss();
const engineTimes = await timed(() => runInThisThread("1 + 1"), 200);

const deadline = async (ms: number) => {
  const samples = await timed(() => runScript("while (true) {}", { timeoutMs: ms }), 5);
  return { limit_ms: ms, p50_ms: round(percentile(samples, 50), 1), max_ms: round(Math.max(...samples), 1) };
};
const precision = [await deadline(100), await deadline(1000)];
closeSandbox();

console.log(JSON.stringify({
  bench: "sandbox",
  runs: RUNS,
  trivial_p50_ms: round(percentile(times, 50)),
  trivial_p99_ms: round(percentile(times, 99)),
  runs_per_second: round(RUNS / seconds, 0),
  engine_only_p50_ms: round(percentile(engineTimes, 50)),
  engine_only_p99_ms: round(percentile(engineTimes, 99)),
  rss_before_mb: mb(rssBefore),
  rss_after_mb: mb(rssAfter),
  rss_growth_mb: mb(rssAfter - rssBefore),
  deadline_precision: precision,
  goals: { p50_under_5ms: percentile(times, 50) < 5 },
}, null, 2));
